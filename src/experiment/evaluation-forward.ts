// Which engine runs an evaluation's forward-only passes of a classifier. An imported ONNX
// classifier runs on ONNX Runtime when it makes the same decisions as the libtorch import on the
// run's evaluation images (identical top-1 and top-5 hits, logits within LOGIT_TOLERANCE
// relative); otherwise, and for every other classifier, on libtorch. A zoo classifier runs
// loaded for inference (BatchNorms folded, NHWC on the CPU: nn/fuse.ts inferenceForward). Evaluation needs no
// gradients; training and fine-tuning always run on libtorch.
import { engineInfo, noGrad, tidy, type Tensor } from '../engine/index.js';
import { inferenceForward, unwrapAdapter, type Module } from '../nn/index.js';
import { OnnxInference, OnnxModule, OnnxRuntimeError } from '../import/onnx/index.js';
import { batchPredictions, type Forward } from '../analysis/index.js';
import type { ClassifierEntry } from './plan.js';

/** Environment variable that turns ONNX Runtime off for evaluations (`0`); any other value or none leaves it on. */
export const ONNX_RUNTIME_ENV = 'S2SNETS_ONNX_RUNTIME';

/** Largest max |ONNX Runtime - libtorch| / max |libtorch| over the evaluation logits that still counts as the same model. */
export const LOGIT_TOLERANCE = 1e-4;

/** How ONNX Runtime's logits compared with the libtorch import's on a set of images. */
export interface LogitAgreement {
  images: number;
  /** Images whose top-1 class or top-5 hit differs. */
  differentDecisions: number;
  /** max |ort - ours| / max |ours| over all logits. */
  relativeError: number;
}

/** A classifier's forward for the evaluation, the engine it runs on, and how to free that engine (a second close does nothing). */
export interface EvaluationForward {
  forward: Forward;
  engine: 'libtorch' | 'ONNX Runtime';
  close(): Promise<void>;
}

/**
 * Why ONNX Runtime may not stand in for the libtorch import, or null when it may.
 *
 * @param a The comparison on the evaluation images.
 * @returns A one-line reason, or null.
 * @example
 * agreementProblem({ images: 100, differentDecisions: 0, relativeError: 3e-7 }); // null
 */
export function agreementProblem(a: LogitAgreement): string | null {
  if (a.differentDecisions > 0) return `${a.differentDecisions} of ${a.images} evaluation images get another top-1 class or top-5 hit`;
  if (!(a.relativeError <= LOGIT_TOLERANCE)) return `logits differ by ${a.relativeError.toExponential(2)} relative (more than ${LOGIT_TOLERANCE})`;
  return null;
}

/**
 * Compares two engines' logits of the same images batch by batch.
 *
 * @param batches Pairs of logits [B, K] (libtorch's first) with the labels [B] of their images.
 * @returns Decisions that differ and the relative error of the logits over all batches.
 * @example
 * logitAgreement([{ ours, theirs, labels }]).differentDecisions;
 */
export function logitAgreement(batches: Iterable<{ ours: Tensor; theirs: Tensor; labels: Tensor }>): LogitAgreement {
  let images = 0;
  let differentDecisions = 0;
  let diff = 0;
  let scale = 0;
  for (const { ours, theirs, labels } of batches) {
    const a = batchPredictions(ours, labels);
    const b = batchPredictions(theirs, labels);
    for (let i = 0; i < a.top1.length; i++) if (a.top1[i] !== b.top1[i] || (a.top5Hit && a.top5Hit[i] !== b.top5Hit![i])) differentDecisions++;
    images += a.top1.length;
    tidy(() => {
      diff = Math.max(diff, theirs.sub(ours).abs().max().item());
      scale = Math.max(scale, ours.abs().max().item());
    });
  }
  return { images, differentDecisions, relativeError: scale === 0 ? (diff === 0 ? 0 : Infinity) : diff / scale };
}

