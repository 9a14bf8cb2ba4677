// The one training loop behind classifier training, AE pretraining and decoder fine-tuning.
// Every step is a pure function of (seed, step): the batch comes from batch(step) and libtorch's
// generator is reseeded per step, so a run resumed from a checkpoint continues exactly as an
// uninterrupted one would.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic.js';
import { keep, manualSeed, stack, tidy, type Tensor } from '../engine/index.js';
import { decodeSafetensors, encodeSafetensors, StateDictError, type Module, type Optimizer, type Schedule } from '../nn/index.js';
import type { Batch } from '../data/index.js';
import { S2SNetsError } from '../common/errors.js';

export type { Batch };

export interface StepProgress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  /** Seconds since this attempt started (a resumed run starts at its checkpoint), over stepsRun steps. */
  elapsedS: number;
  stepsRun: number;
  etaS: number;
}

export interface LossCurve {
  step: number[];
  loss: number[];
}

export interface TrainLoopOptions {
  /** Shown in messages, e.g. 'fine-tune resnet'. */
  name: string;
  steps: number;
  optimizer: Optimizer;
  schedule?: Schedule;
  /** The batch of a given step; the loop disposes it. */
  batch(step: number): Batch;
  /**
   * Awaited before batch(step): resolves once step's batch can be made (a streamed split reads it,
   * and starts reading the next ones, none at or past `end`, the loop's step count).
   */
  ready?(step: number, end: number): Promise<void>;
  /** Forward pass of the batch of `step`, returning a scalar loss. */
  loss(batch: Batch, step: number): Tensor;
  /** Modules whose state (parameters and buffers) a checkpoint must hold. */
  modules: Record<string, Module>;
  seed: number;
  /** Where training state goes every `every` steps and on abort, and is read from on start. */
  checkpoint?: CheckpointStore;
  signal?: AbortSignal;
  onProgress?(p: StepProgress): void;
  /** Loss is recorded in the curve every this many steps (default 10). */
  curveEvery?: number;
  /**
   * The loss is read back every this many steps (default: 1 on the CPU, 20 on CUDA). Each read
   * makes the host wait for the device; in between, steps queue up without waiting. Losses are
   * always read before a checkpoint is written, so a non-finite loss never reaches one.
   */
  readLossEvery?: number;
  /** Decides after every `monitor.every` steps whether training may stop before `steps` (an early stop). */
  monitor?: TrainMonitor;
}

/**
 * An early-stopping rule. `check` runs after steps every, 2 every, ... and returns true to stop
 * there. It must be a pure function of the model state and its own state, which checkpoints
 * hold (`state`/`restore`), so that a resumed run stops at the same step as an uninterrupted one.
 */
export interface TrainMonitor {
  every: number;
  check(step: number): boolean;
  state(): unknown;
  restore(state: unknown): void;
}

/** Storage for one training checkpoint (a safetensors blob); the latest save wins. */
export interface CheckpointStore {
  every: number;
  save(chunks: Uint8Array[]): void;
  load(): Uint8Array | null;
  /** Where it lives, for messages. */
  describe: string;
}

/** A checkpoint kept in one file, replaced atomically. */
export function fileCheckpoint(path: string, every: number): CheckpointStore {
  return {
    every,
    save: (chunks) => writeFileAtomic(path, chunks),
    load: () => (existsSync(path) ? readFileSync(path) : null),
    describe: path,
  };
}

export class NonFiniteLossError extends S2SNetsError {
  override name = 'NonFiniteLossError';
  static override readonly codes = ['S2SNETS_NON_FINITE_LOSS'] as const;
}

export class TrainingInterruptedError extends S2SNetsError {
  override name = 'TrainingInterruptedError';
  static override readonly codes = ['S2SNETS_TRAINING_INTERRUPTED'] as const;
}

export interface TrainLoopResult {
  curve: LossCurve;
  finalLoss: number;
  resumedFrom: number;
  /** Steps run in all (equal to `steps` unless the monitor stopped training early). */
  stepsRun: number;
  /** Whether the monitor stopped training before `steps`. */
  stoppedEarly: boolean;
  /** Seconds the steps of this call took (from resumedFrom on), for a throughput figure. */
  elapsedS: number;
}

function saveCheckpoint(o: TrainLoopOptions, step: number, curve: LossCurve): void {
  const tensors = new Map<string, Tensor>();
  for (const [prefix, m] of Object.entries(o.modules)) for (const [k, t] of m.stateDict()) tensors.set(`model.${prefix}.${k}`, t);
  const opt = o.optimizer.stateDict();
  for (const [k, t] of opt.tensors) tensors.set(`optim.${k}`, t);
  const meta = { step, optimizerSteps: opt.stepCount, lr: opt.lr, curve, monitor: o.monitor?.state() ?? null };
  o.checkpoint!.save(encodeSafetensors(tensors, { s2snets: JSON.stringify(meta) }));
}

