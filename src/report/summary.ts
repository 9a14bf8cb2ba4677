// The terminal summary printed at the end of a run: accuracies, the cross matrix, the order, NMI.
import { textTable } from '../common/text.js';
import type { Results } from './schema.js';
import { runWarnings } from './diagnostics.js';
import { colourRows, finetuneRows, periodicRows, plantedRows } from './measures.js';

const pct = (x: number | null) => (x === null ? '-' : (100 * x).toFixed(2));

export function formatSummary(r: Results, reportPath?: string): string {
  const acc = textTable(
    ['classifier', 'family', 'params', 'original %', 'on A_S %', 'on own %'],
    r.classifiers.map((c) => [c.name, c.family, String(c.parameters), pct(c.accuracy.original.top1), pct(c.accuracy.generic.top1), pct(c.accuracy.own.top1)]),
  );
  const cx = r.crossEvaluation;
  const cross = textTable(['AE \\ classifier', ...cx.columns], cx.rows.map((row, i) => [row, ...cx.top1[i].map(pct)]));
  const nmi = textTable(
    ['autoencoder', 'PSNR dB', 'intra-NMI', 'inter-NMI'],
    r.autoencoders.map((a) => [a.name, a.psnr.toFixed(2), a.intraNmi.toFixed(3), a.interNmi.toFixed(3)]),
  );
  const table = (t: { header: string[]; rows: string[][] } | null, title: string) => (t ? ['', title, textTable(t.header, t.rows)] : []);
  const warnings = runWarnings(r).map((w) => `WARNING: ${w.message}`);
  const total = Object.values(r.run.durations).reduce((s, v) => s + v, 0);
  const order = `${r.order.ranking.join(' > ')}  (${r.order.isTotal ? 'a strict total order' : `not total: ${r.order.violations.map((v) => v.description).join('; ')}`})`;
  return [
    ...warnings,
    ...(warnings.length ? [''] : []),
    `S2SNets on ${r.run.dataset}: ${r.classifiers.length} classifiers, ${r.run.evalSamples} evaluation images`,
    '',
    'Accuracy (top-1)',
    acc,
    '',
    'Cross-evaluation (top-1 %, rows: reconstructions of, columns: classifier)',
    cross,
    '',
    `Order: ${order}`,
    '',
    'Normalized mutual information',
    nmi,
    ...table(colourRows(r), 'Colour shift against the originals (CIELAB; chroma ratio < 1: washed out; hue rotation: chroma-weighted circular mean)'),
    ...table(periodicRows(r), 'Periodic artifacts: power at period-p frequencies over the originals (dB; > 0: a grid is added) and the added pattern\'s RMS amplitude'),
    ...table(plantedRows(r), `Planted signal kept (carrier: ${r.planted?.carrier})`),
    ...table(finetuneRows(r), 'Fine-tunes'),
    '',
    `Compute time of the jobs: ${total.toFixed(0)} s`,
    ...(reportPath ? [`Report: ${reportPath}`] : []),
  ].join('\n');
}
