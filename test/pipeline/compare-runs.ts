// What two runs of the same experiment must share, whoever ran their jobs: the results (minus
// timestamps and timings) and every artifact's files. Used by the scale-out tests and the soak.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * report/results.json of a run without what legitimately differs between runs.
 * @param runDir the run directory
 * @example
 * assert.deepEqual(comparableResults(a), comparableResults(b));
 */
export function comparableResults(runDir: string): unknown {
  const r = JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8'));
  delete r.createdAt;
  delete r.run.durations;
  return r;
}

/**
 * Every artifact's files with their sizes and sha256, by job key.
 * @param runDir the run directory
 * @example
 * assert.deepEqual(artifactFiles(a), artifactFiles(b));
 */
export function artifactFiles(runDir: string): Record<string, unknown> {
  const dir = join(runDir, 'artifacts');
  return Object.fromEntries(readdirSync(dir).sort().map((k) => [k, JSON.parse(readFileSync(join(dir, k, 'manifest.json'), 'utf8')).files]));
}
