// The frozen encoder's outputs kept from the first epoch: what the cache hands back is what the
// encoder returned, a fine-tune reading it follows one that runs the encoder, and a resumed
// cached fine-tune ends bit-identical to an uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, keep, manualSeed, noGrad, randint, randn, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { foldBatchNorm, Flatten, Linear, Sequential, SGD } from '../../src/nn/index.js';
import { SegNet, SMALL_STAGES } from '../../src/models/segnet.js';
import { EncodingCache, EncodingCacheError, encodingBytesPerImage } from '../../src/train/encoding-cache.js';
import { finetuneDecoder, type FinetuneOptions } from '../../src/train/finetune.js';
import { fileCheckpoint, TrainingInterruptedError } from '../../src/train/loop.js';
import { stepBatches } from '../../src/train/sampler.js';

/** A SegNet whose BatchNorm statistics moved from their initial values, with its encoder frozen. */
function trainedSegNet(): SegNet {
  manualSeed(21);
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
  const optimizer = new SGD(ae.trainableParameters(), { lr: 0.05 });
  for (let step = 0; step < 3; step++) {
    tidy(() => {
      const x = randn([8, 1, 32, 32]);
      const loss = F.mseLoss(ae.forward(x), x);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    });
  }
  ae.encoder.eval().freeze();
  return ae;
}

for (const channelsLast of [false, true]) {
  test(`the cache returns the encoder's code and the very same pooling indices${channelsLast ? ' (channels_last, folded)' : ''}`, () => {
    const ae = trainedSegNet();
    const encoder = ae.encoder;
    if (channelsLast) {
      foldBatchNorm(encoder);
      encoder.to({ memoryFormat: 'channels_last' });
    }
    manualSeed(22);
    const images = keep(randn([40, 1, 32, 32]));
    const layout = (x: Tensor) => (channelsLast ? x.contiguous('channels_last') : x);
    const encodeAt = (positions: number[]) => noGrad(() => encoder.encode(layout(images.indexSelect(0, tensor(BigInt64Array.from(positions, BigInt))))));
    const cache = new EncodingCache(40, channelsLast);
    // Two shuffled batches fill part of it, as the first epoch does.
    const [first, second] = [[17, 3, 39, 0, 22], [5, 30, 11]];
    tidy(() => {
      cache.store(first, encodeAt(first));
      cache.store(second, encodeAt(second));
    });
    assert.equal(cache.size, 8);
    assert.ok(cache.holds([0, 30, 39]) && !cache.holds([0, 1]));
    assert.throws(() => cache.lookup([1]), EncodingCacheError);
    noGrad(() =>
      tidy(() => {
        const positions = [30, 0, 22, 5];
        const direct = encodeAt(positions);
        const cached = cache.lookup(positions);
        assert.deepEqual(cached.sizes, direct.sizes);
        const codeError = cached.code.sub(direct.code).abs().max().item() / direct.code.abs().max().item();
        assert.ok(codeError < 1e-6, `codes differ by ${codeError} (relative)`);
        direct.indices.forEach((idx, s) => {
          assert.equal(cached.indices[s].dtype, 'int64');
          assert.deepEqual(cached.indices[s].toArray(), idx.toArray(), `stage ${s + 1}'s pooling indices`);
        });
        // The decoder reconstructs the same images from either.
        const error = ae.decoder.decode(cached).sub(ae.decoder.decode(direct)).abs().max().item();
        assert.ok(error < 1e-5, `reconstructions differ by ${error}`);
      }),
    );
    cache.dispose();
  });
}

test('bytes per image: the float32 code plus a byte per pooled position; odd feature maps are refused', () => {
  // Stage 1 pools 32 channels to 16x16, stage 2 64 channels to 8x8; the code is 64x8x8 float32.
  assert.equal(encodingBytesPerImage({ inChannels: 1, stages: SMALL_STAGES }, 32, 32), 32 * 16 * 16 + 64 * 8 * 8 + 4 * 64 * 8 * 8);
  // The paper's SegNet at 224 px: about 1.6 MB per image.
  const vgg = encodingBytesPerImage({ inChannels: 3, stages: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]] }, 224, 224);
  assert.equal(vgg, 64 * 112 * 112 + 128 * 56 * 56 + 256 * 28 * 28 + 512 * 14 * 14 + 512 * 7 * 7 + 4 * 512 * 7 * 7);
  const ae = new SegNet({ inChannels: 1, stages: [[4]] });
  ae.encoder.eval().freeze();
  const odd = noGrad(() => ae.encoder.encode(randn([2, 1, 9, 10])));
  assert.throws(() => new EncodingCache(2, false).store([0, 1], odd), (e: unknown) => e instanceof EncodingCacheError && /9x10 feature map/.test((e as Error).message));
});

