// A classifier fed images made for another input: the images arrive at one size and
// normalization (the data's, which the autoencoders work in) and the classifier wants its own
// (Inception v3: 299 px; any model: its training mean and std). The adapter de-normalizes,
// resizes and re-normalizes on the way in, differentiably, so a decoder fine-tune backpropagates
// through it like through the classifier. Resizing with weights that sum to one (bilinear,
// bicubic, antialiased or not) commutes with a per-channel affine map, so the
// de-normalize/re-normalize pair is one multiply-add, applied on whichever side of the resize
// holds fewer pixels.
import { F, tensor, type Tensor } from '../engine/index.js';
import { Module } from './module.js';
import { S2SNetsError } from '../common/errors.js';

/** How a resize interpolates; both are antialiased when shrinking, as PIL and torchvision's Resize are. */
export type ResizeMode = 'bilinear' | 'bicubic';

/** The images a model takes or is given: height x width, normalized per channel as (pixel - mean) / std. */
export interface ImageInput {
  height: number;
  width: number;
  mean: readonly number[];
  std: readonly number[];
}

/** An adapter cannot map one input onto the other. */
export class InputAdapterError extends S2SNetsError {
  override name = 'InputAdapterError';
  static override readonly codes = ['S2SNETS_INPUT_ADAPTER'] as const;
}

/**
 * Whether images in `from` reach a model that takes `to` unchanged: same size and the same mean
 * and std, value for value.
 * @param from the images as they come
 * @param to the images as the model takes them
 * @example sameInput({ height: 32, width: 32, mean: [0.5], std: [0.5] }, { height: 32, width: 32, mean: [0.5], std: [0.5] }) // true
 */
export function sameInput(from: ImageInput, to: ImageInput): boolean {
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  return from.height === to.height && from.width === to.width && same(from.mean, to.mean) && same(from.std, to.std);
}

/** A classifier behind the map from one input to another (see adaptInput). */
export class InputAdapter extends Module {
  private scale: Tensor | null;
  private shift: Tensor | null;

  /**
   * @param classifier the model that takes `target`
   * @param source the images as they come
   * @param target the images as the classifier takes them
   * @param resize the interpolation when the sizes differ
   * @throws InputAdapterError when the two inputs have different channel counts
   */
  constructor(
    readonly classifier: Module,
    readonly source: ImageInput,
    readonly target: ImageInput,
    readonly resize: ResizeMode,
  ) {
    super();
    const [from, to] = [source, target];
    const channels = from.mean.length;
    for (const v of [from.std, to.mean, to.std]) {
      if (v.length !== channels) throw new InputAdapterError(`the images have ${channels} channel(s) but the classifier's mean or std has ${v.length} values; give one mean and one std per channel`);
    }
    this.addModule('classifier', classifier);
    const renormalizes = !from.mean.every((m, c) => m === to.mean[c] && from.std[c] === to.std[c]);
    // x_to = (x_from * std_from + mean_from - mean_to) / std_to = x_from * scale + shift, per channel.
    const perChannel = (f: (c: number) => number) => tensor(Array.from({ length: channels }, (_, c) => f(c)), [1, channels, 1, 1]);
    this.scale = this.buffer('scale', renormalizes ? perChannel((c) => from.std[c] / to.std[c]) : null);
    this.shift = this.buffer('shift', renormalizes ? perChannel((c) => (from.mean[c] - to.mean[c]) / to.std[c]) : null);
  }

  /** Whether the images are resized on the way in. */
  get resizes(): boolean {
    return this.source.height !== this.target.height || this.source.width !== this.target.width;
  }

  /**
   * The images as the classifier takes them.
   * @param x [N, C, source.height, source.width] (any height and width: the resize makes them the target's)
   * @returns [N, C, target.height, target.width], normalized with the target's mean and std
   * @example const forOrt = adapter.adapt(batch);
   */
  adapt(x: Tensor): Tensor {
    const [h, w] = [x.shape[2], x.shape[3]];
    const { height, width } = this.target;
    const resizes = h !== height || w !== width;
    const shrinks = height < h || width < w;
    const resize = (t: Tensor) => (resizes ? F.interpolate(t, [height, width], this.resize, false, shrinks) : t);
    if (!this.scale || !this.shift) return resize(x);
    const affine = (t: Tensor) => t.mul(this.scale!).add(this.shift!);
    return height * width < h * w ? affine(resize(x)) : resize(affine(x));
  }

  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.adapt(x));
  }
}

/**
 * The classifier as a module that takes images in `from`: the classifier itself when `to` is the
 * same input (no extra operation, bit-identical outputs), else an InputAdapter around it.
 * @param classifier the model that takes `to`
 * @param from the images as they will come
 * @param to the images as the classifier takes them
 * @param resize the interpolation when the sizes differ (default 'bilinear')
 * @throws InputAdapterError when the inputs have different channel counts
 * @example
 * const inception = adaptInput(model, { height: 64, width: 64, mean, std }, { height: 299, width: 299, mean, std });
 * inception.forward(batch64); // logits of the batch resized to 299 px
 */
export function adaptInput(classifier: Module, from: ImageInput, to: ImageInput, resize: ResizeMode = 'bilinear'): Module {
  return sameInput(from, to) ? classifier : new InputAdapter(classifier, from, to, resize);
}

/**
 * The classifier inside an adapted module and the map onto its input, for a caller that runs the
 * classifier elsewhere (another runtime) on the same images: the identity when nothing adapts.
 * @param model what adaptInput returned
 * @example const { classifier, adapt } = unwrapAdapter(model); session.logits(adapt(x));
 */
export function unwrapAdapter(model: Module): { classifier: Module; adapt: ((x: Tensor) => Tensor) | null } {
  return model instanceof InputAdapter ? { classifier: model.classifier, adapt: (x) => model.adapt(x) } : { classifier: model, adapt: null };
}
