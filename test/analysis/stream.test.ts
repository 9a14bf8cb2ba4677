// Every measure taken chunk by chunk (chunks of 7 images, the last one shorter) gives what the
// whole-set function gives, exactly: each accumulator keeps per-image values (or running sums
// added in the whole set's order), so no sum is reordered and no tolerance is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, tensor, type Tensor } from '../../src/engine/index.js';
import { generatePlantedDataset, disposeDataset } from '../../src/data/index.js';
import {
  AccuracyGridAccumulator,
  accuracyGrid,
  addPixelNoise,
  ARTIFACT_PERIODS,
  channelHistogramsEach,
  ChannelHistogramsAccumulator,
  ColourShiftAccumulator,
  colourShift,
  correctness,
  gridEnergy,
  GridEnergyAccumulator,
  imageNmi,
  interNmiEach,
  InterNmiAccumulator,
  intraNmiEach,
  IntraNmiAccumulator,
  labelValues,
  meanEstimate,
  NoiseRobustnessAccumulator,
  pairedChange,
  PeriodicAccumulator,
  periodicArtifacts,
  PixelNoise,
  plantedSignal,
  PlantedSignalAccumulator,
  predictClassifier,
  psnrEach,
  PsnrAccumulator,
  reconstructionGrid,
  ReconstructionGridAccumulator,
  ReconstructionMeasures,
  type ImageSet,
  type PairedAccumulator,
} from '../../src/analysis/index.js';
import { mapSet, randomSet } from './helpers.js';

const CHUNK = 7;
const N = 23; // chunks of 7, 7, 7 and 2

/** Images [from, to) of a set, as a view (no copy). */
function slice(set: ImageSet, from: number, to: number): ImageSet {
  const size = set.shape[1] * set.shape[2] * set.shape[3];
  return { data: set.data.subarray(from * size, to * size), shape: [to - from, set.shape[1], set.shape[2], set.shape[3]] };
}

/** The [from, to) bounds of consecutive chunks of `size` images over n. */
const bounds = (n: number, size = CHUNK) => Array.from({ length: Math.ceil(n / size) }, (_, k) => [k * size, Math.min(n, (k + 1) * size)] as const);

/** A paired accumulator fed the set in chunks of 7. */
function streamed<R>(acc: PairedAccumulator<R>, originals: ImageSet, reconstructions: ImageSet): PairedAccumulator<R> {
  for (const [a, b] of bounds(originals.shape[0])) acc.add(slice(originals, a, b), slice(reconstructions, a, b));
  return acc;
}

// Reconstructions that keep part of the originals and add a checkerboard, a colour cast and noise.
const originals = randomSet(N, 3, 12, 10, 1);
const noise = randomSet(N, 3, 12, 10, 2);
const reconstructions = mapSet(originals, (v, i) => 0.6 * v + 0.3 * noise.data[i] + (i % 2 ? 0.05 : -0.05) + (Math.floor(i / 120) % 3 === 0 ? 0.04 : 0));
const other = mapSet(originals, (v) => Math.sqrt(v));
const boot = { resamples: 300, seed: 4 };

test('PSNR, intra-NMI and grid energy: chunks of 7 give the whole-set values exactly', () => {
  assert.deepEqual(streamed(new PsnrAccumulator(N), originals, reconstructions).finish(), psnrEach(originals, reconstructions));
  const nmi = { bins: 16 };
  assert.deepEqual(streamed(new IntraNmiAccumulator(N, nmi), originals, reconstructions).finish(), intraNmiEach(originals, reconstructions, nmi));
  const energy = streamed(new GridEnergyAccumulator(N), originals, reconstructions).finish();
  assert.equal(energy, gridEnergy(originals, reconstructions));
  assert.ok(energy > 0.5 && energy < 1, `the added stripes and the noise show: ${energy}`);
});

test('colour shift and periodic artifacts: chunks of 7 give the whole-set values and intervals exactly', () => {
  assert.deepEqual(streamed(new ColourShiftAccumulator(N), originals, reconstructions).finish(boot), colourShift(originals, reconstructions, boot));
  assert.deepEqual(streamed(new PeriodicAccumulator(N), originals, reconstructions).finish(boot), periodicArtifacts(originals, reconstructions, ARTIFACT_PERIODS, boot));
  assert.deepEqual(streamed(new PeriodicAccumulator(N, [2, 3]), originals, reconstructions).finish(boot), periodicArtifacts(originals, reconstructions, [2, 3], boot));
});

