// `s2snets status RUN`: the job table of a run directory as aligned text.
import { textTable } from '../common/text.js';
import type { RunStatus } from '../pipeline/runner.js';

function metricsText(m: Record<string, unknown>): string {
  return Object.entries(m)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${Number(v).toPrecision(4)}`)
    .join(' ');
}

export function formatStatus(s: RunStatus): string {
  const rows = s.jobs.map((j) => [j.name, j.status, String(j.attempts), j.durationS === null ? '' : `${j.durationS.toFixed(1)}s`, j.error ? j.error.split('\n')[0] : metricsText(j.metrics)]);
  const done = s.jobs.filter((j) => j.status === 'done').length;
  return `${s.runDir}: ${done}/${s.jobs.length} jobs done\n\n${textTable(['job', 'status', 'tries', 'time', 'metrics / error'], rows)}`;
}
