// Renders a run's report into <runDir>/report from what the run store holds: the evaluation
// job's verified artifact, the job timings and the engine identities the artifacts record.
// Rendering happens in a staging directory of this process, under the run's lock, and the
// finished directory replaces the old one by renames, so concurrent `report` commands (or a
// `report` beside a run) can never leave a mixed or partial report.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_SCHEMA_VERSION, validateResults, writeReport, type Results } from '../report/index.js';
import { artifactDir, verifyArtifact } from '../runs/artifacts.js';
import { withLock, type Lock } from '../runs/lock.js';
import { engineDifferences, type EngineIdentity } from '../scheduler/current-engine.js';
import { openExisting, runLockPath } from '../scheduler/runner.js';
import { EVALUATION_FILES, ReportSourceError, readEvaluation, type Evaluation, type StoredPictures } from '../experiment/evaluation.js';
import { readReplicates } from '../experiment/replicates-job.js';
import { toolVersion } from '../common/version.js';

export { ReportSourceError };

/** Where the report of a run directory goes. */
export const reportDir = (runDir: string) => join(runDir, 'report');

/**
 * results.json content (figures still empty) from an evaluation and the jobs' provenance.
 * @param e the evaluation job's data
 * @param provenance wall time per job, the engine that made the evaluation, and the jobs made by another one
 * @example
 * resultsOf(evaluation, { durations: { evaluate: 12.5 }, engine: currentEngine(), mixedEngines: [] })
 */
export function resultsOf(
  e: Evaluation,
  provenance: { durations: Record<string, number>; engine: EngineIdentity; mixedEngines: { job: string; engine: EngineIdentity | null }[] },
  replicates: Results['replicates'] = null,
): Results {
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: { name: 's2snets', version: toolVersion() },
    createdAt: new Date().toISOString(),
    run: {
      dataset: e.dataset,
      imageSize: e.imageSize,
      channels: e.channels,
      classes: e.classes,
      seed: e.plan.seed,
      device: e.plan.device,
      engine: provenance.engine,
      mixedEngines: provenance.mixedEngines,
      evalSamples: e.evalSamples,
      skippedInputs: e.skippedInputs,
      durations: provenance.durations,
      plan: e.plan,
    },
    classifiers: e.classifiers,
    autoencoders: e.autoencoders,
    planted: e.planted,
    finetunes: e.finetunes,
    crossEvaluation: e.crossEvaluation,
    order: e.order,
    bootstrap: e.bootstrap,
    claims: e.claims,
    noise: e.noise,
    replicates,
    nmi: e.nmi,
    histograms: e.histograms,
    curves: e.curves,
    figures: [],
  };
}

/**
 * What the report of a run directory shows, from its store and artifacts alone (figures still
 * empty): the results of its finished evaluation and the pictures.
 * @param runDir the run directory
 * @throws ReportSourceError when the run has no finished evaluation or its artifact is damaged
 * @example
 * resultsFromStore('runs/mnist').results.order.ranking
 */
export function resultsFromStore(runDir: string): { results: Results; pictures: StoredPictures; damaged: DamagedArtifact[] } {
  const store = openExisting(runDir);
  let jobs;
  try {
    jobs = store.graphJobs();
  } finally {
    store.close();
  }
  const evaluation = jobs.find((j) => j.name === 'evaluate' && j.status === 'done');
  if (!evaluation) throw new ReportSourceError(`${runDir}: the run has no finished evaluation yet; run \`s2snets demo\` (or \`evaluate\`) with this --run-dir first`);
  const check = verifyArtifact(runDir, evaluation.key);
  if (!check.ok) throw new ReportSourceError(`${runDir}: the evaluation artifact is damaged (${check.reason}); rerun the same command to recompute it`);
  const engine = check.manifest.engine;
  if (!engine) throw new ReportSourceError(`${runDir}: the evaluation was made by an earlier s2snets that recorded no engine identity; rerun the same command with this version to recompute it`);
  const { evaluation: e, pictures } = readEvaluation(artifactDir(runDir, evaluation.key), EVALUATION_FILES);
  const done = jobs.filter((j) => j.status === 'done');
  const durations = Object.fromEntries(done.filter((j) => j.durationS !== null).map((j) => [j.name, j.durationS as number]));
  // Every other finished artifact: present with its recorded manifest and file sizes (not hashed:
  // they can be gigabytes; `verify` hashes them). A damaged one is named, never read as an engine change.
  const damaged: DamagedArtifact[] = [];
  const mixedEngines: { job: string; engine: EngineIdentity | null }[] = [];
  for (const j of done) {
    const v = j === evaluation ? check : verifyArtifact(runDir, j.key, { contents: false });
    if (!v.ok) damaged.push({ job: j.name, reason: v.reason });
    else if (v.manifestSha !== j.artifactSha) damaged.push({ job: j.name, reason: 'its manifest differs from the one recorded when the job finished' });
    else if (engineDifferences(v.manifest.engine, engine).length > 0) mixedEngines.push({ job: j.name, engine: v.manifest.engine ?? null });
  }
  // Replicate seeds: the latest invocation aggregated them (its evaluate job is seed 0's).
  const aggregate = done.find((j) => j.name === 'replicates');
  return { results: resultsOf(e, { durations, engine, mixedEngines }, aggregate ? readReplicates(artifactDir(runDir, aggregate.key)) : null), pictures, damaged };
}

/** A finished job whose artifact is missing or damaged, and why. */
export interface DamagedArtifact {
  job: string;
  reason: string;
}

/**
 * One line per damaged artifact, saying the report still stands on the evaluation and what to do.
 * @param runDir the run directory
 * @param d the damaged artifact
 * @example damagedArtifactLine('runs/mnist', { job: 'finetune[lenet5]', reason: 'file weights.safetensors missing' })
 */
export const damagedArtifactLine = (runDir: string, d: DamagedArtifact) =>
  `the artifact of job '${d.job}' is damaged (${d.reason}); the report is drawn from the evaluation, which verifies, but rerun the command that made ${runDir} to recompute it`;

/**
 * Writes <runDir>/report from the store, holding the run's lock; returns the results written.
 * @param runDir the run directory
 * @param held the run's lock, when the caller holds it
 * @param warn receives one line per damaged artifact of the run (the report is still written from the verified evaluation)
 * @throws ReportSourceError when there is nothing to report; LockHeldError when another process writes in runDir
 * @example
 * const results = await renderRunReport('runs/mnist'); // runs/mnist/report/results.json
 */
export async function renderRunReport(runDir: string, held?: Lock, warn?: (line: string) => void): Promise<Results> {
  return withLock(runLockPath(runDir), 'rendering the report', async () => {
    const { results, pictures, damaged } = resultsFromStore(runDir);
    for (const d of damaged) warn?.(damagedArtifactLine(runDir, d));
    const target = reportDir(runDir);
    // Leftovers of report processes that died; no other writer is active while we hold the lock.
    for (const name of readdirSync(runDir)) if (/^report\.(staging|previous)-/.test(name)) rmSync(join(runDir, name), { recursive: true, force: true });
    const tag = `${process.pid}-${Date.now()}`;
    const staging = `${target}.staging-${tag}`;
    mkdirSync(staging);
    try {
      await writeReport(staging, results, pictures);
      const written = validateResults(JSON.parse(readFileSync(join(staging, 'results.json'), 'utf8')));
      const previous = `${target}.previous-${tag}`;
      if (existsSync(target)) renameSync(target, previous);
      renameSync(staging, target);
      rmSync(previous, { recursive: true, force: true });
      return written;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }, held);
}