test('inter-NMI: chunks of any size give the whole-set pairs and values exactly, and hold at most `pairs` images', () => {
  const o = { bins: 16, pairs: 40, seed: 5 };
  const whole = interNmiEach(reconstructions, o);
  for (const size of [1, CHUNK, N]) {
    const acc = new InterNmiAccumulator(N, o);
    let most = 0;
    for (const [a, b] of bounds(N, size)) {
      acc.add(slice(reconstructions, a, b));
      most = Math.max(most, acc.keptImages);
    }
    assert.deepEqual(acc.finish(), whole, `chunks of ${size}`);
    assert.ok(most <= o.pairs, `held ${most} images`);
    assert.equal(acc.keptImages, 0, 'every kept image is let go once its pairs are measured');
  }
});

test('histograms and the picture grid of several sets: chunks of 7 give the whole-set result; the grid keeps only its samples', () => {
  const names = ['A_S', 'S2S-a'];
  const hist = new ChannelHistogramsAccumulator(N, names, 16);
  const grid = new ReconstructionGridAccumulator(N, names, 4, 8);
  for (const [a, b] of bounds(N)) {
    hist.add(slice(originals, a, b), [slice(reconstructions, a, b), slice(other, a, b)]);
    grid.add(slice(originals, a, b), [slice(reconstructions, a, b), slice(other, a, b)]);
  }
  assert.deepEqual(hist.finish(), channelHistogramsEach(originals, { A_S: reconstructions, 'S2S-a': other }, 16));
  const sets = [
    { name: 'A_S', images: reconstructions },
    { name: 'S2S-a', images: other },
  ];
  assert.deepEqual(grid.finish(), reconstructionGrid(originals, sets, 4, 8));
  // Indices picked up front, in any order, across chunk boundaries.
  const picked = new ReconstructionGridAccumulator(N, ['A_S'], [22, 6, 7, 0]);
  for (const [a, b] of bounds(N)) picked.add(slice(originals, a, b), [slice(reconstructions, a, b)]);
  assert.deepEqual(picked.finish(), reconstructionGrid(originals, [sets[0]], [22, 6, 7, 0]));
  assert.throws(() => new ReconstructionGridAccumulator(N, ['A_S'], [23]), /index 23 is outside the set of 23 images/);
});

test('planted signal: chunks of 7 give the whole-set retention, intervals and carrier change exactly', () => {
  const planted = generatePlantedDataset({ carrier: 'colour', count: N, seed: 3 });
  const orig: ImageSet = { data: planted.images.toFloat32Array(), shape: planted.images.shape as [number, number, number, number] };
  disposeDataset(planted);
  const blurred = mapSet(orig, (v, i) => 0.5 * v + 0.5 * orig.data[i % 2 ? i - 1 : i]);
  const swapped = mapSet(orig, (v, i) => orig.data[(i + orig.shape[2] * orig.shape[3]) % orig.data.length] * 0.8 + v * 0.2);
  const acc = new PlantedSignalAccumulator(N, planted, ['A_S', 'S2S']);
  for (const [a, b] of bounds(N)) acc.add(slice(orig, a, b), [slice(blurred, a, b), slice(swapped, a, b)]);
  const whole = plantedSignal(planted, orig, [
    { name: 'A_S', images: blurred },
    { name: 'S2S', images: swapped },
  ], boot);
  assert.deepEqual(acc.finish(boot), whole);
  assert.ok(whole.autoencoders[1].paletteAgreement < 1, 'the swapped colours show');
});

