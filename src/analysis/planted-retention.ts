// Planted-signal retention: on the planted datasets (data/planted.ts) the truth of every image
// is known (its shape's mask, shape and colour), so how well an AE's reconstructions keep the
// class carrier and the nuisance can be measured directly, without any classifier. Both probes
// name what a reconstruction shows by the nearest prototype of the generator itself:
// - colour: the mean RGB of the reconstruction over the shape's mask, named by the palette
//   colour whose direction in RGB it is closest to (the generator draws a shape as palette colour
//   x brightness, so a palette colour is a ray from black and brightness cannot change the
//   name; a lower saturation turns the ray towards grey, and the originals' own score shows
//   whether the names still hold). `paletteAgreement` is the share of images whose reconstruction keeps the planted
//   colour; `meanDeltaE` the mean CIE76 distance between the mean shape colours of
//   reconstruction and original, i.e. how far the colour drifted whatever its name.
// - shape: each reconstructed pixel is assigned to the shape or the background by which of the
//   reconstruction's own two mean colours (over the true mask and over the rest) it is closer
//   to. `maskIou` is the mean IoU of that cut-out with the true mask (how sharp the outline
//   stayed); `shapeAgreement` the share of images whose cut-out is best matched (IoU) by the
//   planted shape among all four shapes redrawn with the cut-out's area and centroid (whether the
//   shape can still be told, whatever its edges).
// Per-image values come with bootstrap intervals, and the carrier's change against A_S is paired.
import { inMask, PLANTED_COLOURS, PLANTED_PALETTE, PLANTED_SHAPES, shapeCoverage, type PlantedCarrier, type PlantedTruth } from '../data/index.js';
import { meanEstimate, type BootstrapOptions, type Estimate, type Interval } from './bootstrap.js';
import { AnalysisError, toImageSet, type ImageInput, type ImageSet } from './images.js';
import { ChunkCursor, namedChunk, pairedChunk, wholeSet, type Accumulator, type PairedAccumulator } from './stream.js';
import { labInto } from './lab.js';
import { pairedChange } from './uncertainty.js';
import { blurredImages, greyImages } from './controls.js';

/** Per-image retention: 1/0 per image for the agreements, the value per image otherwise. */
export interface PlantedRetentionEach {
  paletteAgreement: Uint8Array;
  shapeAgreement: Uint8Array;
  deltaE: Float64Array;
  maskIou: Float64Array;
}

export interface PlantedRetention {
  /** Share of images whose reconstructed shape colour is nearest (RGB direction) to the planted palette colour. */
  paletteAgreement: number;
  /** Share of images whose cut-out shape is best matched by the planted shape. */
  shapeAgreement: number;
  /** Mean CIE76 ΔE between the mean shape colours of reconstruction and original. */
  meanDeltaE: number;
  /** Mean IoU of the shape cut out of the reconstruction with the planted mask. */
  maskIou: number;
  ci95: { paletteAgreement: Interval; shapeAgreement: Interval; meanDeltaE: Interval; maskIou: Interval };
}

const unit = (v: readonly number[]) => {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
};
const PALETTE_DIRECTIONS = PLANTED_COLOURS.map((name) => unit(PLANTED_PALETTE[name]));

/** Index of the palette colour whose RGB direction is nearest (largest cosine) to `rgb`. */
function nearestPaletteColour(rgb: readonly number[]): number {
  let best = 0;
  let bestCosine = -Infinity;
  PALETTE_DIRECTIONS.forEach((d, k) => {
    const cosine = d[0] * rgb[0] + d[1] * rgb[1] + d[2] * rgb[2];
    if (cosine > bestCosine) [best, bestCosine] = [k, cosine];
  });
  return best;
}

/**
 * Each shape's area (in units of r²) and the offset of its centroid from its centre (in units
 * of r), measured on a large drawing so that pixel rounding is negligible.
 */
const SHAPE_GEOMETRY = PLANTED_SHAPES.map((_, shape) => {
  const r = 40;
  const side = 100;
  let area = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const c = shapeCoverage(shape, side / 2, side / 2, r, x, y);
      area += c;
      sx += c * (x + 0.5);
      sy += c * (y + 0.5);
    }
  }
  return { area: area / (r * r), offsetX: (sx / area - side / 2) / r, offsetY: (sy / area - side / 2) / r };
});

