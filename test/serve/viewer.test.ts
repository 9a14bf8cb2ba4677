// The viewer end to end in a real browser (Debian's chromium, headless) against a real
// `serve` on a random port over a quick run made by the test: gallery tiles and paging, the
// class filter, a cross-matrix cell listing exactly the images the predictions say, zoom,
// swipe and difference map, deep links, and no console errors. Screenshots are kept under the
// OS temp folder (the paths are printed).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { serveRun, tileLayout, type RunningServer } from '../../src/serve/index.js';
import { artifactDir } from '../../src/runs/artifacts.js';
import { status } from '../../src/scheduler/runner.js';
import { EVALUATION_FILES, readPredictions, type StoredPredictions } from '../../src/experiment/evaluation.js';
import { validateResults, type Results } from '../../src/report/index.js';
import { browserMissing, launchChromium } from './browser.js';
import { quickRun } from './quick-run.js';

// Callbacks given to page.evaluate and friends run in the browser; this compilation has no DOM types.
declare const document: any, location: any, getComputedStyle: any;

const missing = browserMissing();
if (missing) console.log(`viewer browser tests skipped: ${missing}`);

const root = mkdtempSync(join(tmpdir(), 's2snets-viewer-'));
const runDir = join(root, 'run');
const SCREENSHOTS = join(tmpdir(), 's2snets-viewer-screenshots');
let server: RunningServer;
let browser: Browser;
let predictions: StoredPredictions;
let results: Results;
const SOURCES = ['original', 'A_S', 'S2S-lenet5', 'S2S-resnet'];

before(async () => {
  if (missing) return;
  quickRun(runDir);
  const evaluation = status(runDir).jobs.find((j) => j.name === 'evaluate')!;
  predictions = readPredictions(artifactDir(runDir, evaluation.key), EVALUATION_FILES);
  results = validateResults(JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8')));
  server = await serveRun(runDir, { port: 0 });
  browser = await launchChromium();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A page whose console errors and uncaught exceptions are collected (none may happen). */
async function open(t: TestContext, hash: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`)));
  page.on('pageerror', (e) => void errors.push(e.message));
  page.on('response', (r) => void (r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`)));
  t.after(() => page.close());
  await page.goto(server.url + hash);
  await rendered(page);
  return { page, errors };
}

/** Waits until the viewer has drawn the view the URL names. */
async function rendered(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.rendered === location.hash, undefined, { timeout: 30_000 });
}

async function shot(t: TestContext, page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  t.diagnostic(`screenshot: ${path}`);
  console.log(`screenshot: ${path}`);
  return path;
}

const rowIndices = (page: Page) => page.$$eval('#gallery .row', (rows) => rows.map((r) => Number(r.dataset.index)));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('gallery: every evaluation image in a row of original, A_S and each S2SNet; pages', { skip: missing ?? false }, async (t) => {
  const { page, errors } = await open(t, '#/gallery');
  const n = predictions.labels.length;
  assert.equal(n, results.run.evalSamples);
  assert.deepEqual(await rowIndices(page), range(n));
  assert.equal(await page.locator('#gallery .tile').count(), n * SOURCES.length);
  assert.deepEqual(await page.$$eval('#gallery .head', (hs) => hs.map((h) => h.textContent).filter(Boolean)), SOURCES);
  // Every cell shows its image's place in its source's tile; the run spans two tiles per source.
  const { columns, perTile } = tileLayout(results.run.imageSize);
  assert.ok(n > perTile, `${n} images fill more than one tile of ${perTile}`);
  const side = 64;
  for (const i of [37, perTile + 13]) {
    const cell = await page.$eval(`#gallery .row[data-index="${i}"] .tile[data-source="S2S-lenet5"]`, (el: any) => ({ image: el.style.backgroundImage, position: el.style.backgroundPosition }));
    const k = i % perTile;
    assert.equal(cell.image, `url("/api/tiles/S2S-lenet5/${Math.floor(i / perTile)}.png")`);
    assert.equal(cell.position, `${-(k % columns) * side}px ${-Math.floor(k / columns) * side}px`);
  }
  await page.waitForLoadState('networkidle');
  await shot(t, page, 'gallery');

  await page.goto(`${server.url}#/gallery?page=5&size=50`);
  await rendered(page);
  assert.deepEqual(await rowIndices(page), range(50).map((i) => 250 + i));
  assert.match((await page.textContent('#pageinfo'))!, /page 6 of 6/);
  assert.deepEqual(errors, []);
});

test('gallery: the class filter keeps exactly the images of that class', { skip: missing ?? false }, async (t) => {
  const { page, errors } = await open(t, '#/gallery');
  await page.selectOption('#class', '3');
  await page.waitForFunction(() => location.hash.includes('class=3'));
  await rendered(page);
  const expected = range(predictions.labels.length).filter((i) => predictions.labels[i] === 3);
  assert.ok(expected.length > 0 && expected.length < predictions.labels.length);
  assert.deepEqual(await rowIndices(page), expected);
  assert.equal(await page.getAttribute('#count', 'data-count'), String(expected.length));
  assert.equal(await page.locator('#gallery .tile').count(), expected.length * SOURCES.length);
  assert.deepEqual(errors, []);
});

