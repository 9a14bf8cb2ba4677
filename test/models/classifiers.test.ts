import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, tidy } from '../../src/engine/index.js';
import { Conv2d, LocalResponseNorm } from '../../src/nn/index.js';
import { buildClassifier, ZOO_NAMES, UnknownClassifierError } from '../../src/models/classifiers.js';

test('every zoo classifier maps [N,C,32,32] to [N,classes] logits, for 1 and 3 channels', () => {
  manualSeed(0);
  for (const name of ZOO_NAMES) {
    for (const channels of [1, 3]) {
      const m = buildClassifier(name, { channels, size: 32, classes: 7 }).eval();
      const out = tidy(() => noGrad(() => m.forward(randn([3, channels, 32, 32])).shape));
      assert.deepEqual(out, [3, 7], name);
    }
  }
});

test('each family keeps the trait that shapes its input signal', () => {
  const convs = (name: string) => [...buildClassifier(name, { channels: 1, size: 32, classes: 10 }).namedModules()].filter(([, m]) => m instanceof Conv2d).map(([n, m]) => [n, m as Conv2d] as const);
  const alex = convs('alexnet');
  assert.ok(Number(alex[0][1].kernelSize) >= 7 && alex[0][1].options.stride === 2, 'AlexNet-like: large, strided first kernel');
  assert.ok([...buildClassifier('alexnet', { channels: 1, size: 32, classes: 10 }).namedModules()].some(([, m]) => m instanceof LocalResponseNorm), 'AlexNet-like: LRN');
  assert.ok(convs('vgg').every(([, c]) => c.kernelSize === 3 && (c.options.stride ?? 1) === 1), 'VGG-like: only 3x3 stride 1');
  const strided1x1 = convs('resnet').filter(([, c]) => c.kernelSize === 1 && c.options.stride === 2).map(([n]) => n);
  assert.ok(strided1x1.some((n) => n.includes('downsample')) && strided1x1.some((n) => n.endsWith('conv1')), 'ResNet-like: stride-2 1x1 in shortcut and main path');
  const kernels = new Set(convs('inception').map(([, c]) => c.kernelSize));
  assert.ok(kernels.has(1) && kernels.has(3) && kernels.has(5), 'Inception-like: 1x1, 3x3 and 5x5 branches');
});

test('unknown names and unusable sizes are refused with the list of choices', () => {
  assert.throws(() => buildClassifier('densenet', { channels: 1, size: 32, classes: 10 }), (e: Error) => e instanceof UnknownClassifierError && /lenet5, alexnet/.test(e.message));
  assert.throws(() => buildClassifier('vgg', { channels: 1, size: 28, classes: 10 }), /multiple of 8/);
});