/**
 * The forward an evaluation uses for one classifier: ONNX Runtime for an imported ONNX model on
 * the CPU when ONNX_RUNTIME_ENV does not turn it off and it agrees with the libtorch import on
 * `check` (see agreementProblem), else the libtorch module. Says which in `log`, once.
 *
 * @param entry The classifier as the plan names it.
 * @param model Its libtorch module (frozen, eval mode; a zoo model is folded in place).
 * @param check The evaluation's model inputs [N, C, H, W], labels [N] and batch size.
 * @param device The run's device (ONNX Runtime serves only 'cpu').
 * @param log One line for the run's log.
 * @returns The forward and a close() to call when the evaluation is done.
 * @throws Errors of the libtorch module's forward (ONNX Runtime's own failures fall back to libtorch).
 * @example
 * const f = await evaluationForward(entry, model, { images, labels, batchSize: 250 }, 'cpu', ctx.log);
 * await predictClassifier(f.forward, images, labels); await f.close();
 */
export async function evaluationForward(
  entry: ClassifierEntry,
  model: Module,
  check: { images: Tensor; labels: Tensor; batchSize: number },
  device: string,
  log: (line: string) => void,
): Promise<EvaluationForward> {
  // A zoo model is this evaluation's own instance: it may be folded and laid out for inference.
  const forward = 'zoo' in entry ? inferenceForward(model, { channelsLast: device === 'cpu' }) : (x: Tensor) => model.forward(x);
  const libtorch: EvaluationForward = { forward, engine: 'libtorch', close: async () => {} };
  // A classifier behind an input adapter (classifier-sources.ts openClassifier) gets ONNX Runtime's
  // input through the same adapter, run on libtorch.
  const { classifier, adapt } = unwrapAdapter(model);
  if (!('onnx' in entry) || device !== 'cpu' || process.env[ONNX_RUNTIME_ENV] === '0' || !(classifier instanceof OnnxModule)) return libtorch;
  let session: OnnxInference | null = null;
  try {
    session = await OnnxInference.open(entry.onnx, { threads: engineInfo().threads, fixedBatch: classifier.info.fixedBatch });
    const ortLogits = adaptedLogits(session, adapt);
    const pairs: { ours: Tensor; theirs: Tensor; labels: Tensor }[] = [];
    const n = check.images.shape[0];
    let agreement: LogitAgreement;
    try {
      for (let start = 0; start < n; start += check.batchSize) {
        const x = check.images.slice(0, start, start + check.batchSize);
        const ours = noGrad(() => tidy(() => model.forward(x)));
        pairs.push({ ours, theirs: await ortLogits(x), labels: check.labels.slice(0, start, start + check.batchSize) });
        x.dispose();
      }
      agreement = logitAgreement(pairs);
    } finally {
      for (const p of pairs) for (const t of [p.ours, p.theirs, p.labels]) t.dispose();
    }
    const problem = agreementProblem(agreement);
    if (problem) {
      log(`${entry.onnx}: the evaluation runs on libtorch, not ONNX Runtime: ${problem}`);
      await session.close();
      return libtorch;
    }
    log(
      `${entry.onnx}: the evaluation's forward passes run on ONNX Runtime (same top-1 on the ${agreement.images} evaluation images as the libtorch import, logits within ${agreement.relativeError.toExponential(2)} relative)`,
    );
    const ort = session;
    let closed: Promise<void> | null = null;
    // Idempotent: the evaluation closes its forwards when done with them and again on every exit path.
    return { forward: ortLogits, engine: 'ONNX Runtime', close: () => (closed ??= ort.close()) };
  } catch (e) {
    if (!(e instanceof OnnxRuntimeError)) throw e;
    await session?.close();
    log(`${entry.onnx}: the evaluation runs on libtorch, not ONNX Runtime: ${e.message}`);
    return libtorch;
  }
}

/**
 * ONNX Runtime's logits of images mapped by `adapt` first (on libtorch, without autograd), or of
 * the images themselves without one. The mapped batch is freed once its pixels are copied
 * (logits copies them before its first await), so the forward can run inside a tidy scope or not.
 */
function adaptedLogits(session: OnnxInference, adapt: ((x: Tensor) => Tensor) | null): (x: Tensor) => Promise<Tensor> {
  if (!adapt) return (x) => session.logits(x);
  return (x) => {
    const input = noGrad(() => adapt(x));
    try {
      return session.logits(input);
    } finally {
      input.dispose();
    }
  };
}
