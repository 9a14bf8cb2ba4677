// `s2snets status RUN`: the job table of a run directory as aligned text.
import { textTable } from '../common/text.js';
import type { RunStatus } from '../scheduler/runner.js';

function metricsText(m: Record<string, unknown>): string {
  return Object.entries(m)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${Number(v).toPrecision(4)}`)
    .join(' ');
}

/** The job table; a done job whose artifact fails verification shows as 'damaged' with the reason. */
export function formatStatus(s: RunStatus): string {
  const rows = s.jobs.map((j) => [
    j.name,
    j.artifactProblem ? 'damaged' : j.interrupted ? 'interrupted' : j.status,
    String(j.attempts),
    j.durationS === null ? '' : `${j.durationS.toFixed(1)}s`,
    j.artifactProblem ? `artifact fails verification: ${j.artifactProblem}` : j.interrupted ? 'its process ended; rerun the command to resume it' : j.error ? j.error.split('\n')[0] : metricsText(j.metrics),
  ]);
  const done = s.jobs.filter((j) => j.status === 'done' && !j.artifactProblem).length;
  const damaged = s.jobs.filter((j) => j.artifactProblem).length;
  const active = s.activeProcess ? `; in use by process ${s.activeProcess.pid} (${s.activeProcess.purpose})` : '';
  const head = `${s.runDir}: ${done}/${s.jobs.length} jobs done${damaged ? `, ${damaged} damaged (rerun the command to recompute them)` : ''}${active}`;
  return `${head}\n\n${textTable(['job', 'status', 'tries', 'time', 'metrics / error'], rows)}`;
}
