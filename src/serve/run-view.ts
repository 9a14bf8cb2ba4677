// What the viewer's server reads from a run directory, read-only and on demand: the job table
// (the run may still be going), the plan, results.json, per-image predictions and the finished
// reconstruction artifacts. Every file it opens must resolve inside the run directory.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, isAbsolute, resolve, sep } from 'node:path';
import { artifactDir, isArtifactId, runLayout, verifyArtifact, type Manifest } from '../runs/artifacts.js';
import { GENERIC_AE, aeName, datasetLabel } from '../experiment/names.js';
import type { ExperimentPlan } from '../experiment/plan.js';
import { RunStore, type JobRow } from '../runs/store.js';
import { EVALUATION_FILES, ORIGINAL_ROW, readPredictions } from '../experiment/evaluation-files.js';
import { S2SNetsError } from '../common/errors.js';
import { readResultsFile, type Results } from '../report/schema.js';
import type { PredictionsInfo } from './api.js';

export type ServeErrorCode = (typeof ServeError.codes)[number];

/** A run the viewer cannot show, a path outside it, a request it refuses, or a server that cannot start; `status` is the HTTP status when it answers a request. */
export class ServeError extends S2SNetsError {
  override name = 'ServeError';
  static override readonly codes = ['S2SNETS_SERVE_NO_RUN', 'S2SNETS_SERVE_OUTSIDE_RUN', 'S2SNETS_SERVE_NOT_BUILT', 'S2SNETS_SERVE_BAD_RUN', 'S2SNETS_SERVE_LISTEN', 'S2SNETS_SERVE_BUSY', 'S2SNETS_SERVE_REQUEST', 'S2SNETS_SERVE_NOT_FOUND', 'S2SNETS_SERVE_INTERNAL'] as const;
  static override readonly legacyCodes = {
    S2S_SERVE_NO_RUN: 'S2SNETS_SERVE_NO_RUN',
    S2S_SERVE_OUTSIDE_RUN: 'S2SNETS_SERVE_OUTSIDE_RUN',
    S2S_SERVE_NOT_BUILT: 'S2SNETS_SERVE_NOT_BUILT',
    S2S_SERVE_BAD_RUN: 'S2SNETS_SERVE_BAD_RUN',
    S2S_SERVE_LISTEN: 'S2SNETS_SERVE_LISTEN',
    S2S_SERVE_BUSY: 'S2SNETS_SERVE_BUSY',
  };
  declare readonly code: ServeErrorCode;
  constructor(
    code: ServeErrorCode,
    message: string,
    readonly status = 500,
  ) {
    super(message, code);
  }
}

/** The picture row of the originals, next to the autoencoders' names (as in predictions.json). */
export const ORIGINAL = ORIGINAL_ROW;

/** The artifact of a done job, checked against its manifest and against the manifest run.db recorded. */
export interface VerifiedArtifact {
  /** Its folder, inside the run directory. */
  dir: string;
  manifest: Manifest;
  /** sha256 of the manifest: identifies the artifact's whole content. */
  manifestSha: string;
}

