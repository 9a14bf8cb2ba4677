import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  ResultsError,
  RESULTS_SCHEMA_VERSION,
  claimSentence,
  escapeXml,
  formatSummary,
  withInterval,
  matrixCsv,
  rebuildReport,
  reportHtml,
  validateResults,
  writeMatrixCsvs,
  writeReport,
  writeResultsJson,
  type Results,
} from '../../src/report/index.js';
import { HOSTILE, sampleResults, sampleRows } from './sample.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 's2snets-report-'));

test('the results schema accepts a complete run and names the wrong fields otherwise', () => {
  const r = sampleResults();
  assert.deepEqual(validateResults(JSON.parse(JSON.stringify(r))), r);
  const broken = sampleResults() as unknown as { classifiers: { accuracy: { original: { top1: number } } }[] };
  broken.classifiers[1].accuracy.original.top1 = 1.5;
  assert.throws(
    () => validateResults(broken),
    (e: Error) => e instanceof ResultsError && /^results\.json does not match the results schema v3: classifiers\.1\.accuracy\.original\.top1: .*1/.test(e.message),
  );
  assert.throws(() => validateResults({ ...sampleResults(), schemaVersion: RESULTS_SCHEMA_VERSION + 1 }, 'run/results.json'), /run\/results\.json .*schemaVersion/);
  // A v1 file (before engine identities) is refused in one line that says how to rewrite it.
  assert.throws(
    () => validateResults({ ...sampleResults(), schemaVersion: 1 }, 'run/results.json'),
    (e: Error) => e instanceof ResultsError && e.message === 'run/results.json has results schema v1, written by an earlier s2snets; this version reads v3: run `s2snets report RUN` to rewrite it',
  );
  const unordered = sampleResults();
  unordered.crossEvaluation.ci95.delta[1] = [[0.1, 0]];
  assert.throws(() => validateResults(unordered), /crossEvaluation\.ci95\.delta\.1(\.0)?: /);
  const short = sampleResults();
  short.crossEvaluation.top1[2].pop();
  assert.throws(() => validateResults(short), /crossEvaluation\.top1\.2: has 2 values, expected 3 \(one per entry of columns\)/);
  const curve = sampleResults();
  curve.curves['pretrain A_S'].loss.pop();
  assert.throws(() => validateResults(curve), /curves\.pretrain A_S: step and loss must have the same length/);
  const { order: _order, ...missing } = sampleResults();
  assert.throws(() => validateResults(missing), /order: /);
});

test('matrix CSV: header of column names, one named row per matrix row, quoting where needed', () => {
  assert.equal(matrixCsv('rows', ['A_S', 'x,y'], ['c1', 'c"2'], [[0.5, 1], [0, 0.25]]), 'rows,c1,"c""2"\nA_S,0.5,1\n"x,y",0,0.25\n');
  // With intervals each column is followed by its _low and _high.
  assert.equal(matrixCsv('rows', ['A_S'], ['c1', 'c2'], [[0.5, 1]], [[[0.4, 0.6], [0.9, 1]]]), 'rows,c1,c1_low,c1_high,c2,c2_low,c2_high\nA_S,0.5,0.4,0.6,1,0.9,1\n');
});

