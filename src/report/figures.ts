// Figures as PNG, rendered without a browser: a vega-lite spec is compiled to vega, rendered to
// SVG by vega's headless view, and rasterised by resvg with the system fonts.
import * as vl from 'vega-lite';
import * as vega from 'vega';
import { Resvg } from '@resvg/resvg-js';
import type { Results } from './results.js';

export type VegaLiteSpec = Record<string, unknown>;

export interface Figure {
  id: string;
  caption: string;
  spec: VegaLiteSpec;
}

const FONT = 'DejaVu Sans';

export async function renderPng(spec: VegaLiteSpec, scale = 2): Promise<Buffer> {
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', config: { font: FONT, background: 'white' }, ...spec } as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG(scale);
  view.finalize();
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: FONT } }).render().asPng();
}

const pct = (x: number) => Math.round(x * 1000) / 10;

function accuracyFigure(r: Results): Figure {
  const values = r.classifiers.flatMap((c) => [
    { classifier: c.name, input: '1 original', accuracy: pct(c.accuracy.original.top1) },
    { classifier: c.name, input: '2 A_S reconstruction', accuracy: pct(c.accuracy.generic.top1) },
    { classifier: c.name, input: '3 own S2SNet reconstruction', accuracy: pct(c.accuracy.own.top1) },
  ]);
  return {
    id: 'accuracy',
    caption: 'Top-1 accuracy of each classifier on the originals, on the generic AE (A_S) reconstructions and on the reconstructions of its own fine-tuned AE.',
    spec: {
      data: { values },
      mark: 'bar',
      width: { step: 18 },
      height: 220,
      encoding: {
        x: { field: 'input', type: 'nominal', axis: null },
        y: { field: 'accuracy', type: 'quantitative', title: 'top-1 accuracy (%)', scale: { domain: [0, 100] } },
        color: { field: 'input', type: 'nominal', title: 'input' },
        column: { field: 'classifier', type: 'nominal', title: null },
      },
    },
  };
}

function heatmap(id: string, caption: string, rows: string[], columns: string[], m: number[][], diverging: boolean): Figure {
  const values = rows.flatMap((row, i) => columns.map((col, j) => ({ row, col, value: pct(m[i][j]) })));
  const maxAbs = Math.max(1, ...values.map((v) => Math.abs(v.value)));
  return {
    id,
    caption,
    spec: {
      data: { values },
      width: 60 * columns.length,
      height: 34 * rows.length,
      encoding: {
        x: { field: 'col', type: 'nominal', sort: columns, title: 'classifier evaluated', axis: { labelAngle: -30 } },
        y: { field: 'row', type: 'nominal', sort: rows, title: 'reconstructions of' },
      },
      layer: [
        {
          mark: 'rect',
          encoding: {
            color: diverging
              ? { field: 'value', type: 'quantitative', title: 'change (pts)', scale: { scheme: 'redblue', domain: [-maxAbs, maxAbs] } }
              : { field: 'value', type: 'quantitative', title: 'top-1 (%)', scale: { scheme: 'viridis', domain: [0, 100] } },
          },
        },
        { mark: { type: 'text', fontSize: 11 }, encoding: { text: { field: 'value', type: 'quantitative', format: diverging ? '+.1f' : '.1f' }, color: { value: 'black' } } },
      ],
    },
  };
}

function nmiFigure(r: Results): Figure {
  const values = r.autoencoders.flatMap((a) => [
    { autoencoder: a.name, measure: 'intra (original vs reconstruction)', nmi: a.intraNmi },
    { autoencoder: a.name, measure: 'inter (between reconstructions)', nmi: a.interNmi },
  ]);
  return {
    id: 'nmi',
    caption: 'Normalized mutual information per autoencoder: intra-NMI (how much of each input survives) and inter-NMI (how much the same pattern appears on every input).',
    spec: {
      data: { values },
      mark: 'bar',
      width: { step: 16 },
      height: 200,
      encoding: {
        x: { field: 'measure', type: 'nominal', axis: null },
        y: { field: 'nmi', type: 'quantitative', title: 'NMI', scale: { domain: [0, 1] } },
        color: { field: 'measure', type: 'nominal', title: null },
        column: { field: 'autoencoder', type: 'nominal', title: null },
      },
    },
  };
}

function histogramFigure(r: Results): Figure {
  const values: { source: string; channel: string; x: number; density: number }[] = [];
  const first = Object.values(r.histograms)[0] ?? [];
  for (const ch of first) ch.original.forEach((d, k) => values.push({ source: 'original', channel: ch.name, x: ch.range[0] + ((k + 0.5) * (ch.range[1] - ch.range[0])) / ch.original.length, density: d }));
  for (const [ae, channels] of Object.entries(r.histograms)) {
    for (const ch of channels) ch.reconstruction.forEach((d, k) => values.push({ source: ae, channel: ch.name, x: ch.range[0] + ((k + 0.5) * (ch.range[1] - ch.range[0])) / ch.reconstruction.length, density: d }));
  }
  return {
    id: 'histograms',
    caption: 'Per-channel histograms (CIELAB L*, a*, b* for colour images, intensity for grayscale) of the originals and of each autoencoder\'s reconstructions.',
    spec: {
      data: { values },
      mark: { type: 'line', interpolate: 'step' },
      width: 320,
      height: 140,
      encoding: {
        x: { field: 'x', type: 'quantitative', title: 'value' },
        y: { field: 'density', type: 'quantitative', title: 'share of pixels', scale: { type: 'sqrt' } },
        color: { field: 'source', type: 'nominal', title: null },
        strokeWidth: { condition: { test: "datum.source === 'original'", value: 3 }, value: 1.2 },
        row: { field: 'channel', type: 'nominal', title: null },
      },
      resolve: { scale: { x: 'independent' } },
    },
  };
}

function curvesFigure(r: Results): Figure {
  const values = Object.entries(r.curves).flatMap(([job, c]) => c.step.map((s, i) => ({ job, step: s, loss: c.loss[i] })));
  return {
    id: 'curves',
    caption: 'Training curves: cross-entropy of classifier training and decoder fine-tuning, MSE of A_S pretraining (log scale).',
    spec: {
      data: { values },
      mark: 'line',
      width: 300,
      height: 160,
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'loss', type: 'quantitative', scale: { type: 'log' } },
        color: { field: 'job', type: 'nominal', title: null },
        facet: { field: 'kind', type: 'nominal', columns: 3, title: null },
      },
      transform: [{ calculate: "indexof(datum.job, 'fine-tune') === 0 ? 'decoder fine-tuning' : indexof(datum.job, 'train') === 0 ? 'classifier training' : 'A_S pretraining'", as: 'kind' }],
      resolve: { scale: { x: 'independent', y: 'independent', color: 'independent' } },
    },
  };
}

/** Every chart of the report, built from the results alone. */
export function resultFigures(r: Results): Figure[] {
  const sq = r.crossEvaluation;
  return [
    accuracyFigure(r),
    heatmap('cross', 'Cross-evaluation: top-1 accuracy of classifier j (columns) on the reconstructions of the AE of row i.', sq.rows, sq.columns, sq.top1, false),
    heatmap('delta', 'Change in top-1 accuracy (percentage points) against each classifier on the originals. Blue: kept or gained; red: lost.', sq.rows, sq.columns, sq.delta, true),
    nmiFigure(r),
    histogramFigure(r),
    ...(Object.keys(r.curves).length ? [curvesFigure(r)] : []),
  ];
}