/** Mean RGB of image i over the pixels where its mask (one image's) == inside. */
function meanColour(set: ImageSet, i: number, mask: Uint8Array, inside: number): [number, number, number] {
  const plane = set.shape[2] * set.shape[3];
  const sums = [0, 0, 0];
  let count = 0;
  for (let p = 0; p < plane; p++) {
    if (mask[p] !== inside) continue;
    count++;
    for (let c = 0; c < 3; c++) sums[c] += set.data[(i * 3 + c) * plane + p];
  }
  return sums.map((s) => s / Math.max(1, count)) as [number, number, number];
}

/** The shape cut out of reconstruction i: pixels closer to its mean colour inside its true mask (`fg`) than outside. */
function cutOut(set: ImageSet, i: number, mask: Uint8Array, fg: readonly number[]): Uint8Array {
  const plane = set.shape[2] * set.shape[3];
  const bg = meanColour(set, i, mask, 0);
  const cut = new Uint8Array(plane);
  for (let p = 0; p < plane; p++) {
    let dFg = 0;
    let dBg = 0;
    for (let c = 0; c < 3; c++) {
      const v = set.data[(i * 3 + c) * plane + p];
      dFg += (v - fg[c]) ** 2;
      dBg += (v - bg[c]) ** 2;
    }
    cut[p] = dFg < dBg ? 1 : 0;
  }
  return cut;
}

/** IoU of two binary masks of one image; `at` reads the second mask's pixel p. */
function iou(a: Uint8Array, at: (p: number) => boolean): number {
  let intersection = 0;
  let union = 0;
  for (let p = 0; p < a.length; p++) {
    const b = at(p);
    if (a[p] && b) intersection++;
    if (a[p] || b) union++;
  }
  return union === 0 ? 1 : intersection / union;
}

/** The shape (index into PLANTED_SHAPES) that, redrawn with the cut-out's area and centroid, overlaps it best; -1 for an empty cut-out. */
function nearestShape(cut: Uint8Array, width: number): number {
  let area = 0;
  let sx = 0;
  let sy = 0;
  cut.forEach((v, p) => {
    if (!v) return;
    area++;
    sx += (p % width) + 0.5;
    sy += Math.floor(p / width) + 0.5;
  });
  if (area === 0) return -1;
  let best = -1;
  let bestIou = -1;
  SHAPE_GEOMETRY.forEach((g, shape) => {
    const r = Math.sqrt(area / g.area);
    const cx = sx / area - g.offsetX * r;
    const cy = sy / area - g.offsetY * r;
    const overlap = iou(cut, (p) => inMask(shapeCoverage(shape, cx, cy, r, p % width, Math.floor(p / width))));
    if (overlap > bestIou) [best, bestIou] = [shape, overlap];
  });
  return best;
}

/**
 * plantedRetentionEach over a set taken chunk by chunk: keeps four numbers per image.
 *
 * @example
 * const retention = new PlantedRetentionAccumulator(n, data.evalTruth);
 * for (const chunk of chunks) retention.add(chunk.originals, chunk.reconstructions);
 * plantedRetention(retention.finish(), boot);
 */
export class PlantedRetentionAccumulator implements PairedAccumulator<PlantedRetentionEach> {
  private readonly cursor: ChunkCursor;
  private readonly out: PlantedRetentionEach;

  /**
   * @param images Number of images of the set.
   * @param truth What was planted in each of the images (masks of H x W), in evaluation order.
   * @throws AnalysisError when the truth does not describe that many images.
   */
  constructor(
    images: number,
    private readonly truth: PlantedTruth,
  ) {
    this.cursor = new ChunkCursor(images, 'planted retention');
    if (truth.colours.length !== images || truth.shapes.length !== images) {
      throw new AnalysisError(`planted truth describes ${truth.colours.length} images of ${truth.masks.length / Math.max(1, truth.colours.length)} pixels, the set has ${images} images`);
    }
    this.out = { paletteAgreement: new Uint8Array(images), shapeAgreement: new Uint8Array(images), deltaE: new Float64Array(images), maskIou: new Float64Array(images) };
  }

