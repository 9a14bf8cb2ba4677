// Terminal rendering of what a command did: the data runExperiment, status and verify return.
import { textTable } from '../common/text.js';
import { formatSummary } from '../report/index.js';
import type { ExperimentResult } from '../commands/run.js';
import type { RunCheck } from '../commands/verify.js';
import { join } from 'node:path';

const pct = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);

/** The summary `demo`, `run` and the stage commands print. */
export function formatExperiment(r: ExperimentResult): string {
  const parts = [`run directory: ${r.runDir} (${r.ran.length} job(s) ran, ${r.reused.length} reused, ${r.wallS.toFixed(0)}s)`];
  if (r.classifiers) {
    parts.push(textTable(['classifier', 'family', 'params', 'top-1', 'top-5'], r.classifiers.map((c) => [c.name, c.family, String(c.parameters), pct(c.top1), pct(c.top5)])));
  }
  if (r.pretrain) parts.push(`A_S reconstruction PSNR on the evaluation set: ${r.pretrain.psnr.toFixed(2)} dB`);
  for (const f of r.finetunes ?? []) parts.push(`${f.classifier}: fine-tuned decoder, final cross-entropy ${f.finalLoss?.toFixed(4) ?? '-'} (${f.dir})`);
  if (r.results && r.reportDir) parts.push(formatSummary(r.results, join(r.reportDir, 'report.html')));
  return parts.join('\n\n');
}

/** `s2snets verify`: a line per problem, or one line saying all is well. */
export function formatCheck(runDir: string, c: RunCheck): string {
  const active = c.activeProcess ? [`${runDir}: in use by process ${c.activeProcess.pid} (${c.activeProcess.purpose}); files it is writing were not counted as leftovers`] : [];
  if (c.problems.length === 0) return [...active, `${runDir}: ok (store integrity, artifacts, manifests and checksums, done jobs, report)`].join('\n');
  return [...active, ...c.problems.map((p) => `${runDir}: ${p}`)].join('\n');
}
