import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalysisError, aggregateReplicates, type ReplicateRun } from '../../src/analysis/index.js';

const run = (seed: number, value: number, ranking: string[], established: 'a' | 'b' | null): ReplicateRun => ({
  seed,
  figures: [{ measure: 'top-1 on original', subject: 'x', value }],
  order: { ranking, isTotal: established !== null, pairs: [{ a: 'x', b: 'y', established }] },
});

test('replicates: mean and sample sd per figure, recurring relations and rankings, Kendall W', () => {
  const s = aggregateReplicates([run(0, 0.9, ['x', 'y'], 'a'), run(1, 0.8, ['x', 'y'], 'a'), run(2, 0.7, ['y', 'x'], null)]);
  assert.deepEqual(s.seeds, [0, 1, 2]);
  assert.equal(s.figures[0].mean.toFixed(12), (0.8).toFixed(12));
  assert.equal(s.figures[0].sd.toFixed(12), (0.1).toFixed(12)); // sqrt((0.01 + 0 + 0.01) / 2)
  assert.deepEqual(s.relations, [{ a: 'x', b: 'y', aAbove: 2, bAbove: 0, neither: 1 }]);
  assert.deepEqual(s.rankings, [
    { ranking: ['x', 'y'], seeds: 2, total: 2 },
    { ranking: ['y', 'x'], seeds: 1, total: 0 },
  ]);
  // Rank sums 5 and 4 around 4.5: S = 0.5; W = 12 * 0.5 / (9 * 6) = 1/9.
  assert.ok(Math.abs(s.kendallW! - 1 / 9) < 1e-12);
  assert.throws(() => aggregateReplicates([run(0, 1, ['x', 'y'], 'a')]), AnalysisError);
  const other = run(1, 1, ['x', 'y'], 'a');
  other.figures[0].subject = 'z';
  assert.throws(() => aggregateReplicates([run(0, 1, ['x', 'y'], 'a'), other]), /same figures/);
});