test('all pixel measures in one accumulator equal the whole-set functions as the evaluation composes them', () => {
  const names = ['A_S', 'S2S-a'];
  const opts = { names, nmi: { bins: 16 }, interPairs: 30, seed: 2, gridSamples: 3 };
  const measures = new ReconstructionMeasures(N, opts);
  for (const [a, b] of bounds(N)) measures.add(slice(originals, a, b), [slice(reconstructions, a, b), slice(other, a, b)]);
  const result = measures.finish(boot);
  [reconstructions, other].forEach((set, k) => {
    const got = result.autoencoders[k];
    assert.equal(got.name, names[k]);
    assert.deepEqual(got.psnr, meanEstimate(psnrEach(originals, set), boot));
    assert.deepEqual(got.intraNmi, meanEstimate(intraNmiEach(originals, set, opts.nmi), boot));
    assert.deepEqual(got.interNmi, meanEstimate(interNmiEach(set, { ...opts.nmi, pairs: 30, seed: 2 }), boot));
    assert.deepEqual(got.perPair.interNmi, interNmiEach(set, { ...opts.nmi, pairs: 30, seed: 2 }));
    assert.equal(got.gridEnergy, gridEnergy(originals, set));
    assert.deepEqual(got.colourShift, colourShift(originals, set, boot));
    assert.deepEqual(got.periodic, periodicArtifacts(originals, set, ARTIFACT_PERIODS, boot));
  });
  assert.deepEqual(result.histograms, channelHistogramsEach(originals, { A_S: reconstructions, 'S2S-a': other }));
  assert.deepEqual(result.pictures, reconstructionGrid(originals, [{ name: 'A_S', images: reconstructions }, { name: 'S2S-a', images: other }], 3));
  assert.equal(result.planted, null);
  // Grayscale images have no colour shift.
  const gray = randomSet(9, 1, 8, 8, 3);
  assert.equal(new ReconstructionMeasures(9, { names: ['A_S'], interPairs: 4 }).add(gray, [gray]).finish(boot).autoencoders[0].colourShift, null);
});

test('a stream that brings more or fewer images than announced, or images of another size, is refused', () => {
  const acc = new PsnrAccumulator(10);
  acc.add(slice(originals, 0, 7), slice(reconstructions, 0, 7));
  assert.throws(() => acc.add(slice(originals, 7, 11), slice(reconstructions, 7, 11)), /more than the 10 images announced/);
  assert.throws(() => acc.finish(), /7 of the 10 images announced were added/);
  assert.throws(() => acc.add(randomSet(2, 3, 12, 12, 1), randomSet(2, 3, 12, 12, 1)), /every chunk must hold images of one size/);
  assert.throws(() => acc.add(slice(originals, 7, 9), slice(reconstructions, 7, 8)), /differ in shape/);
  assert.throws(() => new ChannelHistogramsAccumulator(N, ['A_S', 'S2S']).add(originals, [reconstructions]), /1 sets of reconstructions for the 2 names/);
});

/** A fixed random linear classifier on flattened images. */
function linear(features: number, classes: number): (x: Tensor) => Tensor {
  const weight = randn([features, classes]);
  return (x: Tensor) => x.flatten(1).matmul(weight);
}

/** Rows [from, to) of a tensor. */
const rows = (t: Tensor, from: number, to: number) => t.slice(0, from, to);

test('accuracy grid: chunks of 7 give the whole-set predictions, accuracies and labels exactly', async () => {
  manualSeed(11);
  const images = randn([N, 2, 3, 3]);
  const generic = images.add(randn([N, 2, 3, 3]).mul(0.5));
  const own = images.mul(0.9);
  const labels = tensor(BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 8)));
  const columns = [
    { name: 'a', forward: linear(18, 8) },
    { name: 'b', forward: linear(18, 8) },
  ];
  const opts = { batchSize: 5 };
  const acc = new AccuracyGridAccumulator(N, ['A_S', 'S2S-a'], columns, opts);
  for (const [a, b] of bounds(N)) await acc.add(rows(images, a, b), [rows(generic, a, b), rows(own, a, b)], rows(labels, a, b));
  const whole = await accuracyGrid(
    [
      { name: 'A_S', images: generic },
      { name: 'S2S-a', images: own },
    ],
    columns,
    images,
    labels,
    opts,
  );
  assert.deepEqual(acc.finish(), whole);
  assert.ok(whole.original[0].top5! > whole.original[0].top1, 'top-5 hits are kept too');
  await assert.rejects(new AccuracyGridAccumulator(3, ['A_S'], columns).add(images, [generic], labels), /more than the 3 images announced/);
});

test('pixel noise taken chunk by chunk (odd image sizes) is the noise of the whole set', () => {
  const pixels = tensor(Float32Array.from({ length: N * 27 }, (_, i) => (i % 13) / 13), [N, 3, 3, 3]);
  const whole = addPixelNoise(pixels, 0.1, 7).toFloat32Array();
  const stream = new PixelNoise(0.1, 7);
  const parts = bounds(N).map(([a, b]) => stream.apply(rows(pixels, a, b)).toFloat32Array());
  assert.deepEqual(Float32Array.from(parts.flatMap((p) => Array.from(p))), whole);
});

