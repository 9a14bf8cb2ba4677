// S2SNets fine-tuning: the decoder of a pretrained AE learns from a frozen classifier's loss,
// backpropagated through that classifier. The encoder is frozen too (its code and pooling
// indices are computed without autograd), so the decoder can only keep or drop signal, not
// re-encode it. There is no reconstruction term.
import { F, noGrad, tensor, tidy, type Tensor } from '../engine/index.js';
import { constantSchedule, type Module } from '../nn/index.js';
import type { Encoding, SegNet, SegNetEncoder } from '../models/segnet.js';
import { EncodingCacheError, type EncodingSource } from './encoding-cache.js';
import { trainLoop, type Batch, type TrainLoopResult, type TrainMonitor } from './loop.js';
import { makeOptimizer, type CommonTrainOptions } from './classifier.js';
import { prepareForFinetune, withSpeedOptions, type SpeedOptions } from './speed.js';
import { S2SNetsError } from '../common/errors.js';

export type FinetuneTargets = 'labels' | 'predictions' | 'permuted-labels';

/** A fine-tune's options that make no sense together. */
export class FinetuneOptionsError extends S2SNetsError {
  override name = 'FinetuneOptionsError';
  static override readonly codes = ['S2SNETS_FINETUNE_OPTIONS'] as const;
}

/**
 * Labels shifted to the next class (the last to the first): every image gets a wrong target,
 * and the same wrong target for the same class.
 * @param y class indices
 * @param classes number of classes
 * @example permutedLabels(tensor(Int32Array.from([0, 3]), [2]).long(), 4) // [1, 0]
 */
export function permutedLabels(y: Tensor, classes: number): Tensor {
  return tidy(() => tensor(Int32Array.from({ length: classes }, (_, k) => (k + 1) % classes), [classes]).long().to({ device: y.device }).indexSelect(0, y));
}

export interface FinetuneOptions extends CommonTrainOptions {
  /**
   * 'labels': the true labels (the paper); 'predictions': the classifier's own argmax on the
   * originals (no labels needed); 'permuted-labels': each label shifted to the next class (a
   * negative control: a decoder fine-tuned to it must lose what the classifier needs).
   */
  targets?: FinetuneTargets;
  /** Number of classes; needed by 'permuted-labels'. */
  classes?: number;
  /** Train encoder and decoder instead of the decoder alone. */
  trainWholeAe?: boolean;
  /** Speed options (mixed precision, channels_last, BatchNorm folding of the frozen networks); see speed.ts. */
  speed?: SpeedOptions;
  name?: string;
  /**
   * Stop before `steps` (then a budget) once the decoder has converged, judged on a fixed check
   * set of images the decoder does not train on; without it, exactly `steps` steps run.
   */
  convergence?: ConvergenceOptions;
  /**
   * The frozen encoder's outputs for every training image and every check image, computed once
   * for all fine-tunes of an A_S (encodeAll, as the speed options prepare the encoder): each step
   * reads its batch's encoding instead of running the encoder. `positions(step)` is where step's
   * batch sits among the training images, in batch order (the sampler's). Needs a frozen encoder
   * and no autocast (the encodings are float32).
   */
  encodings?: { train: EncodingSource; check: EncodingSource | null; positions(step: number): ArrayLike<number> };
  /**
   * A broken method, as a negative control: the classifier's gradient stops at its input, so the
   * decoder gets a zero gradient and stays A_S's (its BatchNorm statistics still follow the
   * batches). Every step still runs; only what the method rests on is cut.
   */
  stopGradient?: boolean;
}

/**
 * When a fine-tune counts as converged. Every `every` steps the classifier is run on the AE's
 * reconstructions of the check set (all modules in eval mode); from `minSteps` on, training
 * stops at the first check where
 * - 'reached-original-accuracy': its accuracy there reaches its accuracy on the originals, or
 * - 'loss-plateau': its cross-entropy there has not fallen by more than `minDelta` (relative)
 *   below its best for `patience` checks in a row.
 * The floor matters: with a strong A_S the accuracy rule holds from the first check, before the
 * decoder has learnt anything from the classifier. A fine-tune that meets neither rule within
 * the step budget ends 'step-budget' (not converged).
 */
export interface ConvergenceOptions {
  /** Check images (normalized, as the classifier takes them) and their labels. */
  x: Tensor;
  y: Tensor;
  every: number;
  patience: number;
  minDelta: number;
  minSteps: number;
}

