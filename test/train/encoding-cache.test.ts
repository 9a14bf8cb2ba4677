// The frozen encoder's outputs computed once: what the cache hands back is what the encoder
// returned, a file of them reads back exactly, a fine-tune reading them follows one that runs the
// encoder, and a resumed one ends bit-identical to an uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, keep, manualSeed, memoryStats, noGrad, randint, randn, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { foldBatchNorm, Flatten, Linear, SafetensorsError, Sequential, SGD } from '../../src/nn/index.js';
import { SegNet, SMALL_STAGES } from '../../src/models/segnet.js';
import { EncodingCache, EncodingCacheError, encodeAll, encodingBytesPerImage, loadEncodings, saveEncodings } from '../../src/train/encoding-cache.js';
import { frozenEncoder, speedLayout } from '../../src/train/speed.js';
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

test('encodeAll encodes in position order, and a file of encodings reads back exactly, a batch at a time', () => {
  const ae = trainedSegNet();
  foldBatchNorm(ae.encoder);
  ae.encoder.to({ memoryFormat: 'channels_last' });
  manualSeed(27);
  const images = keep(randn([45, 1, 32, 32]));
  const encode = (x: Tensor) => noGrad(() => ae.encoder.encode(x.contiguous('channels_last')));
  // 45 images in batches of 16: the last batch holds 13.
  const all = encodeAll(images, 16, encode, { channelsLast: true, device: 'cpu' });
  const check = encodeAll(images.slice(0, 0, 5), 16, encode, { channelsLast: true, device: 'cpu' });
  assert.equal(all.size, 45);
  const dir = mkdtempSync(join(tmpdir(), 's2snets-encodings-'));
  const file = join(dir, 'encodings.safetensors');
  saveEncodings(file, { train: all, check });
  // The sets read their batches from the file: opening them holds no encodings in memory.
  const before = memoryStats().liveBytes;
  const read = loadEncodings(file, { channelsLast: true, device: 'cpu' });
  assert.ok(memoryStats().liveBytes - before < 8192, `opening the file took ${memoryStats().liveBytes - before} bytes of tensors (the encodings are ${statSync(file).size})`);
  assert.deepEqual(Object.keys(read).sort(), ['check', 'train']);
  assert.deepEqual([read.train.images, read.check.images], [45, 5]);
  assert.throws(() => read.check.lookup([5]), (e: unknown) => e instanceof EncodingCacheError && /position 5 is outside the 5 encoded images/.test((e as Error).message));
  noGrad(() =>
    tidy(() => {
      const positions = [44, 0, 31, 32, 15];
      const direct = encode(images.indexSelect(0, tensor(BigInt64Array.from(positions, BigInt))));
      const [saved, loaded] = [all.lookup(positions), read.train.lookup(positions)];
      assert.deepEqual(loaded.code.toArray(), saved.code.toArray(), 'codes read back bit for bit');
      assert.deepEqual(loaded.sizes, direct.sizes);
      const codeError = loaded.code.sub(direct.code).abs().max().item() / direct.code.abs().max().item();
      assert.ok(codeError < 1e-6, `codes differ from a direct encoding by ${codeError} (relative)`);
      direct.indices.forEach((idx, s) => assert.deepEqual(loaded.indices[s].toArray(), idx.toArray(), `stage ${s + 1}'s pooling indices`));
      assert.deepEqual(read.check.lookup([4, 0]).code.toArray(), all.lookup([4, 0]).code.toArray());
    }),
  );
  for (const cache of [all, check, ...Object.values(read)]) cache.dispose();
  assert.throws(() => read.train.lookup([0]), /read after dispose/);
  // A file cut short is refused when opened, not halfway through a fine-tune.
  truncateSync(file, statSync(file).size - 100);
  assert.throws(() => loadEncodings(file, { channelsLast: true, device: 'cpu' }), (e: unknown) => e instanceof SafetensorsError && /outside the data section/.test((e as Error).message));
  const partial = new EncodingCache(3, true);
  assert.throws(() => saveEncodings(file, { partial }), (e: unknown) => e instanceof EncodingCacheError && /3 of 3 encodings are missing/.test((e as Error).message));
  rmSync(dir, { recursive: true, force: true });
});

