// Figures as PNG, rendered without a browser: each chart is a vega-lite spec built from plain data,
// compiled to vega, drawn to SVG by vega's headless view and rasterised by resvg with the system
// fonts. The spec is kept beside the picture so that tests (and users) can inspect what was drawn.
import * as vl from 'vega-lite';
import * as vega from 'vega';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import type { AutoencoderResult, ChannelHistogram, ClassifierResult, CrossEvaluation, LossCurve, NoiseResults, Results } from './schema.js';

export type VegaLiteSpec = Record<string, unknown>;

export interface FigureSpec {
  /** File stem under figures/ and the key the HTML places it by. */
  id: string;
  caption: string;
  spec: VegaLiteSpec;
}

export interface RenderedFigure extends FigureSpec {
  png: Buffer;
}

// DejaVu ships with most Linux distributions (Debian: fonts-dejavu-core); the rest are fallbacks.
const FONT_FAMILIES = 'DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif';
const RESVG_FONTS: ResvgRenderOptions['font'] = { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' };

/** Percent with one decimal, the unit every accuracy chart shows. */
const pct = (x: number) => Math.round(x * 1000) / 10;

/** vega-lite spec -> PNG; `scale` multiplies the pixel size for sharp text. */
export async function renderPng(spec: VegaLiteSpec, scale = 2): Promise<Buffer> {
  const config = { font: FONT_FAMILIES, background: 'white', padding: 8, legend: { labelLimit: 0 }, axis: { labelLimit: 220 } };
  const compiled = vl.compile({ ...spec, config } as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG(scale);
    return new Resvg(svg, { font: RESVG_FONTS }).render().asPng();
  } finally {
    view.finalize();
  }
}

export async function renderFigure(figure: FigureSpec): Promise<RenderedFigure> {
  return { ...figure, png: await renderPng(figure.spec) };
}

let systemFontsRender: boolean | undefined;

/**
 * Whether resvg finds a font to draw figure text with. Without one the charts still render,
 * but with no labels at all, so the report says so.
 */
export function textRenders(loadSystemFonts = true): boolean {
  if (loadSystemFonts && systemFontsRender !== undefined) return systemFontsRender;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="60" height="24"><text x="2" y="18" font-size="16" font-family="${FONT_FAMILIES}">Ag8</text></svg>`;
  const pixels = new Resvg(svg, { font: { ...RESVG_FONTS, loadSystemFonts } }).render().pixels;
  let inked = false;
  for (let i = 3; i < pixels.length && !inked; i += 4) inked = pixels[i] > 0;
  if (loadSystemFonts) systemFontsRender = inked;
  return inked;
}

/** A black rule from `low` to `high` over each bar: its 95 % interval. */
function errorBars(y: string): Record<string, unknown> {
  return { mark: { type: 'rule', color: 'black', strokeWidth: 1.2 }, encoding: { y: { field: 'low', type: 'quantitative', title: y }, y2: { field: 'high' } } };
}

export function accuracyChart(classifiers: ClassifierResult[]): FigureSpec {
  const inputs = ['original', 'A_S reconstruction', 'own S2SNet reconstruction'];
  const values = classifiers.flatMap((c) =>
    [c.accuracy.original, c.accuracy.generic, c.accuracy.own].map((a, k) => ({ classifier: c.name, input: inputs[k], accuracy: pct(a.top1), low: pct(a.ci95.top1[0]), high: pct(a.ci95.top1[1]) })),
  );
  const y = 'top-1 accuracy (%)';
  return {
    id: 'accuracy',
    caption: 'Top-1 accuracy of each classifier on the originals, on the generic AE (A_S) reconstructions and on the reconstructions of its own fine-tuned AE; black bars: 95% bootstrap intervals.',
    spec: {
      data: { values },
      width: { step: 22 },
      height: 220,
      encoding: {
        x: { field: 'classifier', type: 'nominal', sort: classifiers.map((c) => c.name), title: null, axis: { labelAngle: -30 } },
        xOffset: { field: 'input', type: 'nominal', sort: inputs },
      },
      layer: [
        {
          mark: 'bar',
          encoding: {
            y: { field: 'accuracy', type: 'quantitative', title: y, scale: { domain: [0, 100] } },
            color: { field: 'input', type: 'nominal', sort: inputs, title: 'input', scale: { range: ['#4c78a8', '#bab0ac', '#e45756'] } },
          },
        },
        errorBars(y),
      ],
    },
  };
}

/** Accuracy under pixel noise: per classifier, on the noisy originals and on its own S2SNet's reconstructions of them, with 95 % intervals. */
export function noiseChart(noise: NoiseResults): FigureSpec {
  const inputs = ['noisy original', 'own S2SNet of the noisy image'];
  const values = noise.classifiers.flatMap((c) =>
    noise.sigmas.flatMap((sigma, k) => [
      { classifier: c.name, sigma, input: inputs[0], accuracy: pct(c.noisy[k]), low: pct(c.ci95.noisy[k][0]), high: pct(c.ci95.noisy[k][1]) },
      { classifier: c.name, sigma, input: inputs[1], accuracy: pct(c.own[k]), low: pct(c.ci95.own[k][0]), high: pct(c.ci95.own[k][1]) },
    ]),
  );
  const x = { field: 'sigma', type: 'quantitative', title: 'noise sigma (pixel units)', scale: { domain: [0, Math.max(...noise.sigmas) * 1.05] } };
  const colour = { field: 'input', type: 'nominal', sort: inputs, title: null, scale: { range: ['#4c78a8', '#e45756'] } };
  return {
    id: 'noise',
    caption: "Noise robustness: top-1 accuracy of each classifier on originals with Gaussian pixel noise (blue) and on its own S2SNet's reconstructions of the same noisy images (red), with 95% bootstrap intervals.",
    spec: {
      data: { values },
      facet: { field: 'classifier', type: 'nominal', title: null, sort: noise.classifiers.map((c) => c.name) },
      columns: 5,
      spec: {
        width: 160,
        height: 140,
        layer: [
          { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'accuracy', type: 'quantitative', title: 'top-1 accuracy (%)', scale: { domain: [0, 100] } }, color: colour } },
          { mark: { type: 'rule', strokeWidth: 1.2 }, encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: colour } },
        ],
      },
    },
  };
}

export interface LabelledMatrix {
  rows: string[];
  columns: string[];
  values: number[][];
}

/**
 * An annotated heatmap of shares in [0, 1], shown as percent (sequential) or percentage points
 * around zero (diverging: blue gained, red lost, white unchanged).
 */
export function matrixHeatmap(id: string, caption: string, m: LabelledMatrix, kind: 'sequential' | 'diverging'): FigureSpec {
  const values = m.rows.flatMap((row, i) => m.columns.map((column, j) => ({ row, column, value: pct(m.values[i][j]) })));
  const diverging = kind === 'diverging';
  const maxAbs = Math.max(1, ...values.map((v) => Math.abs(v.value)));
  // Dark cells get white numbers so that every value stays legible.
  const darkTest = diverging ? `abs(datum.value) > ${0.6 * maxAbs}` : 'datum.value < 45';
  return {
    id,
    caption,
    spec: {
      data: { values },
      width: { step: 64 },
      height: { step: 34 },
      encoding: {
        x: { field: 'column', type: 'nominal', sort: m.columns, title: 'classifier evaluated', axis: { labelAngle: -30 } },
        y: { field: 'row', type: 'nominal', sort: m.rows, title: 'reconstructions of' },
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
        {
          mark: { type: 'text', fontSize: 11 },
          encoding: {
            text: { field: 'value', type: 'quantitative', format: diverging ? '+.1f' : '.1f' },
            color: { condition: { test: darkTest, value: 'white' }, value: 'black' },
          },
        },
      ],
    },
  };
}

export function crossHeatmap(cx: CrossEvaluation): FigureSpec {
  return matrixHeatmap(
    'cross',
    'Cross-evaluation: top-1 accuracy (%) of classifier j (columns) on the reconstructions of the AE of row i.',
    { rows: cx.rows, columns: cx.columns, values: cx.top1 },
    'sequential',
  );
}

export function deltaHeatmap(cx: CrossEvaluation): FigureSpec {
  return matrixHeatmap(
    'delta',
    'Change in top-1 accuracy (percentage points) against each classifier on the originals. Blue: kept or gained; red: lost.',
    { rows: cx.rows, columns: cx.columns, values: cx.delta },
    'diverging',
  );
}

export function nmiChart(autoencoders: AutoencoderResult[]): FigureSpec {
  const measures = ['intra (original vs reconstruction)', 'inter (between reconstructions)'];
  const values = autoencoders.flatMap((a) => [
    { autoencoder: a.name, measure: measures[0], nmi: a.intraNmi, low: a.ci95.intraNmi[0], high: a.ci95.intraNmi[1] },
    { autoencoder: a.name, measure: measures[1], nmi: a.interNmi, low: a.ci95.interNmi[0], high: a.ci95.interNmi[1] },
  ]);
  return {
    id: 'nmi',
    caption: 'Normalized mutual information per autoencoder: intra-NMI (how much of each input survives) and inter-NMI (how much the same pattern appears on every input); black bars: 95% bootstrap intervals.',
    spec: {
      data: { values },
      width: { step: 30 },
      height: 200,
      encoding: {
        x: { field: 'autoencoder', type: 'nominal', sort: autoencoders.map((a) => a.name), title: null, axis: { labelAngle: -30 } },
        xOffset: { field: 'measure', type: 'nominal', sort: measures },
      },
      layer: [
        { mark: 'bar', encoding: { y: { field: 'nmi', type: 'quantitative', title: 'NMI', scale: { domain: [0, 1] } }, color: { field: 'measure', type: 'nominal', sort: measures, title: null } } },
        errorBars('NMI'),
      ],
    },
  };
}

/** One panel per autoencoder (rows) and channel (columns): the originals' histogram shaded, the reconstructions' drawn over it. */
export function histogramChart(histograms: Record<string, ChannelHistogram[]>): FigureSpec {
  const series = ['original', 'reconstruction'];
  const values: { autoencoder: string; channel: string; value: number; series: string; share: number }[] = [];
  for (const [autoencoder, channels] of Object.entries(histograms)) {
    for (const ch of channels) {
      const [lo, hi] = ch.range;
      const centre = (k: number, bins: number) => lo + ((k + 0.5) * (hi - lo)) / bins;
      ch.original.forEach((share, k) => values.push({ autoencoder, channel: ch.name, value: centre(k, ch.original.length), series: 'original', share }));
      ch.reconstruction.forEach((share, k) => values.push({ autoencoder, channel: ch.name, value: centre(k, ch.reconstruction.length), series: 'reconstruction', share }));
    }
  }
  const colour = { field: 'series', type: 'nominal', title: null, scale: { domain: series, range: ['#9e9e9e', '#d62728'] } };
  const x = { field: 'value', type: 'quantitative', title: null };
  const y = { field: 'share', type: 'quantitative', title: null, scale: { type: 'sqrt' } };
  const channelOrder = [...new Set(Object.values(histograms).flatMap((chs) => chs.map((c) => c.name)))];
  return {
    id: 'histograms',
    caption: "Per-channel histograms (CIELAB L*, a*, b* for colour images, intensity for grayscale): share of pixels per bin (square-root scale) in the originals (grey) and in each autoencoder's reconstructions (red).",
    spec: {
      data: { values },
      facet: {
        row: { field: 'autoencoder', type: 'nominal', sort: Object.keys(histograms), title: null, header: { labelOrient: 'top', labelAngle: 0, labelAnchor: 'start', labelFontSize: 12, labelFontWeight: 'bold' } },
        column: { field: 'channel', type: 'nominal', sort: channelOrder, title: null, header: { labelFontSize: 13 } },
      },
      spec: {
        width: 200,
        height: 70,
        layer: [
          { transform: [{ filter: "datum.series === 'original'" }], mark: { type: 'area', interpolate: 'step', opacity: 0.55 }, encoding: { x, y, color: colour } },
          { transform: [{ filter: "datum.series === 'reconstruction'" }], mark: { type: 'line', interpolate: 'step', strokeWidth: 1.4 }, encoding: { x, y, color: colour } },
        ],
      },
      resolve: { scale: { x: 'independent' } },
    },
  };
}

/**
 * The colour casts on the a*b* plane: one arrow per autoencoder from the origin to its mean
 * (Δa*, Δb*), with the 95 % intervals of both components as a cross at its tip; the legend
 * names each with its chroma ratio and hue rotation (labels at the tips would overlap where
 * casts are alike).
 */
export function colourShiftChart(autoencoders: AutoencoderResult[]): FigureSpec {
  const values = autoencoders
    .filter((a) => a.colourShift)
    .map((a) => {
      const c = a.colourShift!;
      const [[aLo, aHi], [bLo, bHi]] = [c.ci95.castA, c.ci95.castB];
      return { x0: 0, y0: 0, a: c.castA, b: c.castB, aLo, aHi, bLo, bHi, label: `${a.name}: chroma x${c.chromaRatio.toFixed(2)}, hue ${c.hueRotation >= 0 ? '+' : ''}${c.hueRotation.toFixed(1)}°` };
    });
  const reach = Math.max(1, ...values.flatMap((v) => [Math.abs(v.aLo), Math.abs(v.aHi), Math.abs(v.bLo), Math.abs(v.bHi)])) * 1.25;
  const axis = (title: string) => ({ type: 'quantitative', title, scale: { domain: [-reach, reach] } });
  const colour = { field: 'label', type: 'nominal', title: null, sort: values.map((v) => v.label), legend: { orient: 'bottom', columns: 1, labelLimit: 480 } };
  const a = { type: 'quantitative' };
  return {
    id: 'colour-shift',
    caption:
      'Colour cast per autoencoder: the arrow goes from the origin to the mean (Δa*, Δb*) of its reconstructions against the originals (+a* red, -a* green, +b* yellow, -b* blue), the cross at its tip spans the 95 % intervals of both; the legend gives the chroma ratio (below 1: washed out) and the hue rotation.',
    spec: {
      data: { values },
      width: 320,
      height: 320,
      layer: [
        { mark: { type: 'rule', color: '#bbb' }, encoding: { x: { datum: 0, ...axis('Δa* (green - red)') } } },
        { mark: { type: 'rule', color: '#bbb' }, encoding: { y: { datum: 0, ...axis('Δb* (blue - yellow)') } } },
        { mark: { type: 'rule', strokeWidth: 2.5 }, encoding: { x: { field: 'x0', ...axis('Δa* (green - red)') }, y: { field: 'y0', ...axis('Δb* (blue - yellow)') }, x2: { field: 'a' }, y2: { field: 'b' }, color: colour } },
        { mark: { type: 'rule', strokeWidth: 1 }, encoding: { x: { field: 'aLo', ...a }, x2: { field: 'aHi' }, y: { field: 'b', ...a }, color: colour } },
        { mark: { type: 'rule', strokeWidth: 1 }, encoding: { y: { field: 'bLo', ...a }, y2: { field: 'bHi' }, x: { field: 'a', ...a }, color: colour } },
        { mark: { type: 'point', filled: true, size: 90, shape: 'triangle' }, encoding: { x: { field: 'a', ...a }, y: { field: 'b', ...a }, color: colour, tooltip: { field: 'label' } } },
      ],
    },
  };
}

const CURVE_KINDS: Record<string, string> = {
  train: 'classifier training (cross-entropy)',
  pretrain: 'A_S pretraining (pixel MSE)',
  'fine-tune': 'decoder fine-tuning (classifier cross-entropy)',
};

/** Loss curves, one panel per kind of job (the first word of the job name), log scale. */
export function lossCurvesChart(curves: Record<string, LossCurve>): FigureSpec {
  const kindOf = (job: string) => {
    const word = job.split(' ')[0];
    return CURVE_KINDS[word] ?? word;
  };
  const values = Object.entries(curves).flatMap(([job, c]) => c.step.map((step, i) => ({ job, kind: kindOf(job), step, loss: c.loss[i] })));
  return {
    id: 'curves',
    caption: 'Training curves: cross-entropy of classifier training and decoder fine-tuning, MSE of A_S pretraining (log scale).',
    spec: {
      data: { values },
      transform: [{ filter: 'datum.loss > 0' }],
      facet: { field: 'kind', type: 'nominal', title: null, sort: [...new Set(values.map((v) => v.kind))] },
      columns: 3,
      spec: {
        mark: 'line',
        width: 260,
        height: 160,
        encoding: {
          x: { field: 'step', type: 'quantitative' },
          y: { field: 'loss', type: 'quantitative', scale: { type: 'log' } },
          color: { field: 'job', type: 'nominal', title: null },
        },
      },
      resolve: { scale: { x: 'independent', y: 'independent', color: 'independent' } },
    },
  };
}

/** Every chart of the report, built from the results alone. */
export function resultFigures(r: Results): FigureSpec[] {
  return [
    accuracyChart(r.classifiers),
    crossHeatmap(r.crossEvaluation),
    deltaHeatmap(r.crossEvaluation),
    nmiChart(r.autoencoders),
    ...(r.autoencoders.some((a) => a.colourShift) ? [colourShiftChart(r.autoencoders)] : []),
    ...(r.noise ? [noiseChart(r.noise)] : []),
    ...(Object.keys(r.histograms).length ? [histogramChart(r.histograms)] : []),
    ...(Object.keys(r.curves).length ? [lossCurvesChart(r.curves)] : []),
  ];
}