test('cross matrix: a cell opens exactly the images its classifier gets wrong on that AE but right on the originals', { skip: missing ?? false }, async (t) => {
  const { page, errors } = await open(t, '#/matrix');
  const cx = results.crossEvaluation;
  const wrong = (row: string, c: string, i: number) => predictions.rows[row][c].top1[i] !== predictions.labels[i];
  const lost = (row: string, c: string) => range(predictions.labels.length).filter((i) => wrong(row, c, i) && !wrong('original', c, i));
  // The predictions are what the results were counted from: every cell's accuracy agrees.
  cx.rows.forEach((row, i) =>
    cx.columns.forEach((c, j) => {
      const right = predictions.labels.filter((_, k) => !wrong(row, c, k)).length;
      assert.equal(right / predictions.labels.length, cx.top1[i][j], `${row} x ${c}`);
    }),
  );
  // The cell with the most such images, so that the listing is not trivially empty.
  const cells = cx.rows.flatMap((row) => cx.columns.map((c) => ({ row, c, images: lost(row, c) })));
  const cell = cells.reduce((a, b) => (b.images.length > a.images.length ? b : a));
  assert.ok(cell.images.length > 0, 'some cell loses images');
  for (const x of cells) assert.equal(await page.getAttribute(`td[data-row="${x.row}"][data-column="${x.c}"]`, 'data-lost'), String(x.images.length));
  // Each cell shows the 95 % interval results.json gives it.
  const pct = (v: number) => (100 * v).toFixed(1);
  for (const [i, row] of cx.rows.entries()) {
    for (const [j, c] of cx.columns.entries()) {
      const [lo, hi] = cx.ci95.top1[i][j];
      assert.equal(await page.textContent(`td[data-row="${row}"][data-column="${c}"] .ci`), `95% CI ${pct(lo)}–${pct(hi)}`);
    }
  }
  await shot(t, page, 'matrix');
  await page.click(`td[data-row="${cell.row}"][data-column="${cell.c}"] a`);
  await page.waitForFunction(() => location.hash.startsWith('#/gallery'));
  await rendered(page);
  assert.deepEqual(await rowIndices(page), cell.images);
  assert.equal(await page.getAttribute('#count', 'data-count'), String(cell.images.length));
  assert.match((await page.textContent('#filter-note'))!, new RegExp(`${cell.c} gets wrong on the pictures of ${cell.row} but right on the originals`));
  await shot(t, page, 'matrix-cell');
  assert.deepEqual(errors, []);
});

/** Pixels of image `index` of `source`, cut from its tile as the server sends it. */
async function tilePixels(source: string, index: number): Promise<Uint8Array> {
  const { columns, perTile } = tileLayout(results.run.imageSize);
  const s = results.run.imageSize;
  const png = Buffer.from(await (await fetch(`${server.url}api/tiles/${source}/${Math.floor(index / perTile)}.png`)).arrayBuffer());
  const k = index % perTile;
  const { data, info } = await sharp(png)
    .extract({ left: (k % columns) * s, top: Math.floor(k / columns) * s, width: s, height: s })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // Grayscale tiles: one value per pixel, whatever channel count sharp hands back.
  return new Uint8Array(data).filter((_, i) => i % info.channels === 0);
}

