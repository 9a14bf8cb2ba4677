// Measures over an evaluation set too large to hold in memory. Each measure is an accumulator:
// it is told up front how many images the set has, takes the set one chunk of images at a time
// (in evaluation order, any chunk sizes; the originals and every set of reconstructions cut at
// the same boundaries), keeps only a few numbers per image (or a fixed number of images picked
// up front), and gives the whole-set result from finish(). Every whole-set function of this
// folder is its accumulator fed a single chunk, so streamed and whole-set results come from one
// code path and agree exactly.
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';
import type { BootstrapOptions } from './bootstrap.js';

/**
 * A measure computed chunk by chunk: add() each chunk in order, then finish() once.
 * `Chunk` is what one chunk brings (e.g. originals and reconstructions [B, C, H, W] in [0, 1]).
 */
export interface Accumulator<Chunk extends unknown[], Result> {
  /** Adds the next chunk of images; returns the accumulator for chaining. */
  add(...chunk: Chunk): this;
  /** The whole-set result; intervals use `boot`. Throws unless every image of the set was added. */
  finish(boot?: BootstrapOptions): Result;
}

/** An accumulator of a measure of reconstructions against their originals. */
export type PairedAccumulator<Result> = Accumulator<[originals: ImageInput, reconstructions: ImageInput], Result>;

/**
 * Where a stream of chunks stands: checks that every chunk's sets hold the same images, of the
 * size of the first chunk's, that no more images come than announced, and that all came.
 */
export class ChunkCursor {
  private seen = 0;
  private imageShape: readonly number[] | null = null;

  /**
   * @param total The number of images the set has.
   * @param measure Names the measure in error messages.
   * @throws AnalysisError when total is not a non-negative integer.
   */
  constructor(
    readonly total: number,
    private readonly measure: string,
  ) {
    if (!Number.isInteger(total) || total < 0) throw new AnalysisError(`${measure}: the number of images must be a non-negative integer, got ${total}`);
  }

  /** Images added so far: the index in the set of the next chunk's first image. */
  get position(): number {
    return this.seen;
  }

  /**
   * Checks the next chunk and moves past it.
   *
   * @param sets The chunk's image sets (or tensors), all of the same images (e.g. originals, reconstructions).
   * @param names Names of the sets in error messages.
   * @returns The index in the set of the chunk's first image.
   * @throws AnalysisError when the sets differ in shape, their images differ in size from earlier chunks', or the chunk goes past the announced total.
   * @example
   * const offset = cursor.next([orig, recon], ['originals', 'reconstructions']);
   */
  next(sets: { shape: readonly number[] }[], names: string[]): number {
    sets.forEach((s, k) => assertSameShape(sets[0], s, names[0], names[k]));
    const [n, ...image] = sets[0].shape;
    this.imageShape ??= image;
    if (image.some((s, k) => s !== this.imageShape![k])) {
      throw new AnalysisError(`${this.measure}: a chunk of images [${image.join(', ')}] after chunks of [${this.imageShape.join(', ')}]; every chunk must hold images of one size`);
    }
    if (this.seen + n > this.total) throw new AnalysisError(`${this.measure}: chunks bring more than the ${this.total} images announced (${this.seen + n} so far); create the accumulator with the set's size`);
    const offset = this.seen;
    this.seen += n;
    return offset;
  }

  /**
   * Throws unless every announced image was added.
   *
   * @throws AnalysisError naming how many images are missing.
   * @example
   * cursor.end(); // before computing a result
   */
  end(): void {
    if (this.seen !== this.total) throw new AnalysisError(`${this.measure}: ${this.seen} of the ${this.total} images announced were added; add every chunk before finish()`);
  }
}

/**
 * A paired accumulator's chunk as plain data, checked against the stream, with its offset.
 *
 * @param cursor The accumulator's cursor.
 * @param originals Chunk of originals [B, C, H, W] in [0, 1].
 * @param reconstructions The same images as an AE gave them back.
 * @returns Both sets and the index in the set of the chunk's first image.
 * @throws AnalysisError on differing shapes or too many images.
 * @example
 * const { orig, recon, offset } = pairedChunk(this.cursor, originals, reconstructions);
 */
export function pairedChunk(cursor: ChunkCursor, originals: ImageInput, reconstructions: ImageInput): { orig: ImageSet; recon: ImageSet; offset: number } {
  const orig = toImageSet(originals, 'originals');
  const recon = toImageSet(reconstructions, 'reconstructions');
  return { orig, recon, offset: cursor.next([orig, recon], ['originals', 'reconstructions']) };
}

/**
 * The result of a paired accumulator fed the whole set as one chunk: what each whole-set
 * function is.
 *
 * @param create Makes the accumulator for a set of n images.
 * @param originals Images [N, C, H, W] in [0, 1].
 * @param reconstructions The same shape.
 * @param boot Resamples and seed of intervals, where the measure has any.
 * @example
 * const db = wholeSet((n) => new PsnrAccumulator(n), originals, reconstructions);
 */
export function wholeSet<R>(create: (n: number) => PairedAccumulator<R>, originals: ImageInput, reconstructions: ImageInput, boot?: BootstrapOptions): R {
  const orig = toImageSet(originals, 'originals');
  return create(orig.shape[0]).add(orig, reconstructions).finish(boot);
}

/**
 * A chunk of originals and of several named sets of their reconstructions, as plain data,
 * checked against the stream, with its offset.
 *
 * @param cursor The accumulator's cursor.
 * @param names One name per set of reconstructions, in the order they come.
 * @param originals Chunk of originals [B, C, H, W] in [0, 1].
 * @param reconstructions One chunk per name, of the same images.
 * @returns The originals, the sets and the index in the set of the chunk's first image.
 * @throws AnalysisError when the number of sets differs from the names, shapes differ, or too many images come.
 * @example
 * const { orig, sets, offset } = namedChunk(this.cursor, ['A_S', 'S2S-vgg'], originals, [generic, vgg]);
 */
export function namedChunk(cursor: ChunkCursor, names: readonly string[], originals: ImageInput, reconstructions: readonly ImageInput[]): { orig: ImageSet; sets: ImageSet[]; offset: number } {
  if (reconstructions.length !== names.length) throw new AnalysisError(`${reconstructions.length} sets of reconstructions for the ${names.length} names given (${names.join(', ')})`);
  const orig = toImageSet(originals, 'originals');
  const what = names.map((name) => `reconstructions of ${name}`);
  const sets = reconstructions.map((r, k) => toImageSet(r, what[k]));
  return { orig, sets, offset: cursor.next([orig, ...sets], ['originals', ...what]) };
}
