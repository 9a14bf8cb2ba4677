import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { GRID_GAP, PictureGridError, crossHeatmap, deltaHeatmap, gridPng, labelWidth, renderFigure, resultFigures, textRenders, type FigureSpec } from '../../src/report/index.js';
import { sampleResults, sampleRows } from './sample.js';

async function decoded(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function variance(data: Uint8Array): number {
  let sum = 0;
  let sq = 0;
  for (const v of data) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / data.length;
  return sq / data.length - mean * mean;
}

test('resvg draws figure text with the system fonts, and nothing without them', { skip: textRenders() ? false : 'no system font found: figures render without text' }, () => {
  assert.equal(textRenders(), true);
  assert.equal(textRenders(false), false);
});

test('every chart renders to a sizeable PNG that is not blank', async () => {
  // Grayscale results are rendered by the writeReport test.
  const figures = resultFigures(sampleResults({ channels: 3 }));
  assert.deepEqual(figures.map((f) => f.id), ['accuracy', 'cross', 'delta', 'nmi', 'colour-shift', 'noise', 'histograms', 'curves']);
  for (const f of figures) {
    const { png, spec } = await renderFigure(f);
    assert.equal(spec, f.spec, 'the rendered figure keeps its spec');
    const img = await decoded(png);
    // Charts are drawn at twice their vega size; the smallest here is well above 200 px.
    assert.ok(img.width > 200 && img.height > 200, `${f.id}: ${img.width}x${img.height}`);
    assert.ok(variance(img.data) > 100, `${f.id} is blank`);
  }
});

test('the heatmaps show every cell value and a symmetric diverging scale for the change', () => {
  const r = sampleResults({ names: ['a', 'b', 'c', 'd'], seed: 9 });
  const cells = (f: FigureSpec) => (f.spec.data as { values: { row: string; column: string; value: number }[] }).values;
  const layers = (f: FigureSpec) => f.spec.layer as { mark: unknown; encoding: Record<string, { field?: string; scale?: { scheme?: string; domain?: number[] } }> }[];
  const cx = r.crossEvaluation;
  for (const [figure, m] of [
    [crossHeatmap(cx), cx.top1],
    [deltaHeatmap(cx), cx.delta],
  ] as const) {
    const values = cells(figure);
    assert.equal(values.length, cx.rows.length * cx.columns.length);
    cx.rows.forEach((row, i) =>
      cx.columns.forEach((column, j) => {
        const cell = values.find((v) => v.row === row && v.column === column);
        assert.ok(cell, `${figure.id}: cell ${row}/${column}`);
        assert.equal(cell.value, Math.round(m[i][j] * 1000) / 10);
      }),
    );
    // One layer colours the cells, one writes the value into them.
    const [rect, text] = layers(figure);
    assert.equal(rect.mark, 'rect');
    assert.equal(text.encoding.text.field, 'value');
  }
  const deltaScale = layers(deltaHeatmap(cx))[0].encoding.color.scale!;
  assert.equal(deltaScale.scheme, 'redblue');
  const [lo, hi] = deltaScale.domain!;
  assert.equal(lo, -hi);
  assert.ok(hi >= Math.max(...cx.delta.flat().map((v) => Math.abs(v * 100))) - 0.05);
  assert.equal(layers(crossHeatmap(cx))[0].encoding.color.scale!.scheme, 'viridis');
});

test('picture grid: exact layout, nearest-neighbour tiles, labels drawn', async () => {
  for (const channels of [1, 3] as const) {
    const rows = sampleRows(['original', 'A_S', 'S2S-a very long classifier name'], { channels, width: 7, height: 5, columns: 3 });
    const scale = 3;
    const img = await decoded(await gridPng(rows, scale));
    const left = labelWidth(rows);
    assert.equal(img.width, left + 3 * (7 * scale + GRID_GAP) + GRID_GAP);
    assert.equal(img.height, 3 * (5 * scale + GRID_GAP) + GRID_GAP);
    const pixel = (x: number, y: number, k: number) => img.data[(y * img.width + x) * img.channels + k];
    rows.forEach((row, r) =>
      row.images.forEach((tile, c) => {
        const x0 = left + GRID_GAP + c * (7 * scale + GRID_GAP);
        const y0 = GRID_GAP + r * (5 * scale + GRID_GAP);
        for (let y = 0; y < 5 * scale; y++) {
          for (let x = 0; x < 7 * scale; x++) {
            for (let k = 0; k < 3; k++) {
              const expected = tile.data[(channels === 3 ? k : 0) * 35 + Math.floor(y / scale) * 7 + Math.floor(x / scale)];
              if (pixel(x0 + x, y0 + y, k) !== expected) assert.fail(`row ${r} tile ${c} pixel (${x},${y}) channel ${k}: ${pixel(x0 + x, y0 + y, k)} != ${expected}`);
            }
          }
        }
      }),
    );
    // Each label leaves dark ink in its row of the label column.
    rows.forEach((_, r) => {
      let ink = 0;
      for (let y = GRID_GAP + r * (5 * scale + GRID_GAP); y < GRID_GAP + (r + 1) * (5 * scale + GRID_GAP); y++) for (let x = 0; x < left; x++) if (pixel(x, y, 0) < 128) ink++;
      assert.ok(ink > 10, `label of row ${r} is drawn (${ink} dark pixels)`);
    });
  }
});

test('picture grid refuses tiles of different sizes or short data, naming the row', async () => {
  const rows = sampleRows(['original', 'S2S-x'], { channels: 1 });
  rows[1].images[1] = { width: 9, height: 8, channels: 1, data: new Uint8Array(72) };
  await assert.rejects(gridPng(rows), (e: Error) => e instanceof PictureGridError && /row 'S2S-x': image is 9x8, the grid's tiles are 8x8/.test(e.message));
  const short = sampleRows(['original'], { channels: 3 });
  short[0].images[0] = { ...short[0].images[0], data: new Uint8Array(10) };
  await assert.rejects(gridPng(short), /image data has 10 bytes, expected 3x8x8/);
  await assert.rejects(gridPng([]), PictureGridError);
});
