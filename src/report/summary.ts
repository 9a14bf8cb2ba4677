// The terminal summary printed at the end of a run: accuracies, the cross matrix, the order with
// its confidence, the claims tested, noise robustness, NMI and replicates; every estimate with
// its 95 % interval.
import { textTable } from '../common/text.js';
import { claimSentence, NO_CLAIMS, percent, seenInputText, withInterval } from './format.js';
import type { Results } from './schema.js';
import { runWarnings } from './diagnostics.js';
import { colourRows, colourSeedNote, finetuneRows, periodicRows, plantedRows, separationRows } from './measures.js';

const pct = (a: { top1: number; ci95: { top1: [number, number] } }) => withInterval(a.top1, a.ci95.top1, 100);

/** How sure the order is, in one paragraph: the ranking, whether it is total, and every unestablished pair. */
export function orderSummary(order: Results['order']): string {
  const basis = order.resamples ? `every pair established in >= ${percent(order.level)} of ${order.resamples} bootstrap resamples` : 'point estimate';
  if (order.isTotal) return `${order.ranking.join(' > ')}  (a strict total order: ${basis})`;
  const listed = order.violations.map((v) => `  - ${v.description}`);
  return [`${order.ranking.join(' > ')}  (not total: ${order.violations.length} violation(s); a relation needs ${percent(order.level)} of ${order.resamples} resamples)`, ...listed].join('\n');
}

export function formatSummary(r: Results, reportPath?: string): string {
  const acc = textTable(
    ['classifier', 'family', 'params', 'input', 'original %', 'on A_S %', 'on own %'],
    r.classifiers.map((c) => [c.name, c.family, String(c.parameters), seenInputText(c.input, r.run.imageSize, false), pct(c.accuracy.original), pct(c.accuracy.generic), pct(c.accuracy.own)]),
  );
  const cx = r.crossEvaluation;
  const cross = textTable(['AE \\ classifier', ...cx.columns], cx.rows.map((row, i) => [row, ...cx.top1[i].map((v, j) => withInterval(v, cx.ci95.top1[i][j], 100))]));
  const nmi = textTable(
    ['autoencoder', 'PSNR dB', 'intra-NMI', 'inter-NMI'],
    r.autoencoders.map((a) => [a.name, withInterval(a.psnr, a.ci95.psnr, 1, 2), withInterval(a.intraNmi, a.ci95.intraNmi, 1, 3), withInterval(a.interNmi, a.ci95.interNmi, 1, 3)]),
  );
  const table = (t: { header: string[]; rows: string[][] } | null, title: string) => (t ? ['', title, textTable(t.header, t.rows)] : []);
  const warnings = runWarnings(r).map((w) => `WARNING: ${w.message}`);
  const noise = r.noise
    ? [
        '',
        `Noise robustness (top-1 % on ${r.noise.samples} originals with Gaussian pixel noise, and on its own S2SNet of them; change: paired)`,
        textTable(
          ['classifier', 'sigma', 'noisy %', 'own S2SNet %', 'change pts'],
          r.noise.classifiers.flatMap((c) =>
            r.noise!.sigmas.map((sigma, k) => [c.name, String(sigma), withInterval(c.noisy[k], c.ci95.noisy[k], 100), withInterval(c.own[k], c.ci95.own[k], 100), withInterval(c.gain[k], c.ci95.gain[k], 100)]),
          ),
        ),
      ]
    : [];
  const total = Object.values(r.run.durations).reduce((s, v) => s + v, 0);
  return [
    ...warnings,
    ...(warnings.length ? [''] : []),
    `S2SNets on ${r.run.dataset}: ${r.classifiers.length} classifiers, ${r.run.evalSamples} evaluation images; [95% bootstrap intervals, ${r.bootstrap.resamples} resamples]`,
    '',
    'Accuracy (top-1)',
    acc,
    '',
    'Cross-evaluation (top-1 %, rows: reconstructions of, columns: classifier)',
    cross,
    '',
    `Order: ${orderSummary(r.order)}`,
    ...(r.claims ? [`Order vs accuracy: ${claimSentence('accuracy', r.claims.orderVsAccuracy, r.claims)}`, `Order vs size: ${claimSentence('parameter count', r.claims.orderVsSize, r.claims)}`] : [`Order vs accuracy and size: ${NO_CLAIMS}`]),
    ...noise,
    '',
    'Normalized mutual information',
    nmi,
    ...table(colourRows(r), 'Colour shift against the originals (CIELAB; chroma ratio < 1: washed out; hue rotation: chroma-weighted circular mean)'),
    ...(colourRows(r) ? ['', colourSeedNote(r)] : []),
    ...table(periodicRows(r), 'Periodic artifacts: power at period-p frequencies over the originals (dB; > 0: a grid is added) and the added pattern\'s RMS amplitude'),
    ...table(plantedRows(r), `Planted signal kept (carrier: ${r.planted?.carrier})`),
    ...table(finetuneRows(r), 'Fine-tunes'),
    ...(r.replicates ? ['', replicateSummary(r.replicates)] : []),
    ...table(separationRows(r), `Do the subjects of each measure differ beyond seed noise? (one-way analysis of variance over the seeds; p from seeded shuffles)`),
    '',
    `Compute time of the jobs: ${total.toFixed(0)} s`,
    ...(reportPath ? [`Report: ${reportPath}`] : []),
  ].join('\n');
}

/** Replicate seeds in a few lines: how often each relation and each ranking recurred, and Kendall's W. */
export function replicateSummary(rep: NonNullable<Results['replicates']>): string {
  const k = rep.seeds.length;
  const rankings = rep.rankings.map((x) => `  ${x.ranking.join(' > ')}: ${x.seeds} of ${k} seeds (total in ${x.total})`);
  const relations = rep.relations.map((x) => `  ${x.a} above ${x.b}: ${x.aAbove}/${k}; ${x.b} above ${x.a}: ${x.bAbove}/${k}; neither established: ${x.neither}/${k}`);
  const w = rep.kendallW === null ? 'undefined (every ranking all ties)' : rep.kendallW.toFixed(3);
  // The figures that moved most between seeds (all of them: results.json and the report).
  const moved = [...rep.figures].sort((a, b) => b.sd - a.sd).filter((f) => f.sd > 0).slice(0, 8);
  const spread = moved.map((f) => `  ${f.measure}, ${f.subject}: mean ${f.mean.toFixed(4)}, sd ${f.sd.toFixed(4)} (${f.values.map((v) => v.toFixed(4)).join(', ')})`);
  return [
    `Replicates: seeds ${rep.seeds.join(', ')} (${rep.repeatAll ? 'classifiers, A_S and fine-tunes' : 'fine-tunes'} retrained per seed); Kendall's W of the rankings ${w}`,
    ...rankings,
    ...relations,
    ...(moved.length ? [`Largest standard deviations across seeds, in each figure's own unit (${moved.length} of ${rep.figures.length} figures):`, ...spread] : [`Every figure is the same in every seed (${rep.figures.length} figures).`]),
  ].join('\n');
}