export type FinetuneStop = 'reached-original-accuracy' | 'loss-plateau' | 'step-budget' | 'fixed-steps';

export interface FinetuneResult extends TrainLoopResult {
  /** Why the fine-tune ended; 'step-budget' means it had not converged. */
  stop: FinetuneStop;
  converged: boolean;
  /** Classifier accuracy on the check set's originals and on its reconstructions at the end (null without a check set). */
  checkAccuracy: { original: number; reconstructed: number } | null;
}

/** The convergence monitor of one fine-tune (see ConvergenceOptions). */
function convergenceMonitor(c: ConvergenceOptions, reconstructLoss: (x: Tensor, y: Tensor) => { loss: number; accuracy: number }, originalAccuracy: number) {
  let best = Infinity;
  let since = 0;
  let reason: FinetuneStop = 'step-budget';
  let accuracy = 0;
  const measure = () => {
    const r = reconstructLoss(c.x, c.y);
    accuracy = r.accuracy;
    return r;
  };
  const monitor: TrainMonitor = {
    every: c.every,
    check(step) {
      const { loss, accuracy: acc } = measure();
      if (loss < best * (1 - c.minDelta)) [best, since] = [loss, 0];
      else since++;
      if (step < c.minSteps) return false;
      if (acc >= originalAccuracy) {
        reason = 'reached-original-accuracy';
        return true;
      }
      if (since >= c.patience) {
        reason = 'loss-plateau';
        return true;
      }
      return false;
    },
    state: () => ({ best: Number.isFinite(best) ? best : null, since }),
    restore(state) {
      const st = state as { best: number | null; since: number };
      [best, since] = [st.best ?? Infinity, st.since];
    },
  };
  return { monitor, reason: () => reason, accuracy: () => accuracy, measure };
}

/**
 * Fine-tunes the AE's decoder (or the whole AE) through the frozen classifier's loss.
 * @param ae the pretrained autoencoder (changed in place; left in eval mode)
 * @param classifier the frozen classifier
 * @param o steps (the budget when `convergence` is given), learning rate, batches, checkpoint
 * @throws NonFiniteLossError, TrainingInterruptedError (see loop.ts); FinetuneOptionsError for
 *   'permuted-labels' without the number of classes; EncodingCacheError when
 *   `encodings` come with trainWholeAe or autocast, or hold another number of check images
 * @example const r = await finetuneDecoder(ae, classifier, { steps: 600, lr: 1e-3, seed: 0, batch, convergence }); r.converged
 */
export async function finetuneDecoder(ae: SegNet, classifier: Module, o: FinetuneOptions): Promise<FinetuneResult> {
  classifier.eval().freeze();
  const whole = o.trainWholeAe ?? false;
  ae.encoder.freeze(!whole).train(whole);
  ae.decoder.freeze(false);
  // Before the optimizer is built: channels_last replaces parameter tensors. A fine-tune that
  // reads precomputed encodings never runs the encoder, so it gets no folded copy of it.
  const speed = o.speed ?? {};
  const e = o.encodings;
  const encoder = prepareForFinetune(ae, classifier, speed, !e);
  const deviceType = ae.parameters()[0].device.startsWith('cuda') ? 'cuda' : 'cpu';
  const optimizer = makeOptimizer(o.optimizer ?? 'adam', (whole ? ae : ae.decoder).trainableParameters(), o.lr, o.weightDecay);
  const classes = o.classes;
  if (o.targets === 'permuted-labels' && !(classes && classes >= 2)) throw new FinetuneOptionsError(`fine-tune targets 'permuted-labels' need the number of classes (>= 2), got ${classes}`);
  const targetOf = (b: { x: Tensor; y: Tensor }): Tensor =>
    o.targets === 'predictions' ? noGrad(() => classifier.forward(b.x).argmax(1)) : o.targets === 'permuted-labels' ? permutedLabels(b.y, classes!) : b.y;
  const c = o.convergence;
  if (e && (whole || speed.autocast)) throw new EncodingCacheError(`precomputed encodings need a frozen encoder without autocast (${whole ? 'trainWholeAe is on' : `autocast ${speed.autocast} is on`})`);
  if (e && c && e.check?.images !== c.x.shape[0]) throw new EncodingCacheError(`the encodings hold ${e.check?.images ?? 0} check images, the convergence check has ${c.x.shape[0]}`);
  const checkPositions = Array.from({ length: c?.x.shape[0] ?? 0 }, (_, i) => i);
  const encodeCheck = c && (e?.check ? () => e.check!.lookup(checkPositions) : () => noGrad(() => encoder.encode(c.x)));
  const check = c && convergenceChecks(encodeCheck!, ae, classifier, c, targetOf);
  const encodingOf = e ? (_b: Batch, step: number) => e.train.lookup(e.positions(step)) : undefined;
  try {
    const result = await trainLoop({
      name: o.name ?? 'fine-tune decoder',
      steps: o.steps,
      optimizer,
      schedule: constantSchedule(o.lr),
      batch: o.batch,
      ready: o.ready,
      loss: withSpeedOptions(speed, deviceType, finetuneLoss(encoder, ae, classifier, { trainWholeAe: whole, target: targetOf, encodingOf, stopGradient: o.stopGradient })),
      modules: whole ? { ae } : { decoder: ae.decoder },
      seed: o.seed,
      checkpoint: o.checkpoint,
      signal: o.signal,
      onProgress: o.onProgress,
      readLossEvery: o.readLossEvery,
      monitor: check?.monitor,
    });
    ae.eval();
    if (!check) return { ...result, stop: 'fixed-steps', converged: true, checkAccuracy: null };
    // A run that used its whole budget gets a last look: it may have converged on the final step.
    if (!result.stoppedEarly && check.measure().accuracy >= check.originalAccuracy) return { ...result, stop: 'reached-original-accuracy', converged: true, checkAccuracy: check.final() };
    const stop = result.stoppedEarly ? check.reason() : 'step-budget';
    return { ...result, stop, converged: stop !== 'step-budget', checkAccuracy: check.final() };
  } finally {
    check?.dispose();
  }
}

