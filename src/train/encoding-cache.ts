// The frozen encoder's outputs for a fixed set of images, computed once and looked up by position.
// A decoder fine-tune (encoder frozen, no augmentation) gets the same code and pooling indices
// for an image in every epoch, so computing them once saves the encoder's share of every step
// after that: 18-23 % of the demo's step, a fifth or more at 224 px (NOTES.md). They are computed
// up front in fixed chunks, so a resumed fine-tune reads exactly what an uninterrupted one read.
// Pooling indices are kept as each maximum's offset in its 2x2 window: one byte instead of eight.
import { arange, empty, keep, noGrad, tidy, type Tensor } from '../engine/index.js';
import type { Encoding, SegNetConfig, SegNetEncoder } from '../models/segnet.js';

export class EncodingCacheError extends Error {
  override name = 'EncodingCacheError';
  readonly code = 'S2S_ENCODING_CACHE';
}

/** Images encoded per forward pass while the cache is built. */
const BUILD_CHUNK = 128;

/**
 * Bytes the cache takes per image: the float32 code plus one byte per pooled position of every
 * stage.
 * @param config the SegNet's input channels and stages
 * @param height the image height (a multiple of 2^stages)
 * @param width the image width (likewise)
 * @example encodingBytesPerImage({ inChannels: 1, stages: SMALL_STAGES }, 32, 32) // 28,672
 */
export function encodingBytesPerImage(config: SegNetConfig, height: number, width: number): number {
  let bytes = 0;
  let [h, w] = [height, width];
  for (const widths of config.stages) {
    [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
    bytes += widths[widths.length - 1] * h * w;
  }
  return bytes + 4 * config.stages[config.stages.length - 1].at(-1)! * h * w;
}

/** Flat position in the pre-pool H x W plane of each 2x2 window's top-left element: [1, 1, h, w]. */
function windowCorners(h: number, w: number, width: number): Tensor {
  return tidy(() => {
    const rows = arange(0, h, 1, { dtype: 'float32' }).mul(2 * width).view([1, 1, h, 1]);
    const cols = arange(0, w, 1, { dtype: 'float32' }).mul(2).view([1, 1, 1, w]);
    return rows.add(cols);
  });
}

export class EncodingCache {
  private constructor(
    /** [N, C, h, w] float32. */
    private readonly code: Tensor,
    /** Per stage [N, C_s, h_s, w_s] uint8: 2 * (row offset) + (column offset) of each maximum in its window. */
    private readonly offsets: Tensor[],
    /** Per stage, the size before pooling (what max-unpooling restores). */
    private readonly sizes: [number, number][],
    /** Per stage, windowCorners of its pooled size. */
    private readonly corners: Tensor[],
    private readonly channelsLast: boolean,
  ) {}

  /**
   * Encodes every image once with the (frozen) encoder.
   * @param encoder the encoder that computes the codes (eval mode, frozen; folded or not)
   * @param images [N, C, H, W] model inputs (moved to the encoder's device a chunk at a time)
   * @param o channelsLast: the layout the encoder's weights are in (the codes come back in it)
   * @returns the cache (dispose it when the fine-tune ends)
   * @throws EncodingCacheError when a stage's size is odd, or a plane too large for exact offsets
   * @example const cache = EncodingCache.build(encoder, train.images, { channelsLast: true });
   */
  static build(encoder: SegNetEncoder, images: Tensor, o: { channelsLast: boolean }): EncodingCache {
    const n = images.shape[0];
    const device = encoder.parameters()[0].device;
    let code: Tensor | null = null;
    let offsets: Tensor[] = [];
    let sizes: [number, number][] = [];
    for (let start = 0; start < n; start += BUILD_CHUNK) {
      noGrad(() =>
        tidy(() => {
          const x = images.slice(0, start, Math.min(n, start + BUILD_CHUNK)).to({ device });
          const e = encoder.encode(o.channelsLast ? x.contiguous('channels_last') : x);
          if (!code) {
            for (const [h, w] of e.sizes) {
              if (h % 2 || w % 2) throw new EncodingCacheError(`cannot cache encodings: a ${h}x${w} feature map does not split into 2x2 pooling windows`);
              if (h * w >= 2 ** 24) throw new EncodingCacheError(`cannot cache encodings: a ${h}x${w} feature map is too large for exact window offsets`);
            }
            sizes = e.sizes;
            code = keep(empty([n, ...e.code.shape.slice(1)], { dtype: 'float32', device: e.code.device }));
            offsets = e.indices.map((idx) => keep(empty([n, ...idx.shape.slice(1)], { dtype: 'uint8', device: idx.device })));
          }
          code.slice(0, start, start + x.shape[0]).copy_(e.code);
          e.indices.forEach((idx, s) => offsets[s].slice(0, start, start + x.shape[0]).copy_(windowOffsets(idx, sizes[s][1])));
        }),
      );
    }
    if (!code) throw new EncodingCacheError('cannot cache encodings of an empty image set');
    const corners = offsets.map((t, s) => windowCorners(t.shape[2], t.shape[3], sizes[s][1]));
    return new EncodingCache(code, offsets, sizes, corners, o.channelsLast);
  }

  /** Images held. */
  get images(): number {
    return this.code.shape[0];
  }

  /**
   * The encoding of the images at `positions`, as the encoder returned it (int64 pooling indices).
   * @param positions int64 [B] positions in the image set the cache was built from (any device)
   * @example const encoding = cache.lookup(tensor(BigInt64Array.from([3n, 7n])));
   */
  lookup(positions: Tensor): Encoding {
    return tidy(() => {
      const at = positions.to({ device: this.code.device });
      const code = this.code.indexSelect(0, at);
      const indices = this.offsets.map((o, s) => {
        const offset = o.indexSelect(0, at).to({ dtype: 'float32' });
        const row = offset.div(2).floor();
        const col = offset.sub(row.mul(2));
        return this.corners[s].add(row.mul(this.sizes[s][1])).add(col).long();
      });
      return { code: this.channelsLast ? code.contiguous('channels_last') : code, indices, sizes: this.sizes };
    });
  }

  dispose(): void {
    for (const t of [this.code, ...this.offsets, ...this.corners]) t.dispose();
  }
}

/** Each maximum's offset in its 2x2 window, 2 * row + column, from its flat index in a plane `width` wide. */
function windowOffsets(indices: Tensor, width: number): Tensor {
  return tidy(() => {
    const flat = indices.to({ dtype: 'float64' });
    const row = flat.div(width).floor();
    const col = flat.sub(row.mul(width));
    const parity = (t: Tensor) => t.sub(t.div(2).floor().mul(2));
    return parity(row).mul(2).add(parity(col)).to({ dtype: 'uint8' });
  });
}