test('noise robustness: chunks of 7 give what the whole subset gives, as the evaluation computes it', async () => {
  manualSeed(12);
  const n = 40;
  const pixels = randn([n, 1, 4, 4]).sigmoid();
  const labels = tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 6)));
  const subset = [0, 3, 6, 7, 13, 14, 20, 21, 27, 33, 34, 39];
  const toModelInput = (x: Tensor) => x.sub(0.5).mul(4);
  const classifiers = [0, 1].map((k) => ({ name: `c${k}`, forward: linear(16, 6), reconstruct: (x: Tensor) => x.mul(0.5 + 0.25 * k) }));
  const opts = { sigmas: [0.1, 0.3], seed: 9, subset, toModelInput, batchSize: 4 };
  const acc = new NoiseRobustnessAccumulator(n, classifiers, opts);
  for (const [a, b] of bounds(n)) await acc.add(rows(pixels, a, b), rows(labels, a, b));
  const got = acc.finish(boot);
  // The whole-subset computation: noise over the subset at once, then both predictions and the paired change.
  const index = tensor(BigInt64Array.from(subset, BigInt));
  const chosen = pixels.indexSelect(0, index);
  const chosenLabels = labels.indexSelect(0, index);
  const truth = labelValues(chosenLabels);
  for (const [j, c] of classifiers.entries()) {
    for (const [s, sigma] of opts.sigmas.entries()) {
      const input = toModelInput(addPixelNoise(chosen, sigma, opts.seed));
      const noisy = correctness(await predictClassifier(c.forward, input, chosenLabels), truth);
      const own = correctness(await predictClassifier(c.forward, input, chosenLabels, { transform: c.reconstruct }), truth);
      const paired = pairedChange(noisy, own, boot);
      assert.deepEqual([got.classifiers[j].noisy[s], got.classifiers[j].own[s], got.classifiers[j].gain[s]], [paired.a.value, paired.b.value, paired.change.value]);
      assert.deepEqual([got.classifiers[j].ci95.noisy[s], got.classifiers[j].ci95.own[s], got.classifiers[j].ci95.gain[s]], [paired.a.ci95, paired.b.ci95, paired.change.ci95]);
    }
  }
  assert.deepEqual([got.sigmas, got.samples], [opts.sigmas, subset.length]);
  assert.throws(() => new NoiseRobustnessAccumulator(n, classifiers, { ...opts, subset: [3, 2] }), /ascending indices/);
});

test('inter-NMI streamed: its mean over seeds is the all-pairs value within sampling error, and the test could see self-pairs or within-chunk pairs', () => {
  // Three groups of 8 images, each group sharing a pattern, stored group after group (as a
  // folder sorted by class is): pairs within a group share more than pairs across groups.
  const [n, side, bins] = [24, 16, 8];
  const patterns = randomSet(3, 1, side, side, 21);
  const own = randomSet(n, 1, side, side, 22);
  const set = mapSet(own, (v, i) => 0.5 * v + 0.5 * patterns.data[Math.floor(i / (8 * side * side)) * side * side + (i % (side * side))]);
  let allPairs = 0;
  let withinChunk = 0;
  let [count, chunkCount] = [0, 0];
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const v = imageNmi(set, a, set, b, { bins });
      allPairs += v;
      count++;
      if (Math.floor(a / CHUNK) === Math.floor(b / CHUNK)) [withinChunk, chunkCount] = [withinChunk + v, chunkCount + 1];
    }
  }
  [allPairs, withinChunk] = [allPairs / count, withinChunk / chunkCount];
  const [seeds, pairs] = [1000, 50];
  const values: number[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    const acc = new InterNmiAccumulator(n, { bins, pairs, seed });
    for (const [a, b] of bounds(n)) acc.add(slice(set, a, b));
    values.push(...acc.finish());
  }
  const estimate = values.reduce((s, v) => s + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - estimate) ** 2, 0) / (values.length - 1));
  const standardError = sd / Math.sqrt(values.length);
  assert.ok(Math.abs(estimate - allPairs) < 4 * standardError, `estimate ${estimate} vs all pairs ${allPairs} (standard error ${standardError})`);
  // Power: an image paired with itself (NMI 1) 1/n of the time, or pairs drawn within chunks, would move the mean by more than the test allows.
  assert.ok((1 - allPairs) / n > 8 * standardError, `self-pair bias ${(1 - allPairs) / n} vs standard error ${standardError}`);
  assert.ok(withinChunk - allPairs > 8 * standardError, `within-chunk bias ${withinChunk - allPairs} vs standard error ${standardError}`);
});