test('a fine-tune reading shared encodings follows one running the encoder, and resumes bit-identically', async () => {
  manualSeed(23);
  // 100 images in batches of 16, 14 steps: the sampler reshuffles after 6.
  const data = { images: keep(randn([100, 1, 16, 16])), labels: keep(randint(0, 4, [100])) };
  const classifier = new Sequential(new Flatten(), new Linear(16 * 16, 4)).eval();
  const check = { x: keep(data.images.slice(0, 0, 32)), y: keep(data.labels.slice(0, 0, 32)) };
  const speed = { foldFrozenBn: true, channelsLast: true };
  const dirs: string[] = [];
  const run = async (shared: boolean, abortAt: number | null = null, dir = mkdtempSync(join(tmpdir(), 's2snets-cache-'))) => {
    dirs.push(dir);
    manualSeed(24);
    const ae = new SegNet({ inChannels: 1, stages: [[4, 4], [8]] });
    ae.encoder.freeze().eval();
    const batches = stepBatches({ name: 'toy', ...data, classNames: ['a', 'b', 'c', 'd'] }, { batchSize: 16, seed: 2 });
    const encoder = frozenEncoder(ae, speed);
    const encode = (x: Tensor) => noGrad(() => encoder.encode(speedLayout(speed)(x)));
    const encodings = shared ? { train: encodeAll(data.images, 16, encode, { channelsLast: true, device: 'cpu' }), check: encodeAll(check.x, 16, encode, { channelsLast: true, device: 'cpu' }), positions: batches.positions } : undefined;
    const controller = new AbortController();
    const opts: FinetuneOptions = {
      steps: 14,
      lr: 1e-3,
      seed: 3,
      batch: batches.batch,
      speed,
      checkpoint: fileCheckpoint(join(dir, 'ckpt.safetensors'), 4),
      signal: controller.signal,
      convergence: { ...check, every: 7, patience: 9, minDelta: 0, minSteps: 14 },
      encodings,
      onProgress: (p) => {
        if (p.step === abortAt) controller.abort();
      },
    };
    return { ae, dir, run: () => finetuneDecoder(ae, classifier, opts) };
  };
  const plain = await (await run(false)).run();
  const sharedRun = await run(true);
  const shared = await sharedRun.run();
  const worst = Math.max(...shared.curve.loss.map((l, i) => Math.abs(l - plain.curve.loss[i]) / plain.curve.loss[i]));
  assert.ok(worst < 1e-5, `loss curves differ by ${worst} (relative)`);
  assert.deepEqual(shared.checkAccuracy, plain.checkAccuracy);

  for (const abortAt of [9, 3]) {
    const first = await run(true, abortAt);
    await assert.rejects(first.run(), TrainingInterruptedError);
    const second = await run(true, null, first.dir);
    const resumed = await second.run();
    assert.equal(resumed.resumedFrom, abortAt, 'resumed from the checkpoint written on the abort');
    assert.deepEqual(resumed.curve, shared.curve, `resumed at ${abortAt}: curve`);
    for (const [k, t] of sharedRun.ae.stateDict()) assert.deepEqual(second.ae.stateDict().get(k)!.toArray(), t.toArray(), `resumed at ${abortAt}: ${k}`);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('shared encodings are refused for a trained encoder, under autocast, and for another check set', async () => {
  manualSeed(25);
  const data = { name: 'toy', images: keep(randn([64, 1, 16, 16])), labels: keep(randint(0, 4, [64])), classNames: ['a', 'b', 'c', 'd'] };
  const classifier = new Sequential(new Flatten(), new Linear(16 * 16, 4)).eval();
  const ae = new SegNet({ inChannels: 1, stages: [[4]] });
  ae.encoder.freeze().eval();
  const encode = (x: Tensor) => noGrad(() => ae.encoder.encode(x));
  const batches = stepBatches(data, { batchSize: 16, seed: 2 });
  const encodings = { train: encodeAll(data.images, 16, encode, { channelsLast: false, device: 'cpu' }), check: encodeAll(data.images.slice(0, 0, 8), 16, encode, { channelsLast: false, device: 'cpu' }), positions: batches.positions };
  const finetune = (o: Partial<FinetuneOptions>) => finetuneDecoder(ae, classifier, { steps: 2, lr: 1e-3, seed: 3, batch: batches.batch, encodings, ...o });
  const refused = (pattern: RegExp) => (e: unknown) => e instanceof EncodingCacheError && pattern.test((e as Error).message);
  await assert.rejects(finetune({ trainWholeAe: true }), refused(/trainWholeAe is on/));
  await assert.rejects(finetune({ speed: { autocast: 'bfloat16' } }), refused(/autocast bfloat16 is on/));
  const convergence = { x: data.images.slice(0, 0, 16), y: data.labels.slice(0, 0, 16), every: 1, patience: 1, minDelta: 0, minSteps: 1 };
  await assert.rejects(finetune({ convergence }), refused(/hold 8 check images, the convergence check has 16/));
  assert.equal((await finetune({})).stepsRun, 2);
});
