// Planted-signal retention: on the planted datasets (data/planted.ts) the truth of every image
// is known (its shape's mask and colour), so how well an AE's reconstructions keep the class
// carrier and the nuisance can be measured directly, without any classifier:
// - colour: the mean colour of the reconstruction over the shape's mask, named by the nearest
//   palette hue (CIELAB hue angle; the palette colours differ in hue, and every image scales
//   its colour's brightness): `paletteAgreement` is the share of images whose reconstruction
//   keeps the planted colour; `meanDeltaE` the mean CIE76 distance between the mean shape
//   colours of reconstruction and original.
// - shape: each reconstructed pixel is assigned to the shape or the background by which of the
//   reconstruction's own two mean colours (over the true mask and over the rest) it is closer
//   to; `maskIou` is the mean intersection-over-union of that mask with the true one. It asks
//   whether the shape can still be cut out of the reconstruction, whatever colour it has now.
import { PLANTED_COLOURS, PLANTED_PALETTE, type PlantedTruth } from '../data/index.js';
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';
import { labInto } from './lab.js';

export interface PlantedRetention {
  /** Share of images whose reconstructed shape colour is nearest (in hue) to the planted one. */
  paletteAgreement: number;
  /** Mean CIE76 ΔE between the mean shape colours of reconstruction and original. */
  meanDeltaE: number;
  /** Mean IoU of the shape cut out of the reconstruction with the planted mask. */
  maskIou: number;
}

const hueOf = (lab: Float64Array) => Math.atan2(lab[2], lab[1]);
const PALETTE_HUES = PLANTED_COLOURS.map((name) => {
  const lab = new Float64Array(3);
  labInto(...PLANTED_PALETTE[name], lab);
  return hueOf(lab);
});

/** Index of the palette colour whose hue is nearest to the hue of `lab`. */
function nearestPaletteColour(lab: Float64Array): number {
  const h = hueOf(lab);
  let best = 0;
  let bestDistance = Infinity;
  PALETTE_HUES.forEach((ph, k) => {
    const d = Math.abs(Math.atan2(Math.sin(h - ph), Math.cos(h - ph)));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  });
  return best;
}

/** Mean RGB of image i over the pixels where mask == inside. */
function meanColour(set: ImageSet, i: number, mask: Uint8Array, inside: number): [number, number, number] {
  const plane = set.shape[2] * set.shape[3];
  const sums = [0, 0, 0];
  let count = 0;
  for (let p = 0; p < plane; p++) {
    if (mask[i * plane + p] !== inside) continue;
    count++;
    for (let c = 0; c < 3; c++) sums[c] += set.data[(i * 3 + c) * plane + p];
  }
  return sums.map((s) => s / Math.max(1, count)) as [number, number, number];
}

function maskIou(set: ImageSet, i: number, mask: Uint8Array): number {
  const plane = set.shape[2] * set.shape[3];
  const fg = meanColour(set, i, mask, 1);
  const bg = meanColour(set, i, mask, 0);
  let intersection = 0;
  let union = 0;
  for (let p = 0; p < plane; p++) {
    let dFg = 0;
    let dBg = 0;
    for (let c = 0; c < 3; c++) {
      const v = set.data[(i * 3 + c) * plane + p];
      dFg += (v - fg[c]) ** 2;
      dBg += (v - bg[c]) ** 2;
    }
    const predicted = dFg < dBg;
    const truth = mask[i * plane + p] === 1;
    if (predicted && truth) intersection++;
    if (predicted || truth) union++;
  }
  return union === 0 ? 1 : intersection / union;
}

/**
 * How well reconstructions keep the planted colour and shape (see the top of this file).
 * @param originals [N, 3, H, W] planted images in [0, 1]
 * @param reconstructions the same shape, in [0, 1]
 * @param truth what was planted in each of the N images (masks of H x W)
 * @throws AnalysisError when shapes or truth do not fit the images
 * @example plantedRetention(original, recon, data.evalTruth).paletteAgreement
 */
export function plantedRetention(originals: ImageInput, reconstructions: ImageInput, truth: PlantedTruth): PlantedRetention {
  const orig = toImageSet(originals, 'originals');
  const recon = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(orig, recon, 'originals', 'reconstructions');
  const [n, c, h, w] = orig.shape;
  if (c !== 3) throw new AnalysisError(`planted retention needs RGB images, got ${c} channels`);
  if (truth.colours.length !== n || truth.masks.length !== n * h * w) throw new AnalysisError(`planted truth describes ${truth.colours.length} images of ${truth.masks.length / Math.max(1, truth.colours.length)} pixels, the images are ${n} of ${h * w}`);
  const labO = new Float64Array(3);
  const labR = new Float64Array(3);
  let agree = 0;
  let deltaE = 0;
  let iou = 0;
  for (let i = 0; i < n; i++) {
    labInto(...meanColour(orig, i, truth.masks, 1), labO);
    labInto(...meanColour(recon, i, truth.masks, 1), labR);
    if (nearestPaletteColour(labR) === truth.colours[i]) agree++;
    deltaE += Math.hypot(labR[0] - labO[0], labR[1] - labO[1], labR[2] - labO[2]);
    iou += maskIou(recon, i, truth.masks);
  }
  return { paletteAgreement: agree / Math.max(1, n), meanDeltaE: deltaE / Math.max(1, n), maskIou: iou / Math.max(1, n) };
}
