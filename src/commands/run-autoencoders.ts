// The autoencoders of a run, found by the names the run gives them (A_S, S2S-<classifier>), for
// the commands that use one outside the run (reconstruct, export).
import { join } from 'node:path';
import { artifactDir } from '../runs/artifacts.js';
import { aeName, GENERIC_AE } from '../experiment/names.js';
import type { ExperimentPlan } from '../experiment/plan.js';
import { status, type StatusJob } from '../scheduler/runner.js';
import { StoreError } from '../runs/store.js';
import { S2SNetsError } from '../common/errors.js';

export type RunAutoencoderErrorCode = (typeof RunAutoencoderError.codes)[number];

/** An autoencoder asked of a run that the run cannot give: no run, no such name, not trained yet, damaged. */
export class RunAutoencoderError extends S2SNetsError {
  override name = 'RunAutoencoderError';
  static override readonly codes = ['S2SNETS_RUN_UNREADABLE', 'S2SNETS_UNKNOWN_AE', 'S2SNETS_AE_UNFINISHED', 'S2SNETS_AE_DAMAGED'] as const;
  declare readonly code: RunAutoencoderErrorCode;
  constructor(code: RunAutoencoderErrorCode, message: string) {
    super(message, code);
  }
}

/** A finished autoencoder of a run: its weights file, and the run's plan when the run has one. */
export interface RunAutoencoder {
  name: string;
  file: string;
  plan: ExperimentPlan | null;
}

/** The autoencoder a job trains: pretrain[A_S] gives A_S, finetune[c] gives S2S-c (replicates, named with a seed, are left out). */
function trainedAe(job: StatusJob): string | null {
  const pre = /^pretrain\[(.*)\]$/.exec(job.name);
  if (pre) return pre[1] === GENERIC_AE ? GENERIC_AE : null;
  const fine = /^finetune\[(.*)\]$/.exec(job.name);
  return fine ? aeName(fine[1]) : null;
}

/**
 * A finished autoencoder of a run by its name: 'A_S' or 'S2S-<classifier>'.
 * @param runDir the run directory
 * @param name the autoencoder's name
 * @throws RunAutoencoderError S2SNETS_RUN_UNREADABLE when runDir holds no run; S2SNETS_UNKNOWN_AE naming the
 *   autoencoders the run has; S2SNETS_AE_UNFINISHED when its job has not finished; S2SNETS_AE_DAMAGED when its
 *   artifact fails verification
 * @example loadSegNetFile(findRunAutoencoder('runs/mnist', 'S2S-resnet').file)
 */
export function findRunAutoencoder(runDir: string, name: string): RunAutoencoder {
  let run: ReturnType<typeof status>;
  try {
    run = status(runDir);
  } catch (e) {
    if (e instanceof StoreError) throw new RunAutoencoderError('S2SNETS_RUN_UNREADABLE', `${e.message}; give --run the directory of a run`);
    throw e;
  }
  const plan = (run.meta?.config ?? null) as ExperimentPlan | null;
  const jobs = new Map<string, StatusJob>();
  for (const j of run.jobs) {
    const ae = trainedAe(j);
    if (ae) jobs.set(ae, j);
  }
  // The plan names autoencoders whose jobs no command has registered yet (e.g. after `pretrain` alone).
  const planned = plan && Array.isArray(plan.classifiers) ? [GENERIC_AE, ...plan.classifiers.map((c) => aeName(c.name))] : [];
  const names = [...new Set([...planned, ...jobs.keys()])];
  const state = (n: string) => (jobs.get(n)?.status === 'done' ? n : `${n} (${jobs.get(n)?.status ?? 'not started'})`);
  if (!names.includes(name)) throw new RunAutoencoderError('S2SNETS_UNKNOWN_AE', `${runDir}: no autoencoder '${name}' in this run (it has: ${names.map(state).join(', ') || 'none yet'})`);
  const job = jobs.get(name);
  if (job?.status !== 'done') {
    const live = job?.status === 'running' && run.activeProcess;
    const why = live ? `its job is running now (process ${run.activeProcess!.pid}): wait for it to finish` : 'finish the run first (rerun the command that made it: it resumes)';
    throw new RunAutoencoderError('S2SNETS_AE_UNFINISHED', `${runDir}: autoencoder '${name}' is not trained yet (${job?.status ?? 'not started'}); ${why}`);
  }
  if (job.artifactProblem) throw new RunAutoencoderError('S2SNETS_AE_DAMAGED', `${runDir}: the weights of '${name}' fail verification (${job.artifactProblem}); see s2snets verify ${runDir}`);
  return { name, file: join(artifactDir(runDir, job.key), 'autoencoder.safetensors'), plan };
}
