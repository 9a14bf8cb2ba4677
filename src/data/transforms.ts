// Image transforms on tensors shaped [C, H, W] or [N, C, H, W] (values usually in [0, 1]).
// The geometry helpers (resizedSize, centerCropBox) are shared with the image-folder decoder,
// which applies the same resize and crop inside sharp, off the main thread.
import { F, tensor, tidy, type Tensor } from '../engine/index.js';
import type { Rng } from './random.js';
import { S2SNetsError } from '../common/errors.js';

export type Triple = readonly [number, number, number];

/** Per-channel statistics of ImageNet, as torchvision's pretrained models expect them. */
export const IMAGENET_MEAN: Triple = [0.485, 0.456, 0.406];
export const IMAGENET_STD: Triple = [0.229, 0.224, 0.225];
/** Statistics of the original MNIST training set (60,000 digits). */
export const MNIST_MEAN: readonly [number] = [0.1307];
export const MNIST_STD: readonly [number] = [0.3081];
/** Statistics of the original Fashion-MNIST training set. */
export const FASHION_MNIST_MEAN: readonly [number] = [0.286];
export const FASHION_MNIST_STD: readonly [number] = [0.353];

export class TransformError extends S2SNetsError {
  override name = 'TransformError';
  static override readonly codes = ['S2SNETS_TRANSFORM'] as const;
}

function spatial(x: Tensor, what: string): { h: number; w: number; channelDim: number } {
  if (x.ndim !== 3 && x.ndim !== 4) throw new TransformError(`${what} takes [C, H, W] or [N, C, H, W] images, got shape [${x.shape}]`);
  return { h: x.size(-2), w: x.size(-1), channelDim: x.ndim - 3 };
}

function checkPerChannel(values: readonly number[], what: string, channels: number): void {
  if (values.length !== channels) throw new TransformError(`${what}: ${values.length} statistics given for ${channels} channels`);
}

function checkPositiveStd(std: readonly number[], what: string): void {
  if (std.some((s) => !(s > 0))) throw new TransformError(`${what}: std must be positive, got [${std}]`);
}

/** Statistics as a tensor broadcastable against the channel dimension of x. */
function perChannel(x: Tensor, values: readonly number[], what: string, channelDim: number): Tensor {
  const c = x.shape[channelDim];
  checkPerChannel(values, what, c);
  return tensor([...values], [c, 1, 1], { dtype: x.dtype, device: x.device });
}

/** (x - mean) / std per channel. */
export function normalize(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  return tidy(() => normalizeInPlace(x.clone(), mean, std));
}

/**
 * normalize, writing into x's own memory (bit-identical to normalize): a batch of 64 images at
 * 224 px is 38 MB of float, and each fresh buffer that size costs its page faults again.
 * @param x [C, H, W] or [N, C, H, W] float images, overwritten
 * @param mean per channel
 * @param std per channel, positive
 * @throws TransformError for a wrong shape, a statistic per channel missing, or a std not positive
 * @example normalizeInPlace(bytes.float().div_(255), IMAGENET_MEAN, IMAGENET_STD)
 */
export function normalizeInPlace(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  const { channelDim } = spatial(x, 'normalize');
  checkPositiveStd(std, 'normalize');
  tidy(() => void x.sub_(perChannel(x, mean, 'normalize mean', channelDim)).div_(perChannel(x, std, 'normalize std', channelDim)));
  return x;
}

/**
 * Interleaved image bytes as normalized float images, bit-identical to
 * `normalizeInPlace(bytes.permute([0, 3, 1, 2]).float().div_(255), mean, std)` and laid out the
 * same (channels last). The statistics are tiled along a whole row of pixels, so each operation
 * runs over rows of W x C contiguous values: broadcast over the channel dimension, whose stride is
 * 1 here, the same two operations ran 3x slower (11 against 4 ms for 64 images at 224 px).
 * @param bytes [N, H, W, C] uint8
 * @param mean per channel
 * @param std per channel, positive
 * @returns [N, C, H, W] float32, channels-last strides
 * @throws TransformError for a wrong shape, a statistic per channel missing, or a std not positive
 * @example normalizedFromBytes(tensor(pixels, [64, 224, 224, 3]), IMAGENET_MEAN, IMAGENET_STD)
 */
export function normalizedFromBytes(bytes: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  if (bytes.ndim !== 4) throw new TransformError(`normalizedFromBytes takes [N, H, W, C] bytes, got shape [${bytes.shape}]`);
  const [n, h, w, c] = bytes.shape;
  checkPerChannel(mean, 'normalizedFromBytes mean', c);
  checkPerChannel(std, 'normalizedFromBytes std', c);
  checkPositiveStd(std, 'normalizedFromBytes');
  const alongRow = (values: readonly number[]) => tensor(Float32Array.from({ length: w * c }, (_, i) => values[i % c]), [w * c], { device: bytes.device });
  return tidy(() => {
    const rows = bytes.reshape([n * h, w * c]).float().div_(255); // [N*H, W*C]
    rows.sub_(alongRow(mean)).div_(alongRow(std));
    return rows.view([n, h, w, c]).permute([0, 3, 1, 2]); // [N, C, H, W], channels last
  });
}

