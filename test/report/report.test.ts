import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../src/data/random.js';
import { totalOrder, deltaMatrix, type PictureRow } from '../../src/analysis/index.js';
import { writeReport, rebuildReport, validateResults, matrixCsv, formatSummary, RESULTS_SCHEMA_VERSION, type Results } from '../../src/report/index.js';

const HOSTILE = '<script>alert(1)</script>';

function sampleResults(channels = 3): Results {
  const rng = new Rng(3);
  const names = ['vgg', 'resnet', HOSTILE];
  const rows = ['A_S', ...names.map((n) => `S2S-${n}`)];
  const original = names.map(() => 0.9 + 0.05 * rng.next());
  const top1 = rows.map(() => names.map(() => 0.5 + 0.4 * rng.next()));
  const delta = deltaMatrix(top1, original);
  const hist = (name: string, range: [number, number]) => ({ name, range, original: Array.from({ length: 16 }, () => 1 / 16), reconstruction: Array.from({ length: 16 }, (_, k) => (k === 3 ? 0.5 : 0.5 / 15)) });
  const channelsHist = channels === 3 ? [hist('L*', [0, 100]), hist('a*', [-128, 127]), hist('b*', [-128, 127])] : [hist('intensity', [0, 1])];
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: { name: 's2snets', version: '0.0.0-test' },
    createdAt: '2026-01-01T00:00:00.000Z',
    run: {
      dataset: 'planted',
      imageSize: 8,
      channels,
      classes: ['a', 'b', 'c'],
      seed: 0,
      device: 'cpu',
      engine: { torchVersion: '1.13.0', threads: 2, cuda: false },
      evalSamples: 30,
      skippedInputs: 2,
      durations: { 'pretrain[A_S]': 3.5, evaluate: 1 },
      plan: { note: HOSTILE },
    },
    classifiers: names.map((name, j) => ({ name, family: 'test', parameters: 1000 + j, accuracy: { original: { top1: original[j], top5: null }, generic: { top1: top1[0][j], top5: null }, own: { top1: top1[j + 1][j], top5: null } } })),
    autoencoders: rows.map((name) => ({ name, psnr: 20 + rng.next(), intraNmi: rng.next(), interNmi: rng.next(), gridEnergy: rng.next() })),
    crossEvaluation: { rows, columns: names, top1, original, delta },
    order: totalOrder(names, delta.slice(1)),
    nmi: { bins: 64, interPairs: 10, normalization: '2 I / (H(X) + H(Y))' },
    histograms: Object.fromEntries(rows.map((r) => [r, channelsHist])),
    curves: { 'train vgg': { step: [0, 10, 20], loss: [2.3, 1.1, 0.4] }, 'fine-tune vgg': { step: [0, 10], loss: [0.9, 0.5] } },
    figures: [],
  };
}

function pictures(channels: 1 | 3): { grid: PictureRow[]; differences: PictureRow[] } {
  const rng = new Rng(1);
  const image = () => ({ width: 8, height: 8, channels, data: Uint8Array.from({ length: channels * 64 }, () => rng.int(256)) });
  return { grid: [HOSTILE, 'A_S'].map((label) => ({ label, images: [image(), image()] })), differences: [{ label: 'diff', images: [image(), image()] }] };
}

test('the results schema accepts a complete run and names the first wrong field otherwise', () => {
  assert.doesNotThrow(() => validateResults(sampleResults()));
  const broken = sampleResults() as unknown as { classifiers: { accuracy: { original: { top1: number } } }[] };
  broken.classifiers[1].accuracy.original.top1 = 1.5;
  assert.throws(() => validateResults(broken), /classifiers\.1\.accuracy\.original\.top1/);
  assert.throws(() => validateResults({ ...sampleResults(), schemaVersion: 2 }), /schemaVersion/);
});

test('matrix CSV: header of column names, one named row per matrix row, quoting where needed', () => {
  assert.equal(matrixCsv('rows', ['A_S', 'x,y'], ['c1', 'c"2'], [[0.5, 1], [0, 0.25]]), 'rows,c1,"c""2"\nA_S,0.5,1\n"x,y",0,0.25\n');
});

test('writeReport: figures are real pictures, the HTML is self-contained and escapes names, rebuild matches', async () => {
  for (const channels of [3, 1] as const) {
    const dir = mkdtempSync(join(tmpdir(), 's2snets-report-'));
    const results = sampleResults(channels);
    const files = await writeReport(dir, results, pictures(channels));
    for (const f of ['results.json', 'report.html', 'cross_top1.csv', 'cross_delta.csv']) assert.ok(files.includes(f), f);
    const written = validateResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
    const ids = written.figures.map((f) => f.id).sort();
    assert.deepEqual(ids, ['accuracy', 'cross', 'curves', 'delta', 'differences', 'grid', 'histograms', 'nmi']);
    for (const f of written.figures) {
      const img = sharp(join(dir, f.file));
      const meta = await img.metadata();
      assert.ok((meta.width ?? 0) > 100 && (meta.height ?? 0) > 20, `${f.id} is ${meta.width}x${meta.height}`);
      const stats = await img.stats();
      assert.ok(stats.channels.some((c) => c.stdev > 5), `${f.id} is blank`);
    }
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.equal((html.match(/<img [^>]*src="data:image\/png;base64,/g) ?? []).length, written.figures.length);
    assert.doesNotMatch(html, /<script>alert/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.doesNotMatch(html, /(src|href)="(https?:|\/\/|[^"d#])/, 'no external or file references');
    for (const c of results.classifiers) assert.ok(html.includes(c.name.replace(/</g, '&lt;').replace(/>/g, '&gt;')));
    assert.match(html, results.order.isTotal ? /strict total order/ : /not<\/b> a strict total order/);
    const csv = readFileSync(join(dir, 'cross_top1.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, results.crossEvaluation.rows.length + 1);
    // Rebuilt from disk alone, the page is the same.
    rmSync(join(dir, 'report.html'));
    rebuildReport(dir);
    assert.equal(readFileSync(join(dir, 'report.html'), 'utf8'), html);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    rmSync(dir, { recursive: true });
  }
});

test('the terminal summary lists every classifier, AE and the order', () => {
  const r = sampleResults();
  const text = formatSummary(r, '/x/report.html');
  for (const name of [...r.classifiers.map((c) => c.name), ...r.autoencoders.map((a) => a.name)]) assert.ok(text.includes(name), name);
  assert.ok(text.includes(r.order.ranking.join(' > ')));
  assert.ok(text.includes((100 * r.crossEvaluation.top1[2][1]).toFixed(2)));
  assert.match(text, /Report: \/x\/report\.html/);
});