  add(originals: ImageInput, reconstructions: ImageInput): this {
    const { orig, recon, offset } = pairedChunk(this.cursor, originals, reconstructions);
    const [n, c, h, w] = orig.shape;
    const plane = h * w;
    const { truth, out } = this;
    if (c !== 3) throw new AnalysisError(`planted retention needs RGB images, got ${c} channels`);
    if (truth.masks.length !== this.cursor.total * plane) throw new AnalysisError(`planted truth describes ${truth.colours.length} images of ${truth.masks.length / Math.max(1, truth.colours.length)} pixels, the images are of ${plane}`);
    const labO = new Float64Array(3);
    const labR = new Float64Array(3);
    for (let i = 0; i < n; i++) {
      const image = offset + i;
      const mask = truth.masks.subarray(image * plane, (image + 1) * plane);
      const colourO = meanColour(orig, i, mask, 1);
      const colourR = meanColour(recon, i, mask, 1);
      out.paletteAgreement[image] = nearestPaletteColour(colourR) === truth.colours[image] ? 1 : 0;
      labInto(...colourO, labO);
      labInto(...colourR, labR);
      out.deltaE[image] = Math.hypot(labR[0] - labO[0], labR[1] - labO[1], labR[2] - labO[2]);
      const cut = cutOut(recon, i, mask, colourR);
      out.maskIou[image] = iou(cut, (p) => mask[p] === 1);
      out.shapeAgreement[image] = nearestShape(cut, w) === truth.shapes[image] ? 1 : 0;
    }
    return this;
  }

  finish(): PlantedRetentionEach {
    this.cursor.end();
    return this.out;
  }
}

/**
 * Per-image retention of the planted colour and shape (see the top of this file).
 * @param originals [N, 3, H, W] planted images in [0, 1]
 * @param reconstructions the same shape, in [0, 1]
 * @param truth what was planted in each of the N images (masks of H x W)
 * @throws AnalysisError when shapes or truth do not fit the images
 * @example plantedRetentionEach(original, recon, data.evalTruth).shapeAgreement
 */
export function plantedRetentionEach(originals: ImageInput, reconstructions: ImageInput, truth: PlantedTruth): PlantedRetentionEach {
  return wholeSet((n) => new PlantedRetentionAccumulator(n, truth), originals, reconstructions);
}

/**
 * Means of per-image retention with their bootstrap intervals.
 * @param each what plantedRetentionEach returned
 * @param boot resamples and seed (the same for every AE of a run, so that they are paired)
 * @example plantedRetention(plantedRetentionEach(original, recon, truth), { seed: 0 }).ci95.shapeAgreement
 */
export function plantedRetention(each: PlantedRetentionEach, boot: BootstrapOptions = {}): PlantedRetention {
  const palette = meanEstimate(each.paletteAgreement, boot);
  const shape = meanEstimate(each.shapeAgreement, boot);
  const deltaE = meanEstimate(each.deltaE, boot);
  const maskIou = meanEstimate(each.maskIou, boot);
  return {
    paletteAgreement: palette.value,
    shapeAgreement: shape.value,
    meanDeltaE: deltaE.value,
    maskIou: maskIou.value,
    ci95: { paletteAgreement: palette.ci95, shapeAgreement: shape.ci95, meanDeltaE: deltaE.ci95, maskIou: maskIou.ci95 },
  };
}

/**
 * How much more (positive) or less of the carrier the reconstructions keep than a baseline's
 * (A_S), as the paired difference of agreement shares over the same images, with its interval.
 * @param carrier which property carries the class: colour (palette agreement) or shape (shape agreement)
 * @param baseline per-image retention of the baseline AE's reconstructions
 * @param candidate per-image retention of the AE judged, same images
 * @param boot resamples and seed
 * @example carrierChange('colour', generic, s2s, { seed: 0 }).ci95[1] < 0 // keeps less than A_S
 */
export function carrierChange(carrier: PlantedCarrier, baseline: PlantedRetentionEach, candidate: PlantedRetentionEach, boot: BootstrapOptions = {}): Estimate {
  const key = carrier === 'colour' ? 'paletteAgreement' : 'shapeAgreement';
  return pairedChange(baseline[key], candidate[key], boot).change;
}

/**
 * The negative controls, made from the baseline's (A_S's) reconstructions (analysis/controls.ts):
 * grey drops the colour, blur (a box of 1/8 of the side, three passes) drops the outline.
 */
export const PLANTED_CONTROLS: readonly { name: string; drops: PlantedCarrier; make(set: ImageSet): ImageSet }[] = [
  { name: 'control: grey A_S', drops: 'colour', make: greyImages },
  { name: 'control: blurred A_S', drops: 'shape', make: (set) => blurredImages(set, Math.max(1, Math.round(set.shape[3] / 8))) },
];

/** Retention on the originals themselves and on every AE's reconstructions, each AE's carrier against the first AE's. */
export interface PlantedSignal {
  carrier: PlantedCarrier;
  originals: PlantedRetention;
  autoencoders: (PlantedRetention & { name: string; carrierChange: Estimate | null })[];
  /**
   * The negative controls, their carrier against the first AE's: PLANTED_CONTROLS, made from the
   * first AE's reconstructions, then AEs trained to lose the carrier (drops: the carrier).
   */
  controls: (PlantedRetention & { name: string; drops: PlantedCarrier; carrierChange: Estimate })[];
}

