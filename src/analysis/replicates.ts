// Replicate seeds: how much every figure and the order move when the seed-dependent stages are
// retrained with other seeds. Input is plain data, one entry per seed.
import { deriveSeed, Rng } from '../data/random.js';
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
  separations: Separation[];
}

/**
 * Whether the subjects of one measure (say the autoencoders' |colour cast|) differ by more than
 * the seeds move each of them: a one-way analysis of variance whose p-value comes from seeded
 * shuffles of all values among the subjects, not from the F distribution (a handful of seeds
 * makes no normal sample).
 */
export interface Separation {
  measure: string;
  subjects: number;
  /** Sample standard deviation of the subjects' means over the seeds. */
  betweenSd: number;
  /** Root mean square of the subjects' sample standard deviations over the seeds. */
  seedSd: number;
  /** seeds x variance of the subjects' means / mean variance within a subject. */
  f: number;
  /** (1 + shuffles with F at least the observed one) / (1 + SEPARATION_SHUFFLES). */
  p: number;
}

/** The names under which replicates compare the colour figures of each autoencoder. */
export const COLOUR_FIGURES = ['|colour cast|', 'chroma ratio', 'hue rotation °'] as const;

/** Below this p-value a measure's subjects count as differing beyond the seeds' spread. */
export const SEPARATION_LEVEL = 0.05;

/** Random shuffles behind each separation's p-value (seeded by the measure's name: reports are reproducible). */
export const SEPARATION_SHUFFLES = 10_000;

/** Between-subject over within-subject variance of a subjects x seeds table (row-major in values). */
function fStatistic(values: Float64Array, subjects: number, seeds: number): number {
  let between = 0;
  let within = 0;
  let grand = 0;
  for (const v of values) grand += v;
  grand /= values.length;
  for (let i = 0; i < subjects; i++) {
    let mean = 0;
    for (let j = 0; j < seeds; j++) mean += values[i * seeds + j];
    mean /= seeds;
    between += (mean - grand) ** 2;
    for (let j = 0; j < seeds; j++) within += (values[i * seeds + j] - mean) ** 2;
  }
  return (seeds * between) / (subjects - 1) / (within / (subjects * (seeds - 1)));
}

/**
 * For every measure with at least two subjects that the seeds move at all, how far its subjects
 * differ beyond the seeds' spread (see Separation).
 *
 * @param figures Every figure's values per seed (aggregateReplicates' figures).
 * @returns One entry per such measure, in the order the figures list them.
 * @example
 * separations(summary.figures).find((s) => s.measure === '|colour cast|')?.p; // < 0.05: the casts differ beyond seed noise
 */
export function separations(figures: ReplicateSummary['figures']): Separation[] {
  const byMeasure = new Map<string, ReplicateSummary['figures']>();
  for (const f of figures) {
    const rows = byMeasure.get(f.measure) ?? [];
    rows.push(f);
    byMeasure.set(f.measure, rows);
  }
  const out: Separation[] = [];
  for (const [measure, rows] of byMeasure) {
    const seeds = rows[0].values.length;
    if (rows.length < 2 || seeds < 2 || rows.every((r) => r.values.every((v) => v === r.values[0]))) continue;
    const values = Float64Array.from(rows.flatMap((r) => r.values));
    const observed = fStatistic(values, rows.length, seeds);
    const rng = new Rng(deriveSeed(0, 'separation', measure));
    let hits = 0;
    // Ties of floating-point sums: a shuffle as extreme as the observed one may differ in the last bits.
    for (let k = 0; k < SEPARATION_SHUFFLES; k++) if (fStatistic(rng.shuffle(values), rows.length, seeds) >= observed * (1 - 1e-12)) hits++;
    const means = rows.map((r) => r.mean);
    const meanOfMeans = means.reduce((a, b) => a + b, 0) / means.length;
    out.push({
      measure,
      subjects: rows.length,
      betweenSd: Math.sqrt(means.reduce((a, m) => a + (m - meanOfMeans) ** 2, 0) / (means.length - 1)),
      seedSd: Math.sqrt(rows.reduce((a, r) => a + r.sd ** 2, 0) / rows.length),
      f: observed,
      p: (1 + hits) / (1 + SEPARATION_SHUFFLES),
    });
  }
  return out;
}

/**
 * Mean and sample standard deviation of every figure across seeds, how often each pairwise
 * relation was established and each ranking recurred, Kendall's W of the rankings, and per
 * measure whether its subjects differ beyond the seeds' spread.
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
    separations: separations(figures),
  };
}
