// Seeded random number generation is reproducible and draws the right distributions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, manualSeed, ones, rand, randint, randn, randperm } from '../../src/engine/index.js';

test('manualSeed makes every random draw reproducible', () => {
  const draw = () => [randn([5]).toArray(), rand([5]).toArray(), randint(0, 10, [5]).toArray(), randperm(6).toArray(), F.dropout(ones([8]), 0.5, true).toArray()];
  manualSeed(7);
  const first = draw();
  manualSeed(7);
  assert.deepEqual(draw(), first);
  manualSeed(8);
  assert.notDeepEqual(draw(), first);
});

test('distributions: ranges, moments and permutations', () => {
  manualSeed(9);
  const u = rand([20000]).toArray();
  assert.ok(u.every((v) => v >= 0 && v < 1));
  assert.ok(Math.abs(u.reduce((a, b) => a + b) / u.length - 0.5) < 0.01);
  const n = randn([20000]);
  assert.ok(Math.abs(n.mean().item()) < 0.03);
  assert.ok(Math.abs(n.std().item() - 1) < 0.03);
  const k = randint(-3, 4, [5000]).toArray();
  assert.deepEqual([...new Set(k)].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2, 3]);
  assert.deepEqual(randperm(50).toArray().sort((a, b) => a - b), [...Array(50).keys()]);
});
