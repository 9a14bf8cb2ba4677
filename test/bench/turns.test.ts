// Bench ratios are taken within each turn (both engines under the same load) and printed with
// their range over turns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRatio, turnRatio } from '../../bench/turns.js';

test('a ratio over turns is the median of the per-turn ratios, with the lowest and highest turn', () => {
  // Per turn: 1.2, 0.5, 1.0. The ratio of the medians (11 / 10) would hide the bad turn.
  const r = turnRatio([12, 5, 10], [10, 10, 10]);
  assert.deepEqual(r, { median: 1, low: 0.5, high: 1.2, turns: 3 });
  assert.equal(formatRatio(r), '1.00 (0.50-1.20)');
  assert.equal(formatRatio(r, 3), '1.000 (0.500-1.200)');
});

test('turns without both rates are left out; none at all gives n/a; a single turn has no range', () => {
  assert.deepEqual(turnRatio([2, undefined, 3], [1, 1, undefined]), { median: 2, low: 2, high: 2, turns: 1 });
  assert.equal(formatRatio(turnRatio([2, undefined, 3], [1, 1, undefined])), '2.00');
  assert.equal(turnRatio([1, 2], [0, undefined]), null);
  assert.equal(formatRatio(null), 'n/a');
});
