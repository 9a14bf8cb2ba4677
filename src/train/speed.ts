// Speed options for decoder fine-tuning. The method leaves the classifier (and, by default, the
// encoder) frozen in eval mode, which allows what a generic PyTorch training loop does not do:
// fold their BatchNorms into their convolutions. On top of that, the usual mixed
// precision and memory-layout switches. Each keeps the loss curve of the plain step within a
// tolerance (test/train/speed.test.ts): 1e-4 for folding and channels_last, a few percent for
// bfloat16 autocast.
import { autocast, setCudnnBenchmark, type Tensor } from '../engine/index.js';
import { foldBatchNorm, type Module } from '../nn/index.js';
import { SegNetEncoder, type SegNet } from '../models/segnet.js';
import type { Batch } from '../data/index.js';
import { S2SNetsError } from '../common/errors.js';

export interface SpeedOptions {
  /** Run the forward pass under autocast: convolutions and matmuls in this dtype (CPU: bfloat16 only). */
  autocast?: 'bfloat16' | 'float16';
  /** NHWC layout for the weights and the input batch; activations follow (pays with tensor cores and oneDNN). */
  channelsLast?: boolean;
  /**
   * Fold the BatchNorms of the frozen networks into their convolutions: the classifier's (changes
   * its state dict: use an instance you will not save) and the frozen encoder's (in a copy that
   * computes the codes; the AE keeps its own weights).
   */
  foldFrozenBn?: boolean;
  /** Let cuDNN time its algorithms per input shape (CUDA only; fixed shapes, may be non-deterministic). */
  cudnnBenchmark?: boolean;
}

export class SpeedOptionError extends S2SNetsError {
  override name = 'SpeedOptionError';
  static override readonly codes = ['S2SNETS_SPEED_OPTION'] as const;
}

function deviceTypeOf(m: Module): 'cpu' | 'cuda' {
  const first = m.parameters()[0];
  return first && first.device.startsWith('cuda') ? 'cuda' : 'cpu';
}

function check(o: SpeedOptions, deviceType: 'cpu' | 'cuda'): void {
  if (o.autocast !== undefined && o.autocast !== 'bfloat16' && o.autocast !== 'float16') {
    throw new SpeedOptionError(`autocast must be 'bfloat16' or 'float16', got '${String(o.autocast)}'`);
  }
  if (o.autocast === 'float16' && deviceType === 'cpu') {
    throw new SpeedOptionError("autocast 'float16' needs a CUDA device; on the CPU use 'bfloat16'");
  }
}

/**
 * Applies the options to the models of a decoder fine-tune: the classifier is set to eval mode
 * and frozen (as the method requires) and optionally BN-folded; both models optionally move to
 * channels_last. Call it before building the optimizer: a layout change replaces the parameter
 * tensors.
 * @param ae the autoencoder (its encoder already frozen and in eval mode when it is not trained)
 * @param classifier the classifier the decoder learns from
 * @param o the speed options
 * @param runsEncoder false when the fine-tune reads precomputed encodings and never runs the
 *   encoder: then no folded copy is made
 * @returns the encoder that computes the codes: a BN-folded copy of a frozen encoder with
 *   `foldFrozenBn` (when it runs), else ae.encoder itself
 * @throws SpeedOptionError for an autocast dtype the device cannot run
 * @example const encoder = prepareForFinetune(ae, classifier, { foldFrozenBn: true, channelsLast: true });
 */
export function prepareForFinetune(ae: SegNet, classifier: Module, o: SpeedOptions, runsEncoder = true): SegNetEncoder {
  check(o, deviceTypeOf(ae));
  classifier.eval().freeze();
  const frozen = !ae.encoder.training && ae.encoder.trainableParameters().length === 0;
  if (o.foldFrozenBn) foldBatchNorm(classifier);
  if (o.channelsLast) for (const m of [ae, classifier]) m.to({ memoryFormat: 'channels_last' });
  if (o.cudnnBenchmark && deviceTypeOf(ae) === 'cuda') setCudnnBenchmark(true);
  return frozen && runsEncoder ? frozenEncoder(ae, o) : ae.encoder;
}

/**
 * The frozen encoder as a fine-tune with these options runs it: a BN-folded copy with
 * `foldFrozenBn` (ae.encoder itself otherwise), in channels_last with `channelsLast`. The encode
 * job computes the fine-tunes' shared encodings with it.
 * @param ae the autoencoder, its encoder frozen and in eval mode
 * @param o the speed options
 * @example const encodings = encodeAll(images, 32, (x) => noGrad(() => frozenEncoder(ae, speed).encode(speedLayout(speed)(x))), ...);
 */
export function frozenEncoder(ae: SegNet, o: SpeedOptions): SegNetEncoder {
  let encoder = ae.encoder;
  if (o.foldFrozenBn) {
    encoder = new SegNetEncoder(ae.config).to({ device: ae.parameters()[0].device });
    encoder.loadStateDict(ae.encoder.stateDict());
    foldBatchNorm(encoder.eval().freeze());
  }
  if (o.channelsLast) encoder.to({ memoryFormat: 'channels_last' });
  return encoder;
}

/**
 * How images enter models prepared with these options: NHWC-contiguous with channelsLast, as they are otherwise.
 * @param o the speed options the models were prepared with
 * @example const encoding = encoder.encode(speedLayout(speed)(x));
 */
export function speedLayout(o: SpeedOptions): (x: Tensor) => Tensor {
  return o.channelsLast ? (x) => x.contiguous('channels_last') : (x) => x;
}

/**
 * Wraps a fine-tune loss: the batch enters in the chosen layout, the forward pass runs under
 * autocast, and the loss comes back in float32 (backward then runs outside autocast, as
 * recommended for mixed precision).
 */
export function withSpeedOptions<B extends Batch>(o: SpeedOptions, deviceType: 'cpu' | 'cuda', loss: (b: B, step: number) => Tensor): (b: B, step: number) => Tensor {
  check(o, deviceType);
  const layout = speedLayout(o);
  return (b, step) => {
    const batch = o.channelsLast ? { ...b, x: layout(b.x) } : b;
    const value = o.autocast ? autocast(deviceType, o.autocast, () => loss(batch, step)) : loss(batch, step);
    return value.dtype === 'float32' ? value : value.float();
  };
}

/**
 * Copies a batch to a device. From the host to CUDA it goes through pinned (page-locked)
 * memory without blocking the host, so the copy overlaps queued GPU work. A batch already on
 * the device is returned as it is; otherwise the result is a new pair of tensors.
 */
export function toDeviceAsync(b: Batch, device: string): Batch {
  if (b.x.device === device) return b;
  return { x: b.x.transferTo(device), y: b.y.transferTo(device) };
}