test('a fine-tune reading cached encodings follows one running the encoder, and resumes bit-identically', async () => {
  manualSeed(23);
  // 100 images in batches of 16: 6 steps per epoch, and 4 images each epoch leaves out.
  const data = { images: keep(randn([100, 1, 16, 16])), labels: keep(randint(0, 4, [100])) };
  const classifier = new Sequential(new Flatten(), new Linear(16 * 16, 4)).eval();
  const check = { x: keep(data.images.slice(0, 0, 32)), y: keep(data.labels.slice(0, 0, 32)) };
  const dirs: string[] = [];
  const run = async (cache: 'cached' | 'encoder', abortAt: number | null = null, dir = mkdtempSync(join(tmpdir(), 's2snets-cache-'))) => {
    dirs.push(dir);
    manualSeed(24);
    const ae = new SegNet({ inChannels: 1, stages: [[4, 4], [8]] });
    const batches = stepBatches({ name: 'toy', ...data, classNames: ['a', 'b', 'c', 'd'] }, { batchSize: 16, seed: 2 });
    const controller = new AbortController();
    const opts: FinetuneOptions = {
      steps: 14,
      lr: 1e-3,
      seed: 3,
      batch: batches.batch,
      speed: { foldFrozenBn: true, channelsLast: true },
      checkpoint: fileCheckpoint(join(dir, 'ckpt.safetensors'), 4),
      signal: controller.signal,
      convergence: { ...check, every: 7, patience: 9, minDelta: 0, minSteps: 14 },
      encodingCache: cache === 'cached' ? { images: 100, size: [16, 16], stepsPerEpoch: batches.stepsPerEpoch, positions: batches.positions, select: batches.select, maxBytes: 2 ** 30 } : undefined,
      onProgress: (p) => {
        if (p.step === abortAt) controller.abort();
      },
    };
    return { ae, dir, run: () => finetuneDecoder(ae, classifier, opts) };
  };
  const encoder = await run('encoder');
  const plain = await encoder.run();
  assert.deepEqual(plain.cachedEncodings, { steps: 0, skipped: null });
  const cachedRun = await run('cached');
  const cached = await cachedRun.run();
  // 6 steps per epoch: steps 6 to 13 read the first epoch's encodings.
  assert.deepEqual(cached.cachedEncodings, { steps: 8, skipped: null });
  const worst = Math.max(...cached.curve.loss.map((l, i) => Math.abs(l - plain.curve.loss[i]) / plain.curve.loss[i]));
  assert.ok(worst < 1e-5, `loss curves differ by ${worst} (relative)`);
  assert.deepEqual(cached.checkAccuracy, plain.checkAccuracy);

  // Stopped in the second epoch (nothing in memory on resume: the whole first epoch is replayed)
  // and in the first (its first half is replayed when the second epoch begins).
  for (const abortAt of [9, 3]) {
    const first = await run('cached', abortAt);
    await assert.rejects(first.run(), TrainingInterruptedError);
    const second = await run('cached', null, first.dir);
    const resumed = await second.run();
    assert.equal(resumed.resumedFrom, abortAt, 'resumed from the checkpoint written on the abort');
    assert.deepEqual(resumed.curve, cached.curve, `resumed at ${abortAt}: curve`);
    for (const [k, t] of cachedRun.ae.stateDict()) assert.deepEqual(second.ae.stateDict().get(k)!.toArray(), t.toArray(), `resumed at ${abortAt}: ${k}`);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('no cache for a budget of at most one epoch, or beyond the memory allowed; each says why', async () => {
  manualSeed(25);
  const data = { name: 'toy', images: keep(randn([64, 1, 16, 16])), labels: keep(randint(0, 4, [64])), classNames: ['a', 'b', 'c', 'd'] };
  const classifier = new Sequential(new Flatten(), new Linear(16 * 16, 4)).eval();
  const finetune = (steps: number, maxBytes: number) => {
    manualSeed(26);
    const batches = stepBatches(data, { batchSize: 16, seed: 2 });
    return finetuneDecoder(new SegNet({ inChannels: 1, stages: [[4]] }), classifier, { steps, lr: 1e-3, seed: 3, batch: batches.batch, encodingCache: { images: 64, size: [16, 16], stepsPerEpoch: batches.stepsPerEpoch, positions: batches.positions, select: batches.select, maxBytes } });
  };
  assert.deepEqual((await finetune(4, 2 ** 30)).cachedEncodings, { steps: 0, skipped: 'the step budget (4) is at most one epoch (4 steps)' });
  // 64 x (4 x 8 x 8 offsets + 4 x 4 x 8 x 8 code bytes) = 80 KiB.
  assert.deepEqual((await finetune(5, 2 ** 15)).cachedEncodings, { steps: 0, skipped: 'the encodings of 64 images would take 80 KiB, more than the 32 KiB allowed' });
  assert.deepEqual((await finetune(5, 2 ** 30)).cachedEncodings, { steps: 1, skipped: null });
});