/** Whether `path`, taken literally (no link resolved), lies strictly under `dir`. */
function isUnder(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

export interface RunSnapshot {
  jobs: JobRow[];
  plan: ExperimentPlan;
  dataset: string;
  /** Picture rows in display order: originals, A_S, then one S2SNet per classifier. */
  sources: string[];
}

const SNAPSHOT_TTL_MS = 1000;

/** A file of the run read once per version (path, size and modification time). */
class CachedFile<T> {
  private stamp = '';
  private value: T | null = null;
  constructor(private readonly read: (path: string) => T) {}
  get(path: string): T {
    const st = statSync(path);
    const stamp = `${path}:${st.size}:${st.mtimeMs}`;
    if (stamp !== this.stamp || this.value === null) {
      this.value = this.read(path);
      this.stamp = stamp;
    }
    return this.value;
  }
}

export class RunView {
  /** The run directory with every symbolic link resolved: files must lie under it. */
  readonly root: string;
  private readonly results = new CachedFile<Results>((path) => readResultsFile(path, 'report/results.json'));
  private readonly predictionsFile = new CachedFile<PredictionsInfo>((path) => readPredictions(dirname(path), { predictions: basename(path) }));
  private last: { at: number; value: RunSnapshot } | null = null;
  /** Artifacts verified so far, by job key and recorded manifest sha (artifacts are never modified in place). */
  private readonly verified = new Map<string, VerifiedArtifact>();

  /**
   * @param runDir a run directory (holds run.db)
   * @throws ServeError S2SNETS_SERVE_NO_RUN when runDir holds no run
   */
  constructor(readonly runDir: string) {
    if (!existsSync(runLayout(runDir).db)) throw new ServeError('S2SNETS_SERVE_NO_RUN', `${runDir}: no run here (run.db missing); make one with \`s2snets demo --run-dir ${runDir}\``);
    this.root = realpathSync(runDir);
  }

  get name(): string {
    return basename(this.root);
  }

  /**
   * `path` if it exists and its real location (links resolved) lies inside the run directory.
   * @returns null when there is no such file
   * @throws ServeError S2SNETS_SERVE_OUTSIDE_RUN (status 403) when it resolves outside the run
   */
  inside(path: string): string | null {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      return null;
    }
    if (real !== this.root && !isUnder(this.root, real)) throw new ServeError('S2SNETS_SERVE_OUTSIDE_RUN', `${relative(this.runDir, path)} leads outside the run directory`, 403);
    return real;
  }

  /**
   * Refuses a path that does not lie under the run directory as written (before anything is
   * written there: a place that does not exist yet has no real path to check).
   * @param path a path the server is about to create
   * @throws ServeError S2SNETS_SERVE_OUTSIDE_RUN (status 403)
   * @example view.assertUnder(join(runLayout(view.runDir).tiles, id))
   */
  assertUnder(path: string): void {
    if (!isUnder(resolve(this.runDir), resolve(path))) throw new ServeError('S2SNETS_SERVE_OUTSIDE_RUN', `${relative(this.runDir, path)} leads outside the run directory`, 403);
  }

  /**
   * The job table and plan, read afresh at most once a second (the run may be going on, and
   * tiles are asked for by the hundred).
   * @throws ServeError S2SNETS_SERVE_BAD_RUN when the store holds no experiment plan
   * @example new RunView('runs/mnist').snapshot().sources // ['original', 'A_S', 'S2S-lenet5', ...]
   */
  snapshot(): RunSnapshot {
    const now = Date.now();
    if (!this.last || now - this.last.at > SNAPSHOT_TTL_MS) {
      // The store itself, not status(): that verifies every artifact (too slow for each request)
      // and loads the compute engine.
      const store = RunStore.openReadOnly(this.runDir);
      let jobs: JobRow[];
      let meta: ReturnType<RunStore['meta']>;
      try {
        jobs = store.graphJobs();
        meta = store.meta();
      } finally {
        store.close();
      }
      const plan = meta?.config as ExperimentPlan | null | undefined;
      if (!plan || typeof plan !== 'object' || !Array.isArray(plan.classifiers)) throw new ServeError('S2SNETS_SERVE_BAD_RUN', `${this.runDir}: the run store holds no experiment plan (was it made by \`s2snets demo\` or \`s2snets run\`?)`);
      const sources = [ORIGINAL, GENERIC_AE, ...plan.classifiers.map((c) => aeName(c.name))];
      this.last = { at: now, value: { jobs, plan, dataset: datasetLabel(plan), sources } };
    }
    return this.last.value;
  }

  /**
   * The finished reconstruction job of an autoencoder; undefined while it is not done.
   * @param ae an autoencoder's name (A_S, S2S-<classifier>)
   * @example view.reconstructionJob('A_S')?.artifactSha
   */
  reconstructionJob(ae: string): JobRow | undefined {
    return this.snapshot().jobs.find((j) => j.name === `reconstruct[${ae}]` && j.status === 'done' && j.artifactSha !== null);
  }

  /**
   * The artifact of a done job, found only through its verified manifest: the job's key must be
   * an artifact id, every file must match the manifest, and the manifest must be the one run.db
   * recorded when the job finished (so an edited run.db cannot point the server elsewhere).
   * @param job a done job of this run
   * @throws ServeError S2SNETS_SERVE_BAD_RUN (status 409) when the artifact or its record fails; S2SNETS_SERVE_OUTSIDE_RUN when its folder resolves outside the run
   * @example view.verifiedArtifact(view.reconstructionJob('A_S')!).manifest.output
   */
  verifiedArtifact(job: JobRow): VerifiedArtifact {
    const id = `${job.key}:${job.artifactSha}`;
    const known = this.verified.get(id);
    if (known) return known;
    const damaged = (why: string) => new ServeError('S2SNETS_SERVE_BAD_RUN', `the artifact of job '${job.name}' is damaged (${why}); \`s2snets verify ${this.runDir}\` lists what is wrong, and rerunning the run's command recomputes it`, 409);
    if (!isArtifactId(job.artifactSha)) throw damaged('run.db records no valid manifest checksum for it');
    const v = verifyArtifact(this.runDir, job.key);
    if (!v.ok) throw damaged(v.reason);
    if (v.manifestSha !== job.artifactSha) throw damaged('its manifest differs from the one recorded when the job finished');
    const dir = this.inside(artifactDir(this.runDir, job.key));
    if (!dir) throw damaged('missing');
    const artifact = { dir, manifest: v.manifest, manifestSha: v.manifestSha };
    this.verified.set(id, artifact);
    return artifact;
  }

  /**
   * report/results.json, validated; null until the report is written.
   * @throws ResultsError when the file does not match the schema; ServeError S2SNETS_SERVE_OUTSIDE_RUN when it is a link out of the run
   */
  resultsJson(): Results | null {
    const path = this.inside(join(this.runDir, 'report', 'results.json'));
    return path ? this.results.get(path) : null;
  }

  /**
   * The evaluation's per-image predictions; null until the evaluation is done (or for runs made
   * before they were recorded).
   * @throws ServeError S2SNETS_SERVE_OUTSIDE_RUN when the file is a link out of the run; S2SNETS_SERVE_BAD_RUN when the evaluation's artifact is damaged
   * @example view.predictions()?.rows['S2S-lenet5'].lenet5.top1[0]
   */
  predictions(): PredictionsInfo | null {
    const job = this.snapshot().jobs.find((j) => j.name === 'evaluate' && j.status === 'done');
    if (!job) return null;
    const path = this.inside(join(this.verifiedArtifact(job).dir, EVALUATION_FILES.predictions));
    return path ? this.predictionsFile.get(path) : null;
  }
}