/**
 * The fine-tune's loss of one batch: the classifier's cross-entropy on the reconstruction. The
 * encoder runs without autograd unless the whole AE trains.
 * @param encoder computes the codes: ae.encoder, or the folded copy prepareForFinetune returns
 * @param ae the autoencoder whose decoder learns
 * @param classifier the frozen classifier
 * @param o trainWholeAe: the encoder learns too; target: the labels to learn (default the batch's);
 *   encodingOf: the batch's encoding from a cache (encoding-cache.ts) instead of the encoder;
 *   stopGradient: no gradient reaches the reconstruction (FinetuneOptions.stopGradient)
 * @returns batch -> scalar loss
 * @example const loss = finetuneLoss(prepareForFinetune(ae, classifier, speed), ae, classifier); loss(batch).backward();
 */
export function finetuneLoss(
  encoder: SegNetEncoder,
  ae: SegNet,
  classifier: Module,
  o: { trainWholeAe?: boolean; target?: (b: Batch) => Tensor; encodingOf?: (b: Batch, step: number) => Encoding; stopGradient?: boolean } = {},
): (b: Batch, step: number) => Tensor {
  const target = o.target ?? ((b: Batch) => b.y);
  return (b, step) => {
    const encoding = o.encodingOf ? o.encodingOf(b, step) : o.trainWholeAe ? encoder.encode(b.x) : noGrad(() => encoder.encode(b.x));
    const reconstruction = ae.decoder.decode(encoding);
    if (!o.stopGradient) return F.crossEntropy(classifier.forward(reconstruction), target(b));
    // Times 0 keeps the loss attached to the decoder's graph: backward runs and yields zeros.
    return F.crossEntropy(classifier.forward(reconstruction.detach()), target(b)).add(reconstruction.mul(0).sum());
  };
}

/** The check-set measurements a convergence monitor needs, computed without autograd. */
function convergenceChecks(encodeCheck: () => Encoding, ae: SegNet, classifier: Module, c: ConvergenceOptions, targetOf: (b: { x: Tensor; y: Tensor }) => Tensor) {
  const targets = noGrad(() => targetOf({ x: c.x, y: c.y }).clone());
  const accuracyOf = (logits: Tensor) => tidy(() => logits.argmax(1).eq(targets).float().mean().item());
  const originalAccuracy = noGrad(() => tidy(() => accuracyOf(classifier.forward(c.x))));
  const reconstructLoss = () =>
    noGrad(() =>
      tidy(() => {
        const logits = classifier.forward(ae.decoder.decode(encodeCheck()));
        return { loss: F.crossEntropy(logits, targets).item(), accuracy: accuracyOf(logits) };
      }),
    );
  const m = convergenceMonitor(c, reconstructLoss, originalAccuracy);
  return { ...m, originalAccuracy, final: () => ({ original: originalAccuracy, reconstructed: m.accuracy() }), dispose: () => targets.dispose() };
}
