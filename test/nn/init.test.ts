// Initialisers draw from the documented distributions (bounds and standard deviation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { empty, manualSeed } from '../../src/engine/index.js';
import { Conv2d, init } from '../../src/nn/index.js';

const shape = [128, 64, 3, 3]; // fan_in 576, fan_out 1152
const stats = (values: number[]) => {
  const mean = values.reduce((a, b) => a + b) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { mean, std, maxAbs: Math.max(...values.map(Math.abs)) };
};

function assertUniform(values: number[], bound: number, what: string): void {
  const s = stats(values);
  assert.ok(s.maxAbs <= bound && s.maxAbs > 0.99 * bound, `${what}: max |w| ${s.maxAbs} vs bound ${bound}`);
  assert.ok(Math.abs(s.std - bound / Math.sqrt(3)) < 0.01 * bound, `${what}: std ${s.std}`);
  assert.ok(Math.abs(s.mean) < 0.01 * bound, `${what}: mean ${s.mean}`);
}

function assertNormal(values: number[], std: number, what: string): void {
  const s = stats(values);
  assert.ok(Math.abs(s.std - std) < 0.01 * std, `${what}: std ${s.std} vs ${std}`);
  assert.ok(Math.abs(s.mean) < 0.01 * std, `${what}: mean ${s.mean}`);
}

test('kaiming and xavier: bounds and standard deviations', () => {
  manualSeed(71);
  assertUniform(init.kaimingUniform_(empty(shape)).toArray(), Math.sqrt(2) * Math.sqrt(3 / 576), 'kaimingUniform');
  assertUniform(init.kaimingUniform_(empty(shape), 0, 'fanOut').toArray(), Math.sqrt(2) * Math.sqrt(3 / 1152), 'kaimingUniform fanOut');
  assertNormal(init.kaimingNormal_(empty(shape)).toArray(), Math.sqrt(2 / 576), 'kaimingNormal');
  assertNormal(init.kaimingNormal_(empty(shape), 'leaky_relu', 'fanOut').toArray(), Math.sqrt(2 / 1152), 'kaimingNormal leaky_relu (a = 0) fanOut');
  assertUniform(init.xavierUniform_(empty(shape)).toArray(), Math.sqrt(6 / (576 + 1152)), 'xavierUniform');
  assertNormal(init.xavierNormal_(empty(shape), 2).toArray(), 2 * Math.sqrt(2 / (576 + 1152)), 'xavierNormal gain 2');
  assert.deepEqual(init.constant_(empty([3]), 0.5).toArray(), [0.5, 0.5, 0.5]);
});

test('Conv2d default init: weight and bias in +-1/sqrt(fan_in), as torch.nn.Conv2d', () => {
  manualSeed(72);
  const conv = new Conv2d(64, 128, 3);
  assertUniform(conv.weight.toArray(), 1 / Math.sqrt(576), 'weight');
  assert.ok(conv.bias!.toArray().every((v) => Math.abs(v) <= 1 / Math.sqrt(576)));
});