/**
 * plantedSignal over a set taken chunk by chunk: keeps four numbers per image for the originals
 * and for each autoencoder.
 *
 * @example
 * const planted = new PlantedSignalAccumulator(n, data.evalTruth, ['A_S', 'S2S-vgg']);
 * for (const chunk of chunks) planted.add(chunk.originals, [chunk.generic, chunk.vgg]);
 * planted.finish({ seed: 0 }).autoencoders[1].carrierChange;
 */
export class PlantedSignalAccumulator implements Accumulator<[originals: ImageInput, reconstructions: ImageInput[]], PlantedSignal> {
  private readonly cursor: ChunkCursor;
  private readonly originals: PlantedRetentionAccumulator;
  private readonly autoencoders: PlantedRetentionAccumulator[];
  private readonly controls: PlantedRetentionAccumulator[];

  /**
   * @param images Number of images of the set.
   * @param truth What was planted in each evaluation image, in evaluation order.
   * @param names The autoencoders, the baseline (A_S) first, in the order add() receives their reconstructions.
   * @param trainedControls Control AEs trained to lose the carrier, in the order add() receives their reconstructions.
   * @throws AnalysisError when the truth does not describe that many images.
   */
  constructor(
    images: number,
    private readonly truth: PlantedTruth,
    private readonly names: string[],
    private readonly trainedControls: string[] = [],
  ) {
    this.cursor = new ChunkCursor(images, 'planted signal');
    this.originals = new PlantedRetentionAccumulator(images, truth);
    this.autoencoders = names.map(() => new PlantedRetentionAccumulator(images, truth));
    this.controls = [...PLANTED_CONTROLS, ...trainedControls].map(() => new PlantedRetentionAccumulator(images, truth));
  }

  add(originals: ImageInput, reconstructions: ImageInput[], trainedControls: ImageInput[] = []): this {
    const { orig, sets } = namedChunk(this.cursor, [...this.names, ...this.trainedControls], originals, [...reconstructions, ...trainedControls]);
    this.originals.add(orig, orig);
    this.names.forEach((_, k) => this.autoencoders[k].add(orig, sets[k]));
    const controls = [...PLANTED_CONTROLS.map((control) => control.make(sets[0])), ...sets.slice(this.names.length)];
    controls.forEach((set, k) => this.controls[k].add(orig, set));
    return this;
  }

  finish(boot: BootstrapOptions = {}): PlantedSignal {
    this.cursor.end();
    const each = this.autoencoders.map((a) => a.finish());
    return {
      carrier: this.truth.carrier,
      originals: plantedRetention(this.originals.finish(), boot),
      autoencoders: this.names.map((name, i) => ({
        name,
        ...plantedRetention(each[i], boot),
        carrierChange: i === 0 ? null : carrierChange(this.truth.carrier, each[0], each[i], boot),
      })),
      controls: [...PLANTED_CONTROLS, ...this.trainedControls.map((name) => ({ name, drops: this.truth.carrier }))].map((control, k) => {
        const eachControl = this.controls[k].finish();
        return { name: control.name, drops: control.drops, ...plantedRetention(eachControl, boot), carrierChange: carrierChange(this.truth.carrier, each[0], eachControl, boot) };
      }),
    };
  }
}

/**
 * The planted-signal measures of a run: retention with intervals for the originals (the probes'
 * own ceiling) and for each autoencoder, and each autoencoder's carrier change against the first
 * (the generic A_S), paired over the same images.
 * @param truth what was planted in each evaluation image
 * @param originals the evaluation images in [0, 1]
 * @param autoencoders name and reconstructions (in [0, 1]) of each AE, the baseline first
 * @param boot resamples and seed
 * @throws AnalysisError when images and truth do not fit
 * @example plantedSignal(truth, original, [{ name: 'A_S', images: a }, { name: 'S2S-vgg', images: s }], { seed: 0 })
 */
export function plantedSignal(truth: PlantedTruth, originals: ImageInput, autoencoders: { name: string; images: ImageInput }[], boot: BootstrapOptions = {}): PlantedSignal {
  const orig = toImageSet(originals, 'originals');
  return new PlantedSignalAccumulator(orig.shape[0], truth, autoencoders.map((a) => a.name)).add(orig, autoencoders.map((a) => a.images)).finish(boot);
}
