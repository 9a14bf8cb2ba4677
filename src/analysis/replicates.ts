// Replicate seeds: how much every figure and the order move when the seed-dependent stages are
// retrained with other seeds. Input is plain data, one entry per seed.
import { kendallW } from './concordance.js';
import { AnalysisError } from './images.js';
import type { PairConfidence } from './order.js';

/** One named figure of one seed's results, e.g. measure 'top-1 on own S2SNet', subject 'lenet5'. */
export interface Figure {
  measure: string;
  subject: string;
  value: number;
}

/** What aggregation needs of one seed's results. */
export interface ReplicateRun {
  seed: number;
  figures: Figure[];
  order: { ranking: string[]; isTotal: boolean; pairs: Pick<PairConfidence, 'a' | 'b' | 'established'>[] };
}

export interface ReplicateSummary {
  seeds: number[];
  figures: { measure: string; subject: string; values: number[]; mean: number; sd: number }[];
  relations: { a: string; b: string; aAbove: number; bAbove: number; neither: number }[];
  rankings: { ranking: string[]; seeds: number; total: number }[];
  kendallW: number | null;
}

/**
 * Mean and sample standard deviation of every figure across seeds, how often each pairwise
 * relation was established and each ranking recurred, and Kendall's W of the rankings.
 *
 * @param runs One entry per seed, all with the same figures and classifiers.
 * @throws AnalysisError on fewer than 2 runs or runs that do not list the same figures.
 * @example
 * const s = aggregateReplicates([runSeed0, runSeed1, runSeed2]);
 * s.kendallW; // 1 when all three seeds rank the classifiers alike
 */
export function aggregateReplicates(runs: ReplicateRun[]): ReplicateSummary {
  if (runs.length < 2) throw new AnalysisError(`replicates need at least 2 seeds, got ${runs.length}`);
  const key = (f: Figure) => `${f.measure}\u0000${f.subject}`;
  const first = runs[0].figures.map(key);
  for (const r of runs) {
    if (r.figures.map(key).join('\u0001') !== first.join('\u0001')) throw new AnalysisError(`replicates: seed ${r.seed} does not have the same figures as seed ${runs[0].seed}`);
  }
  const figures = runs[0].figures.map((f, k) => {
    const values = runs.map((r) => r.figures[k].value);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
    return { measure: f.measure, subject: f.subject, values, mean, sd };
  });
  const relations = runs[0].order.pairs.map((p, k) => {
    const established = runs.map((r) => r.order.pairs[k]);
    if (established.some((q) => q.a !== p.a || q.b !== p.b)) throw new AnalysisError('replicates: seeds order different classifiers');
    const aAbove = established.filter((q) => q.established === 'a').length;
    const bAbove = established.filter((q) => q.established === 'b').length;
    return { a: p.a, b: p.b, aAbove, bAbove, neither: runs.length - aAbove - bAbove };
  });
  const rankings = new Map<string, { ranking: string[]; seeds: number; total: number }>();
  for (const r of runs) {
    const entry = rankings.get(r.order.ranking.join('>')) ?? { ranking: r.order.ranking, seeds: 0, total: 0 };
    entry.seeds++;
    if (r.order.isTotal) entry.total++;
    rankings.set(r.order.ranking.join('>'), entry);
  }
  const names = runs[0].order.ranking;
  // Scores: first place highest, so that W compares positions.
  const positions = runs.map((r) => names.map((n) => r.order.ranking.length - r.order.ranking.indexOf(n)));
  return {
    seeds: runs.map((r) => r.seed),
    figures,
    relations,
    rankings: [...rankings.values()].sort((a, b) => b.seeds - a.seeds),
    kendallW: names.length >= 2 ? kendallW(positions) : null,
  };
}