/** The inverse of normalize: x * std + mean per channel. */
export function denormalize(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  const { channelDim } = spatial(x, 'denormalize');
  return tidy(() => x.mul(perChannel(x, std, 'denormalize std', channelDim)).add(perChannel(x, mean, 'denormalize mean', channelDim)));
}

/** Height and width after scaling the shorter side to `size`, keeping the aspect ratio (as torchvision's Resize(int)). */
export function resizedSize(height: number, width: number, size: number): [number, number] {
  if (height <= width) return [size, Math.max(1, Math.floor((size * width) / height))];
  return [Math.max(1, Math.floor((size * height) / width)), size];
}

/** Python's round(): halves go to the even neighbour. torchvision's center crop uses it. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Top-left corner of a centred cropHeight x cropWidth box in a height x width image (torchvision's rounding). */
export function centerCropBox(height: number, width: number, cropHeight: number, cropWidth: number): { top: number; left: number } {
  if (cropHeight > height || cropWidth > width) throw new TransformError(`center crop ${cropHeight}x${cropWidth} is larger than the image (${height}x${width})`);
  return { top: roundHalfEven((height - cropHeight) / 2), left: roundHalfEven((width - cropWidth) / 2) };
}

export type Size = number | readonly [number, number];

function pair(size: Size): [number, number] {
  return typeof size === 'number' ? [size, size] : [size[0], size[1]];
}

/** The centred size[0] x size[1] window (a number means a square). */
export function centerCrop(x: Tensor, size: Size): Tensor {
  const { h, w } = spatial(x, 'centerCrop');
  const [ch, cw] = pair(size);
  const { top, left } = centerCropBox(h, w, ch, cw);
  return tidy(() => x.narrow(-2, top, ch).narrow(-1, left, cw).contiguous());
}

/** Pads the image to size[0] x size[1] with `value`, centred (e.g. MNIST 28x28 -> 32x32 with 2 on each side). */
export function padTo(x: Tensor, size: Size, value = 0): Tensor {
  const { h, w } = spatial(x, 'padTo');
  const [th, tw] = pair(size);
  if (th < h || tw < w) throw new TransformError(`padTo: target ${th}x${tw} is smaller than the image (${h}x${w})`);
  const top = Math.floor((th - h) / 2);
  const left = Math.floor((tw - w) / 2);
  return x.pad([left, tw - w - left, top, th - h - top], 'constant', value);
}

/** Bilinear resize of the shorter side to `size` (antialiased when shrinking, like PIL and sharp). */
export function resizeShorter(x: Tensor, size: number): Tensor {
  const { h, w } = spatial(x, 'resizeShorter');
  const target = resizedSize(h, w, size);
  return tidy(() => {
    const batch = x.ndim === 4 ? x : x.unsqueeze(0);
    const shrinking = target[0] < h || target[1] < w;
    const out = F.interpolate(batch, target, 'bilinear', false, shrinking);
    return x.ndim === 4 ? out : out.squeeze(0);
  });
}

/**
 * Training augmentation: shifts the whole batch by (dy, dx), drawn uniformly from
 * [-maxShift, maxShift] with `rng`, repeating the border pixels into the uncovered strip.
 */
export function randomTranslate(x: Tensor, maxShift: number, rng: Rng): Tensor {
  const { h, w } = spatial(x, 'randomTranslate');
  if (!Number.isInteger(maxShift) || maxShift < 0 || maxShift >= Math.min(h, w)) throw new TransformError(`randomTranslate: maxShift must be an integer in [0, ${Math.min(h, w)}), got ${maxShift}`);
  if (maxShift === 0) return x.clone();
  const dy = rng.int(2 * maxShift + 1);
  const dx = rng.int(2 * maxShift + 1);
  return tidy(() => x.pad([maxShift, maxShift, maxShift, maxShift], 'replicate').narrow(-2, dy, h).narrow(-1, dx, w).contiguous());
}

/** A crop window in pixels of the source image. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** torchvision's RandomResizedCrop defaults: 8-100 % of the area, aspect ratio 3/4 to 4/3. */
export const RANDOM_CROP_SCALE: readonly [number, number] = [0.08, 1];
export const RANDOM_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

/**
 * The window torchvision's RandomResizedCrop picks in a height x width image: up to 10 draws of an
 * area share in `scale` and a log-uniform aspect ratio in `ratio`, the first that fits placed
 * uniformly; else the largest centred window whose ratio is clamped to `ratio`.
 * @param height source height
 * @param width source width
 * @param rng the draws (seed it per image and epoch for a reproducible run)
 * @param scale area share range
 * @param ratio width/height range
 * @example randomResizedCropBox(375, 500, new Rng(7)) // { top, left, height, width }
 */
export function randomResizedCropBox(height: number, width: number, rng: Rng, scale = RANDOM_CROP_SCALE, ratio = RANDOM_CROP_RATIO): CropBox {
  const area = height * width;
  const [logLo, logHi] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) return { top: rng.int(height - h + 1), left: rng.int(width - w + 1), height: h, width: w };
  }
  const inRatio = width / height;
  const [h, w] = inRatio < ratio[0] ? [Math.round(width / ratio[0]), width] : inRatio > ratio[1] ? [height, Math.round(height * ratio[1])] : [height, width];
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}
