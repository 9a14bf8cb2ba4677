// Memory of the streamed evaluation: 2,000 RGB images of 64x64 (98 MB per set of images as
// float32) go through every accumulator in chunks of 100; what stays behind is per-image values
// (a few hundred bytes an image), the inter-NMI's pending pairs and a few pictures, so RSS grows
// by a few MB, not by the set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { manualSeed, memoryStats, randn, tensor, type Tensor } from '../../src/engine/index.js';
import { Rng } from '../../src/data/random.js';
import type { PlantedTruth } from '../../src/data/index.js';
import { AccuracyGridAccumulator, NoiseRobustnessAccumulator, ReconstructionMeasures } from '../../src/analysis/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const [N, CHUNK, SIDE] = [2000, 100, 64];
const PLANE = SIDE * SIDE;

/** Planted truth of N images: a centred square of random shape and colour labels (what the probes read). */
function syntheticTruth(rng: Rng): PlantedTruth {
  const masks = new Uint8Array(N * PLANE);
  for (let i = 0; i < N; i++) for (let y = 16; y < 48; y++) masks.fill(1, i * PLANE + y * SIDE + 16, i * PLANE + y * SIDE + 48);
  return { carrier: 'colour', shapes: Array.from({ length: N }, () => rng.int(4)), colours: Array.from({ length: N }, () => rng.int(4)), masks };
}

/** Chunk k's tensors: originals (uniform noise) and a reconstruction (pulled towards grey, with a checkerboard). */
function chunk(k: number): { originals: Tensor; reconstruction: Tensor; labels: Tensor } {
  const rng = new Rng(1000 + k);
  const originals = new Float32Array(CHUNK * 3 * PLANE);
  const reconstruction = new Float32Array(originals.length);
  for (let i = 0; i < originals.length; i++) {
    originals[i] = rng.next();
    reconstruction[i] = 0.7 * originals[i] + 0.15 + (i % 2 ? 0.02 : -0.02);
  }
  const shape = [CHUNK, 3, SIDE, SIDE];
  const labels = tensor(BigInt64Array.from({ length: CHUNK }, (_, i) => BigInt((k * CHUNK + i) % 10)));
  return { originals: tensor(originals, shape), reconstruction: tensor(reconstruction, shape), labels };
}

test('2,000 images of 64x64x3 through every accumulator in chunks of 100: RSS grows by per-image values only', async (t) => {
  manualSeed(1);
  const weight = randn([3 * PLANE, 10]);
  const forward = (x: Tensor) => x.flatten(1).matmul(weight);
  const measures = new ReconstructionMeasures(N, { names: ['A_S'], nmi: { bins: 64 }, interPairs: 200, seed: 0, gridSamples: 8, truth: syntheticTruth(new Rng(2)) });
  const grid = new AccuracyGridAccumulator(N, ['A_S'], [{ name: 'linear', forward }], { batchSize: 50 });
  const subset = Array.from({ length: 200 }, (_, i) => i * 10 + 3);
  const noise = new NoiseRobustnessAccumulator(N, [{ name: 'linear', forward, reconstruct: (x) => x.mul(0.9) }], { sigmas: [0.1, 0.2], seed: 0, subset, toModelInput: (x) => x.sub(0.5), batchSize: 50 });
  let rss = 0;
  let live = 0;
  // Two chunks' tensors, made once and fed in turn, so that the test's own allocations do not
  // move RSS; what the accumulators copy out of each chunk (as the evaluation's would) is fresh.
  const chunks = [chunk(0), chunk(1)];
  for (let k = 0; k < N / CHUNK; k++) {
    const { originals, reconstruction, labels } = chunks[k % 2];
    measures.add(originals, [reconstruction]);
    await grid.add(originals, [reconstruction], labels);
    await noise.add(originals, labels);
    // Collected chunk by chunk, RSS shows what the accumulators hold rather than when V8 collects.
    gc();
    if (k === 4) {
      // By now every table and lazily made buffer exists and the allocators (V8's, libtorch's)
      // have settled into reusing the memory of earlier chunks: growth from here on is what the
      // stream keeps.
      [rss, live] = [process.memoryUsage.rss(), memoryStats().liveTensors];
    }
  }
  const result = measures.finish({ resamples: 200, seed: 0 });
  const accuracy = grid.finish();
  const robustness = noise.finish({ resamples: 200, seed: 0 });
  assert.equal(memoryStats().liveTensors, live, 'no tensor is left behind per chunk');
  for (const c of chunks) for (const t of Object.values(c)) t.dispose();
  gc();
  const growth = (process.memoryUsage.rss() - rss) / 2 ** 20;
  t.diagnostic(`RSS growth over chunks 6 to 20 and finish: ${growth.toFixed(1)} MB`);
  // Holding the originals alone would add 74 MB (the 1,500 images after the fifth chunk).
  assert.ok(growth < 20, `RSS grew by ${growth.toFixed(1)} MB`);
  // The results are real: every image counted, the stream's structure seen.
  assert.equal(result.autoencoders[0].perImage.psnr.length, N);
  assert.ok(result.autoencoders[0].gridEnergy > 0.5, `checkerboard share ${result.autoencoders[0].gridEnergy}`);
  assert.equal(result.pictures.reconstructions[0].images.length, 8);
  assert.equal(result.planted!.originals.maskIou < 1, true);
  assert.equal(accuracy.original[0].n, N);
  assert.equal(robustness.samples, 200);
});