test('writeMatrixCsvs and writeResultsJson write exact files atomically', () => {
  const dir = tempDir();
  const r = sampleResults({ names: ['a', 'b'] });
  r.crossEvaluation.top1 = [[0.5, 0.25], [0.75, 0.125], [1, 0]];
  r.crossEvaluation.original = [0.75, 0.5];
  r.crossEvaluation.delta = [[-0.25, -0.25], [0, -0.375], [0.25, -0.5]];
  r.crossEvaluation.ci95.top1 = r.crossEvaluation.top1.map((row) => row.map((v) => [v - 0.125, v]));
  r.crossEvaluation.ci95.delta = r.crossEvaluation.delta.map((row) => row.map((v) => [v, v + 0.125]));
  const written = writeMatrixCsvs(dir, r);
  assert.deepEqual(written, [join(dir, 'cross_top1.csv'), join(dir, 'cross_delta.csv')]);
  assert.equal(readFileSync(join(dir, 'cross_top1.csv'), 'utf8'), 'reconstructions_of,a,a_low,a_high,b,b_low,b_high\nA_S,0.5,0.375,0.5,0.25,0.125,0.25\nS2S-a,0.75,0.625,0.75,0.125,0,0.125\nS2S-b,1,0.875,1,0,-0.125,0\n');
  assert.equal(readFileSync(join(dir, 'cross_delta.csv'), 'utf8'), 'reconstructions_of,a,a_low,a_high,b,b_low,b_high\nA_S,-0.25,-0.25,-0.125,-0.25,-0.25,-0.125\nS2S-a,0,0,0.125,-0.375,-0.375,-0.25\nS2S-b,0.25,0.25,0.375,-0.5,-0.5,-0.375\n');
  writeResultsJson(dir, r);
  assert.deepEqual(validateResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'))), r);
  // Invalid results are refused before anything is written over the good file.
  const bad = { ...r, classifiers: [] } as Results;
  assert.throws(() => writeResultsJson(dir, bad), /results to write .*crossEvaluation\.columns/);
  assert.deepEqual(validateResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'))), r);
  assert.deepEqual(readdirSync(dir).sort(), ['cross_delta.csv', 'cross_top1.csv', 'results.json']);
  rmSync(dir, { recursive: true });
});

test('writeReport: real pictures, a self-contained page that escapes names, rebuilt identically from disk', async () => {
  for (const channels of [3, 1] as const) {
    const dir = tempDir();
    const results = sampleResults({ channels });
    const labels = ['original', 'A_S', ...results.classifiers.map((c) => `S2S-${c.name}`)];
    const pictures = { grid: sampleRows(labels, { channels, columns: 4 }), differences: sampleRows(labels.slice(1), { channels, columns: 4, seed: 2 }) };
    const files = await writeReport(dir, results, pictures);
    const written = validateResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
    const ids = written.figures.map((f) => f.id);
    // The colour-shift figure exists for colour data only.
    assert.deepEqual([...ids].sort(), ['accuracy', ...(channels === 3 ? ['colour-shift'] : []), 'cross', 'curves', 'delta', 'differences', 'grid', 'histograms', 'nmi', 'noise']);
    assert.deepEqual([...files].sort(), [...ids.map((id) => `figures/${id}.png`), 'cross_delta.csv', 'cross_top1.csv', 'report.html', 'results.json'].sort());
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    for (const f of written.figures) {
      const png = readFileSync(join(dir, f.file));
      const meta = await sharp(png).metadata();
      assert.equal(meta.format, 'png');
      const stats = await sharp(png).stats();
      assert.ok(stats.channels.some((c) => c.stdev > 5), `${f.id} is blank`);
      assert.ok(html.includes(`src="data:image/png;base64,${png.toString('base64')}"`), `${f.id} is embedded in the page`);
      assert.ok(html.includes(escapeXml(f.caption)), `${f.id} has its caption`);
    }
    assert.equal((html.match(/<img /g) ?? []).length, written.figures.length);
    // Nothing is fetched: no src/href other than data URIs and in-page anchors, no URL outside the citation text.
    assert.deepEqual(html.match(/\b(src|href)\s*=\s*"(?!data:image\/png;base64,|#)[^"]*"/g), null);
    assert.deepEqual(html.match(/href="#[^"]*"/g), ['href="#viewer"']);
    assert.match(html, /<h2 id="viewer">Open in the viewer<\/h2>[^]*s2snets serve RUN_DIR/);
    assert.deepEqual(html.match(/https?:\/\/[\w./-]*\w/g), ['https://arxiv.org/abs/1803.08337']);
    assert.doesNotMatch(html, /<script|<link|@import|url\(/i);
    // Names and configuration text are data, never markup.
    assert.ok(!html.includes(HOSTILE));
    assert.ok(html.includes(escapeXml(HOSTILE)));
    assert.ok(html.includes(escapeXml(JSON.stringify(HOSTILE))), 'the configuration table shows the plan, escaped');
    for (const c of results.classifiers) assert.ok(html.includes(`<td>${escapeXml(c.name)}</td>`), c.name);
    assert.ok(html.includes(results.order.ranking.map(escapeXml).join(' &gt; ')));
    assert.match(html, results.order.isTotal ? /is a <b>strict total order<\/b>/ : /<b>not<\/b> a strict total order/);
    for (const v of results.order.violations) assert.ok(html.includes(escapeXml(v.description)));
    assert.match(html, /palaciofolz2018s2snets/);
    for (const section of ['What was run', 'Accuracy', 'Cross-evaluation', 'Order of the classifiers', 'Normalized mutual information', 'Histograms', 'Reconstructions', 'Training']) {
      assert.ok(html.includes(`<h2>${section}`), section);
    }
    // Those of main's sections, plus periodic artifacts, fine-tunes, and colour shift for colour data.
    assert.equal((html.match(/class="how"/g) ?? []).length, channels === 3 ? 10 : 9, 'each measure has its how-to-read note');
    if (channels === 3) assert.match(html, /<h2>Colour shift<\/h2>/);
    assert.match(html, /<div class="warn"><p><b>Warning.<\/b> A_S is too weak/);
    // Every accuracy is shown with its interval, and the claims in words.
    for (const c of results.classifiers) assert.ok(html.includes(withInterval(c.accuracy.own.top1, c.accuracy.own.ci95.top1, 100)), `${c.name} own accuracy with interval`);
    assert.ok(html.includes(escapeXml(claimSentence('accuracy', results.claims!.orderVsAccuracy, results.claims!))));
    for (const section of ['Noise robustness', "The paper's claims, tested"]) assert.ok(html.includes(`<h2>${escapeXml(section)}`) || html.includes(`<h2>${section}`), section);
    // Rebuilt from disk alone, the page is the same.
    rmSync(join(dir, 'report.html'));
    assert.equal(rebuildReport(dir), join(dir, 'report.html'));
    assert.equal(readFileSync(join(dir, 'report.html'), 'utf8'), html);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    rmSync(dir, { recursive: true });
  }
});

test('an order that is not total is said so, with every violation listed', async () => {
  const dir = tempDir();
  // Three classifiers whose changes beat each other in a circle: a > b > c > a.
  const r = sampleResults({ names: ['a', 'b', 'c'] });
  const { totalOrder } = await import('../../src/analysis/order.js');
  const cyclic = [[0, -0.1, -0.3], [-0.3, 0, -0.1], [-0.1, -0.3, 0]];
  r.crossEvaluation.delta = [[-0.2, -0.2, -0.2], ...cyclic];
  r.crossEvaluation.top1 = r.crossEvaluation.delta.map((row) => row.map((v, j) => v + r.crossEvaluation.original[j]));
  r.order = totalOrder(['a', 'b', 'c'], cyclic);
  assert.equal(r.order.isTotal, false);
  await writeReport(dir, r, { grid: sampleRows(['original'], { channels: 1 }), differences: [] });
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(html, /<b>not<\/b> a strict total order; \d+ violation\(s\)/);
  for (const v of r.order.violations) assert.ok(html.includes(`<li>${escapeXml(v.description)}</li>`));
  assert.match(formatSummary(r), /not total: /);
  rmSync(dir, { recursive: true });
});

test('rebuildReport explains a missing or damaged results.json', () => {
  const dir = tempDir();
  assert.throws(() => rebuildReport(dir), (e: Error) => e instanceof ResultsError && e.message.includes(join(dir, 'results.json')) && /not found/.test(e.message));
  writeFileSync(join(dir, 'results.json'), '{"schemaVersion": 1,');
  assert.throws(() => rebuildReport(dir), /results\.json: not valid JSON/);
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ ...sampleResults(), run: undefined }));
  assert.throws(() => rebuildReport(dir), /results\.json does not match the results schema v3: run: /);
  rmSync(dir, { recursive: true });
});

test('the terminal summary lists every classifier and number in aligned columns', () => {
  const r = sampleResults({ names: ['lenet', 'alexnet-like', 'vgg'] });
  const text = formatSummary(r, join('runs', 'x', 'report', 'report.html'));
  const lines = text.split('\n');
  for (const c of r.classifiers) {
    const line = lines.find((l) => l.startsWith(`${c.name} `));
    assert.ok(line, c.name);
    for (const a of [c.accuracy.original, c.accuracy.generic, c.accuracy.own]) assert.ok(line.includes(withInterval(a.top1, a.ci95.top1, 100)), `${c.name}: ${a.top1}`);
  }
  const cx = r.crossEvaluation;
  r.crossEvaluation.rows.forEach((row, i) => {
    const line = lines.find((l) => l.startsWith(`${row} `) && l.includes(withInterval(cx.top1[i][0], cx.ci95.top1[i][0], 100)));
    assert.ok(line, `cross row ${row}`);
    cx.top1[i].forEach((v, j) => assert.ok(line.includes(withInterval(v, cx.ci95.top1[i][j], 100))));
  });
  for (const a of r.autoencoders) {
    const line = lines.find((l) => l.startsWith(`${a.name} `) && l.includes(withInterval(a.intraNmi, a.ci95.intraNmi, 1, 3)));
    assert.ok(line && line.includes(withInterval(a.interNmi, a.ci95.interNmi, 1, 3)) && line.includes(withInterval(a.psnr, a.ci95.psnr, 1, 2)), a.name);
  }
  assert.ok(text.includes(`Order vs accuracy: ${claimSentence('accuracy', r.claims!.orderVsAccuracy, r.claims!)}`));
  assert.match(text, /Noise robustness/);
  assert.ok(text.includes(`Order: ${r.order.ranking.join(' > ')}`));
  const seconds = Object.values(r.run.durations).reduce((s, v) => s + v, 0);
  assert.ok(text.includes(`${seconds.toFixed(0)} s`));
  assert.ok(text.includes(`Report: ${join('runs', 'x', 'report', 'report.html')}`));
  // Each table's rows line up: its dash rule is as wide as its widest line.
  const blocks = text.split('\n\n').filter((b) => b.split('\n').some((l) => /^-+( +-+)+$/.test(l)));
  // Accuracy, cross matrix, NMI, noise, colour shift, periodic artifacts, fine-tunes.
  assert.equal(blocks.length, 7);
  for (const a of r.autoencoders) {
    const colour = lines.find((l) => l.startsWith(`${a.name} `) && l.includes(a.colourShift!.chromaRatio.toFixed(3)));
    assert.ok(colour && colour.includes(a.colourShift!.meanDeltaE.toFixed(2)), `colour row ${a.name}`);
    const periodic = lines.find((l) => l.startsWith(`${a.name} `) && a.periodic.every((p) => l.includes(p.amplitude.toFixed(4))));
    assert.ok(periodic, `periodic row ${a.name}`);
  }
  // The warnings come first: A_S loses more than 2 points for some classifier here, and lenet's fine-tune ran out of budget.
  assert.match(lines[0], /^WARNING: A_S is too weak to compare against: .* loses \d+\.\d points.*--pretrain-steps/);
  assert.match(lines[1], /^WARNING: The fine-tune for lenet used its whole budget of 600 steps without converging .*90\.0 % .* 98\.0 %/);
  for (const b of blocks) {
    const tableLines = b.split('\n').filter((_, k, all) => k >= all.findIndex((x) => /^-+( +-+)+$/.test(x)) - 1);
    const rule = tableLines[1];
    for (const l of tableLines) assert.equal(l.length, rule.length, `aligned: '${l}'`);
  }
});

test('the colour section says what its differences between autoencoders rest on: one seed, or the seeds\' separation test', () => {
  const single = sampleResults({ channels: 3 });
  const page = (r: Results) => reportHtml(r, new Map());
  assert.match(page(single), /From one seed: the intervals cover the choice of evaluation images, not the fine-tunes&#39; seeds.*--repeats 3/);
  assert.match(formatSummary(single), /From one seed: .*--repeats 3/);
  const names = single.autoencoders.map((a) => a.name);
  const figures = names.flatMap((subject, i) => [
    { measure: '|colour cast|', subject, values: [i, i + 0.1, i - 0.1], mean: i, sd: 0.1 },
    { measure: 'chroma ratio', subject, values: [1, 1.2, 0.8], mean: 1, sd: 0.2 },
  ]);
  const separations = [
    { measure: '|colour cast|', subjects: names.length, betweenSd: 1.87, seedSd: 0.1, f: 1050, p: 0.0001 },
    { measure: 'chroma ratio', subjects: names.length, betweenSd: 0, seedSd: 0.2, f: 0, p: 1 },
  ];
  const replicated: Results = { ...single, replicates: { seeds: [0, 1, 2], repeatAll: false, figures, relations: [], rankings: [{ ranking: single.order.ranking, seeds: 3, total: 3 }], kendallW: 1, separations } };
  const html = page(validateResults(replicated));
  assert.match(html, /Across 3 seeds: \|colour cast\| differs between autoencoders beyond seed noise \(p = 0\.0001\); chroma ratio does not differ between autoencoders beyond seed noise \(p = 1\.0000\)/);
  assert.match(html, /<td>\|colour cast\|<\/td><td>\d+<\/td><td>1\.8700<\/td><td>0\.1000<\/td><td>1050\.00<\/td><td>0\.0001<\/td><td>beyond seed noise<\/td>/);
  assert.match(formatSummary(replicated), /chroma ratio .* within seed noise/);
  // A record from before the test still validates and says so.
  const { separations: _s, ...older } = replicated.replicates!;
  assert.match(page(validateResults({ ...replicated, replicates: older })), /Across 3 seeds the colour figures did not move \(or this record predates/);
});

test("the engine row names cuDNN's version and TensorFloat-32 for a CUDA run, and results from before they were recorded still validate", () => {
  const r = sampleResults();
  const cudaRun: Results = { ...r, run: { ...r.run, engine: { ...r.run.engine, cuda: true, cudnn: true, cudnnVersion: 91900, tf32: { convolutions: true, matmul: false } } } };
  const html = reportHtml(validateResults(JSON.parse(JSON.stringify(cudaRun))), new Map());
  assert.match(html, /CUDA yes, cuDNN 91900, TF32 on for convolutions and off for matrix products/);
  assert.match(reportHtml(r, new Map()), /CUDA no</);
  const { cudnnVersion: _v, tf32: _t, ...older } = cudaRun.run.engine;
  assert.doesNotThrow(() => validateResults(JSON.parse(JSON.stringify({ ...cudaRun, run: { ...cudaRun.run, engine: older } }))));
});
