import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, manualSeed, noGrad, randn, tidy } from '../../src/engine/index.js';
import { Conv2d } from '../../src/nn/index.js';
import { SegNet, SMALL_STAGES, VGG16_STAGES } from '../../src/models/segnet.js';

test('SegNet with the paper widths has the authors parameter names and VGG16 conv shapes', () => {
  const ae = new SegNet({ inChannels: 3, stages: VGG16_STAGES });
  const names = ae.namedParameters().map(([n]) => n);
  for (const n of ['encoder.conv11.weight', 'encoder.bn11.weight', 'encoder.conv53.weight', 'decoder.conv53d.weight', 'decoder.bn53d.bias', 'decoder.conv11d.weight', 'decoder.conv_final.weight']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
  const shape = (n: string) => ae.stateDict().get(n)!.shape;
  assert.deepEqual(shape('encoder.conv11.weight'), [64, 3, 3, 3]);
  assert.deepEqual(shape('encoder.conv41.weight'), [512, 256, 3, 3]);
  // Decoder widths (512,512,512 | 512,512,256 | 256,256,128 | 128,64 | 64,64), then 1x1 to the image.
  assert.deepEqual(shape('decoder.conv41d.weight'), [256, 512, 3, 3]);
  assert.deepEqual(shape('decoder.conv31d.weight'), [128, 256, 3, 3]);
  assert.deepEqual(shape('decoder.conv21d.weight'), [64, 128, 3, 3]);
  assert.deepEqual(shape('decoder.conv11d.weight'), [64, 64, 3, 3]);
  assert.deepEqual(shape('decoder.conv_final.weight'), [3, 64, 1, 1]);
  assert.ok(ae.stateDict().has('decoder.bn22d.running_var'));
  // 13 encoder + 13 decoder 3x3 convs, one 1x1, and nothing else that convolves (no deconvs).
  const convs = [...ae.namedModules()].filter(([, m]) => m instanceof Conv2d);
  assert.equal(convs.length, 27);
});

test('SegNet reconstructs at the input size and upsamples by unpooling with the encoder indices', () => {
  manualSeed(1);
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES }).eval();
  tidy(() => {
    const x = randn([2, 1, 32, 32]);
    assert.deepEqual(ae.forward(x).shape, [2, 1, 32, 32]);
    const enc = noGrad(() => ae.encoder.encode(x));
    assert.deepEqual(enc.code.shape, [2, 64, 8, 8]);
    assert.deepEqual(enc.sizes, [[32, 32], [16, 16]]);
    // The first unpooling places values only where the encoder's deepest max-pool found its maxima.
    const unpooled = F.maxUnpool2d(enc.code, enc.indices[1], enc.sizes[1]);
    const nonzero = unpooled.ne(0).sum().item();
    assert.ok(nonzero <= enc.code.numel && nonzero > enc.code.numel / 2);
    const windowsHit = F.maxPool2d(unpooled.ne(0).float(), 2).sum().item();
    assert.equal(windowsHit, nonzero, 'at most one value per 2x2 window');
  });
});

test('sizes that do not halve evenly still come back at the input size (pre-pool sizes are kept)', () => {
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES }).eval();
  assert.equal(ae.sizeMultiple, 4);
  assert.deepEqual(tidy(() => noGrad(() => ae.forward(randn([1, 1, 30, 30])).shape)), [1, 1, 30, 30]);
});