function loadCheckpoint(o: TrainLoopOptions): { step: number; curve: LossCurve } | null {
  const bytes = o.checkpoint?.load();
  if (!bytes) return null;
  const { tensors, metadata } = decodeSafetensors(bytes, o.checkpoint!.describe);
  const meta = JSON.parse(metadata.s2snets ?? 'null') as { step: number; optimizerSteps: number; lr: number; curve: LossCurve; monitor?: unknown } | null;
  if (!meta) throw new StateDictError(`${o.checkpoint!.describe}: not an s2snets training checkpoint (no training metadata); delete it to start this training afresh`);
  const pick = (prefix: string) => new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
  for (const [name, m] of Object.entries(o.modules)) m.loadStateDict(pick(`model.${name}.`));
  o.optimizer.loadStateDict({ stepCount: meta.optimizerSteps, lr: meta.lr, tensors: pick('optim.') });
  for (const t of tensors.values()) t.dispose();
  if (o.monitor && meta.monitor != null) o.monitor.restore(meta.monitor);
  return { step: meta.step, curve: meta.curve };
}

/**
 * Runs the steps, yielding to the event loop between steps so that progress output and Ctrl-C
 * (which aborts `signal`) stay responsive while libtorch computes.
 */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  if (!(o.steps > 0)) throw new RangeError(`${o.name}: steps must be > 0`);
  const curveEvery = o.curveEvery ?? 10;
  const resumed = loadCheckpoint(o);
  const curve: LossCurve = resumed?.curve ?? { step: [], loss: [] };
  const start = resumed?.step ?? 0;
  const t0 = performance.now();
  let loss = Number.NaN;
  // Losses computed on the device and not read yet, oldest first.
  const unread: { step: number; loss: Tensor }[] = [];
  const readLosses = (): void => {
    if (unread.length === 0) return;
    const pending = unread.splice(0);
    const values = tidy(() => stack(pending.map((u) => u.loss)).toFloat32Array());
    for (const u of pending) u.loss.dispose();
    for (const [i, { step }] of pending.entries()) {
      loss = values[i];
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(
          `${o.name}: loss became ${loss} at step ${step}; stopped${o.checkpoint ? ` (last good checkpoint kept: ${o.checkpoint.describe})` : ''}. Lower the learning rate.`,
        );
      }
      if (step % curveEvery === 0 || step === o.steps - 1) {
        curve.step.push(step);
        curve.loss.push(loss);
      }
    }
  };
  const onCuda = Object.values(o.modules).some((m) => m.parameters()[0]?.device.startsWith('cuda'));
  const readEvery = o.readLossEvery ?? (onCuda ? 20 : 1);
  for (const m of Object.values(o.modules)) m.train();
  let stepsRun = o.steps;
  for (let step = start; step < o.steps; step++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (o.signal?.aborted) {
      if (o.checkpoint) {
        readLosses();
        saveCheckpoint(o, step, curve);
      }
      throw new TrainingInterruptedError(`${o.name}: interrupted at step ${step}/${o.steps}${o.checkpoint ? '; checkpoint saved' : ''}`);
    }
    await o.ready?.(step, o.steps);
    o.schedule?.apply(o.optimizer, step);
    manualSeed(o.seed * 1_000_003 + step);
    const done = step + 1;
    const saving = o.checkpoint !== undefined && done % o.checkpoint.every === 0 && done < o.steps;
    tidy(() => {
      const batch = o.batch(step);
      o.optimizer.zeroGrad();
      const l = o.loss(batch, step);
      unread.push({ step, loss: keep(l.detach()) });
      // Read before backward where we can: a non-finite loss then never updates the weights.
      if (done % readEvery === 0 || done === o.steps || saving) readLosses();
      l.backward();
      o.optimizer.step();
    });
    // The monitor sees the weights after this step; it runs before a checkpoint so the saved state includes its verdict.
    const stop = o.monitor !== undefined && done % o.monitor.every === 0 && done < o.steps && checkMonitor(o, done);
    if (saving && !stop) saveCheckpoint(o, done, curve);
    if (o.onProgress && unread.length === 0) {
      const elapsedS = (performance.now() - t0) / 1000;
      o.onProgress({ step: done, steps: o.steps, loss, lr: o.optimizer.lr, elapsedS, stepsRun: done - start, etaS: (elapsedS / (done - start)) * (o.steps - done) });
    }
    if (stop) {
      readLosses();
      if (curve.step.at(-1) !== step) {
        curve.step.push(step);
        curve.loss.push(loss);
      }
      stepsRun = done;
      break;
    }
  }
  // Gradients are not needed past the last step; dropping them frees their memory.
  o.optimizer.zeroGrad();
  return { curve, finalLoss: loss, resumedFrom: start, stepsRun, stoppedEarly: stepsRun < o.steps, elapsedS: (performance.now() - t0) / 1000 };
}

/** Runs the monitor with the modules in eval mode (it evaluates them), then back in training mode. */
function checkMonitor(o: TrainLoopOptions, step: number): boolean {
  const modes = Object.values(o.modules).map((m) => [m, m.training] as const);
  for (const [m] of modes) m.eval();
  try {
    return o.monitor!.check(step);
  } finally {
    for (const [m, training] of modes) m.train(training);
  }
}
