import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalysisError, aggregateReplicates, separations, SEPARATION_SHUFFLES, type ReplicateRun, type ReplicateSummary } from '../../src/analysis/index.js';

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

/** Figures of one measure: a subject per row, its value per seed. */
const table = (measure: string, rows: Record<string, number[]>): ReplicateSummary['figures'] =>
  Object.entries(rows).map(([subject, values]) => {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    return { measure, subject, values, mean, sd: Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) };
  });

test('separations: subjects far apart against their seed spread separate, subjects within it do not', () => {
  const apart = table('|colour cast|', { a: [1.0, 1.1, 0.9], b: [2.0, 2.1, 1.9], c: [3.0, 3.1, 2.9] });
  const mixed = table('chroma ratio', { a: [0.9, 1.3, 1.1], b: [1.2, 0.8, 1.0], c: [1.0, 1.1, 0.9] });
  const still = table('top-1 on original', { a: [0.9, 0.9, 0.9], b: [0.8, 0.8, 0.8] });
  const alone = table('PSNR dB', { a: [20, 21, 22] });
  const [s1, s2, ...rest] = separations([...apart, ...mixed, ...still, ...alone]);
  assert.equal(rest.length, 0, 'a measure the seeds never move, and one with one subject, have nothing to separate');
  assert.deepEqual([s1.measure, s1.subjects], ['|colour cast|', 3]);
  // Means 1, 2, 3 (sd 1); every subject's sd 0.1. F = 3 * 1 / 0.01 = 300.
  assert.ok(Math.abs(s1.betweenSd - 1) < 1e-12 && Math.abs(s1.seedSd - 0.1) < 1e-12);
  assert.ok(Math.abs(s1.f - 300) < 1e-9, `F ${s1.f}`);
  // 280 ways to split 9 values into 3 unordered groups of 3: only the observed one is as extreme.
  assert.ok(s1.p < 0.01, `p ${s1.p}`);
  assert.ok(s1.p >= 1 / (1 + SEPARATION_SHUFFLES));
  assert.equal(s2.measure, 'chroma ratio');
  assert.ok(s2.p > 0.3, `subjects within their seed spread: p ${s2.p}`);
  // Seeded by the measure's name: the same figures give the same p.
  assert.deepEqual(separations(apart), separations(apart));
});

test('aggregateReplicates lists the separations of its figures', () => {
  const runs: ReplicateRun[] = [0, 1, 2].map((seed) => ({
    seed,
    figures: [
      { measure: 'PSNR dB', subject: 'x', value: 20 + seed * 0.1 },
      { measure: 'PSNR dB', subject: 'y', value: 25 - seed * 0.1 },
    ],
    order: { ranking: ['x', 'y'], isTotal: true, pairs: [{ a: 'x', b: 'y', established: 'a' }] },
  }));
  const s = aggregateReplicates(runs);
  assert.deepEqual(s.separations.map((x) => [x.measure, x.subjects]), [['PSNR dB', 2]]);
  assert.ok(s.separations[0].f > 100);
});
