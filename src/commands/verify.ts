// `s2snets verify RUN`: checks a run directory at rest, without the lock: the store's integrity,
// every artifact against its manifest, that every done job has its artifact (the one recorded
// when it finished), no leftovers of dead processes, and that report/results.json is what the
// store's evaluation gives.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../scheduler/job-graph.js';
import { isArtifactId, runLayout, verifyArtifact } from '../runs/artifacts.js';
import { interruptedJobNote, liveOwner, openExisting } from '../scheduler/runner.js';
import { damagedRunDbMessage, RunDbError, type RunStore } from '../runs/store.js';
import { reportDir, resultsFromStore } from './publish.js';
import { readResultsFile, validateResults } from '../report/index.js';
import type { LockOwner } from '../runs/lock.js';

export interface RunCheck {
  /** SQLite's integrity_check of run.db: 'ok' when sound. */
  integrity: string;
  /** One line per problem; empty when all is well. */
  problems: string[];
  /** The process writing in the run now: its staging files are not leftovers. */
  activeProcess: LockOwner | null;
}

/**
 * Checks a run directory: store integrity, artifacts and manifests, done jobs without their
 * artifact, checkpoints and temporary files left behind, and report/results.json against the
 * evaluation artifact.
 * @param runDir the run directory
 * @throws StoreError when runDir holds no run
 * @example
 * const check = verifyRun('runs/mnist');
 * if (check.problems.length) console.log(check.problems.join('\n'));
 */
export function verifyRun(runDir: string): RunCheck {
  const layout = runLayout(runDir);
  const activeProcess = liveOwner(runDir);
  let store: RunStore;
  try {
    store = openExisting(runDir);
  } catch (e) {
    if (!(e instanceof RunDbError)) throw e;
    return { integrity: e.message, problems: [e.message], activeProcess };
  }
  let integrity: string;
  let rows;
  try {
    integrity = store.integrityCheck();
    rows = store.allJobs();
  } finally {
    store.close();
  }
  const problems: string[] = [];
  if (integrity !== 'ok') problems.push(damagedRunDbMessage(layout.db, `SQLite's integrity check: ${integrity.slice(0, 200)}`));
  if (!activeProcess) {
    for (const dir of [layout.staging, layout.trash]) if (existsSync(dir)) problems.push(`${dir} left behind by a process that died`);
    for (const r of rows) if (r.status === 'running') problems.push(interruptedJobNote(r.name));
  }
  const done = new Map(rows.filter((r) => r.status === 'done').map((r) => [r.key, r]));
  if (existsSync(layout.artifacts)) {
    for (const name of readdirSync(layout.artifacts).sort()) {
      if (!isArtifactId(name)) {
        problems.push(`artifacts/${name} is not an artifact`);
        continue;
      }
      const v = verifyArtifact(runDir, name);
      const job = done.get(name)?.name ?? rows.find((r) => r.key === name)?.name;
      const of = job ? ` (job '${job}')` : '';
      if (!v.ok) problems.push(`artifacts/${name}${of}: ${v.reason}`);
      else if (done.has(name) && done.get(name)!.artifactSha !== v.manifestSha) problems.push(`artifacts/${name}${of}: manifest differs from the one recorded when the job finished`);
    }
  }
  for (const [key, row] of done) {
    if (!existsSync(join(layout.artifacts, key))) problems.push(`job '${row.name}' is recorded done but its artifact artifacts/${key} is missing`);
    if (existsSync(join(layout.checkpoints, key))) problems.push(`checkpoints/${key} of finished job '${row.name}' left behind`);
  }
  problems.push(...reportProblems(runDir));
  return { integrity, problems, activeProcess };
}

/** Fields of results.json that depend on when and by which version it was written, not on the run. */
const VOLATILE = ['createdAt', 'tool', 'figures'];

/** report/results.json must validate, name existing figures and equal what the store's evaluation gives. */
function reportProblems(runDir: string): string[] {
  const file = join(reportDir(runDir), 'results.json');
  if (!existsSync(file)) return [];
  let written;
  try {
    written = readResultsFile(file, 'report/results.json');
  } catch (e) {
    return [(e as Error).message.split('\n')[0]];
  }
  const problems = written.figures.filter((f) => !existsSync(join(reportDir(runDir), f.file))).map((f) => `report/${f.file} is missing (listed in results.json)`);
  let expected;
  try {
    expected = resultsFromStore(runDir).results;
  } catch (e) {
    return [...problems, `report/results.json cannot be checked: ${(e as Error).message}`];
  }
  // Through JSON and the schema, as results.json itself went (non-finite numbers become null, extra fields go).
  const want = validateResults(JSON.parse(JSON.stringify(expected))) as unknown as Record<string, unknown>;
  const have = written as unknown as Record<string, unknown>;
  const differing = Object.keys(want).filter((k) => !VOLATILE.includes(k) && canonicalJson(have[k] ?? null) !== canonicalJson(want[k] ?? null));
  if (differing.length) problems.push(`report/results.json differs from the run's evaluation in ${differing.join(', ')}; rebuild it with \`s2snets report ${runDir}\``);
  return problems;
}