test('compare: zoom up to 16x, swipe slider, signed difference map', { skip: missing ?? false }, async (t) => {
  // An image in the second tile, so that the page cuts it from the right place.
  const image = tileLayout(results.run.imageSize).perTile + 14;
  const { page, errors } = await open(t, `#/compare?image=${image}&a=original&b=S2S-lenet5&zoom=1&split=50&gain=4`);
  const s = results.run.imageSize;
  const width = () => page.$eval('#side-by-side canvas[data-role="b"]', (c) => c.getBoundingClientRect().width);
  assert.equal(await width(), s);
  await page.selectOption('#zoom', '16');
  await page.waitForFunction(() => location.hash.includes('zoom=16'));
  await rendered(page);
  assert.equal(await width(), 16 * s);
  assert.equal(await page.$eval('#side-by-side canvas', (c) => getComputedStyle(c).imageRendering), 'pixelated');

  await page.$eval('#split', (el) => {
    el.value = '25';
    el.dispatchEvent(new Event('input'));
  });
  assert.equal(await page.$eval('#swipe-b', (c) => c.style.clipPath), 'inset(0px 75% 0px 0px)');
  assert.match(page.url(), /split=25/);

  // The map's sign and scale, checked against the tiles' own pixels.
  const a = await tilePixels('original', image);
  const b = await tilePixels('S2S-lenet5', image);
  const d = Array.from(a, (v, i) => (b[i] - v) / 255);
  const maxAbs = Math.max(...d.map(Math.abs));
  assert.match((await page.textContent('#diff-stats'))!, new RegExp(`max \\|S2S-lenet5 − original\\| = ${maxAbs.toFixed(3)}`));
  const colourAt = (i: number): Promise<number[]> => page.$eval('#diff', (c: any, i) => Array.from(c.getContext('2d')!.getImageData(i % c.width, Math.floor(i / c.width), 1, 1).data), i);
  const brighter = d.indexOf(Math.max(...d));
  const darker = d.indexOf(Math.min(...d));
  const same = d.findIndex((v) => v === 0);
  assert.ok(d[brighter] > 0 && d[darker] < 0, 'the reconstruction is brighter in places and darker in others');
  const [rb, , bb] = await colourAt(brighter);
  const [rd, , bd] = await colourAt(darker);
  assert.ok(rb > bb, 'B brighter: red');
  assert.ok(bd > rd, 'B darker: blue');
  if (same >= 0) assert.deepEqual(await colourAt(same), [255, 255, 255, 255]);
  // A higher gain saturates sooner: a faint difference gets more colour.
  const faint = d.findIndex((v) => Math.abs(v) > 0 && Math.abs(v) * 4 < 1);
  assert.ok(faint >= 0, 'some difference is below a quarter of the range');
  const before = await colourAt(faint);
  await page.$eval('#gain', (el) => {
    el.value = '64';
    el.dispatchEvent(new Event('input'));
  });
  const afterGain = await colourAt(faint);
  assert.ok(Math.min(...afterGain.slice(0, 3)) < Math.min(...before.slice(0, 3)), `gain 64 colours ${before} -> ${afterGain}`);
  assert.equal(await page.textContent('#legend-high'), `+${(1 / 64).toFixed(3)}`);
  assert.match(page.url(), /gain=64/);
  await shot(t, page, 'compare');
  assert.deepEqual(errors, []);
});

test('deep links restore the view', { skip: missing ?? false }, async (t) => {
  const { page, errors } = await open(t, '#/compare?image=7&a=A_S&b=S2S-resnet&zoom=8&split=30&gain=16');
  const controls = await page.evaluate(() => Object.fromEntries(['image', 'a', 'b', 'zoom', 'split', 'gain'].map((id) => [id, (document.getElementById(id)).value])));
  assert.deepEqual(controls, { image: '7', a: 'A_S', b: 'S2S-resnet', zoom: '8', split: '30', gain: '16' });
  assert.equal(await page.$eval('#swipe-b', (c) => c.style.clipPath), 'inset(0px 70% 0px 0px)');
  assert.match((await page.textContent('#compare-info'))!, /^image #7 of/);
  const readme = await page.screenshot({ clip: { x: 0, y: 0, width: 1280, height: 560 } });
  const small = join(SCREENSHOTS, 'viewer-readme.png');
  writeFileSync(small, await sharp(readme).png({ palette: true, colours: 64, compressionLevel: 9 }).toBuffer());
  t.diagnostic(`screenshot: ${small}`);
  console.log(`screenshot: ${small}`);

  const gallery = await open(t, '#/gallery?class=2&wrong=lenet5&on=A_S');
  const values = await gallery.page.evaluate(() => ['class', 'wrong', 'on'].map((id) => (document.getElementById(id)).value));
  assert.deepEqual(values, ['2', 'lenet5', 'A_S']);
  const expected = range(predictions.labels.length).filter((i) => predictions.labels[i] === 2 && predictions.rows.A_S.lenet5.top1[i] !== 2);
  assert.deepEqual(await rowIndices(gallery.page), expected);
  assert.deepEqual([...errors, ...gallery.errors], []);
});

test('charts: every chart of the report, drawn by vega in the page', { skip: missing ?? false }, async (t) => {
  const { page, errors } = await open(t, '#/charts');
  const ids = await page.$$eval('[data-chart]', (els) => els.map((e) => e.dataset.chart));
  assert.deepEqual(ids, results.figures.map((f) => f.id).filter((id) => id !== 'grid' && id !== 'differences'));
  for (const id of ids) assert.equal(await page.locator(`[data-chart="${id}"] svg`).count(), 1, `chart ${id} drawn`);
  // Tooltips: hovering a bar names its classifier, value and input.
  await page.locator('[data-chart="accuracy"] svg .mark-rect path').first().hover();
  assert.match((await page.getAttribute('[data-chart="accuracy"]', 'title')) ?? '', /^classifier: .+\ntop-1 accuracy \(%\): [\d.]+\ninput: original$/);
  // Zoom: the wheel over a training curve changes its axes' ticks.
  const ticks = () => page.$$eval('[data-chart="curves"] svg .role-axis-label text', (ts) => ts.map((t) => t.textContent).join(','));
  const before = await ticks();
  const line = page.locator('[data-chart="curves"] svg .mark-line path').first();
  await line.scrollIntoViewIfNeeded();
  const b = (await line.boundingBox())!;
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
  await page.mouse.wheel(0, -300);
  await page.waitForFunction((old) => Array.from(document.querySelectorAll('[data-chart="curves"] svg .role-axis-label text'), (t: any) => t.textContent).join(',') !== old, before);
  await shot(t, page, 'charts');
  assert.deepEqual(errors, []);
});
