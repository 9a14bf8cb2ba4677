// End to end through the CLI, as a user runs it: the quick demo, its results and report, a
// resume after SIGKILLs at several moments, reuse on rerun, status and report rebuild.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateResults } from '../../src/report/index.js';
import { pairedChange } from '../../src/analysis/index.js';
import { status } from '../../src/scheduler/runner.js';
import { verifyRun } from '../../src/commands/verify.js';
import { currentEngine } from '../../src/scheduler/current-engine.js';
import { acquireLock } from '../../src/runs/lock.js';
import { artifactDir } from '../../src/runs/artifacts.js';
import { EVALUATION_FILES, ORIGINAL_ROW, readPredictions } from '../../src/experiment/evaluation.js';

const cli = resolve('dist/src/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 's2snets-demo-'));

function demo(runDir: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'demo', '--quick', '--device', 'cpu', '--run-dir', runDir], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the demo and SIGKILLs it as soon as its progress output names `job`. */
function killDuring(runDir: string, job: string): Promise<void> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, 'demo', '--quick', '--device', 'cpu', '--run-dir', runDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let seen = '';
    child.stderr.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(job)) child.kill('SIGKILL');
    });
    child.on('exit', () => done());
  });
}

/** results.json without what legitimately differs between runs (timestamps, timings). */
function comparable(runDir: string): unknown {
  const r = JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8'));
  delete r.createdAt;
  delete r.run.durations;
  return r;
}

test('quick demo: sane results, a complete report, and an unchanged rerun', () => {
  const dir = join(root, 'straight');
  const first = demo(dir);
  assert.equal(first.status, 0, first.stderr);
  const results = validateResults(JSON.parse(readFileSync(join(dir, 'report', 'results.json'), 'utf8')));
  // Sane: every accuracy counts evaluation images; the accuracy table and the cross matrix are the
  // same measurements; a classifier that does not beat chance is flagged in the order, and only then.
  const n = results.run.evalSamples;
  const chance = 1 / results.run.classes.length;
  const counted = (v: number, what: string) => assert.ok(Math.abs(v * n - Math.round(v * n)) < 1e-9, `${what}: ${v} is not a count of ${n} images`);
  results.classifiers.forEach((c, j) => {
    for (const [k, a] of Object.entries(c.accuracy)) counted(a.top1, `${c.name} ${k}`);
    assert.deepEqual(
      [results.crossEvaluation.original[j], results.crossEvaluation.top1[0][j], results.crossEvaluation.top1[j + 1][j]],
      [c.accuracy.original.top1, c.accuracy.generic.top1, c.accuracy.own.top1],
      `${c.name}: the cross matrix holds its accuracies on the originals, on A_S and on its own S2SNet`,
    );
    const flagged = results.order.violations.some((v) => v.kind === 'chance' && v.classifiers[0] === c.name);
    assert.equal(flagged, c.accuracy.original.ci95.top1[0] <= chance, `${c.name}: flagged at chance exactly when its interval reaches ${chance}`);
  });
  // LeNet-5 learns even in the quick demo's few steps.
  const lenet = results.classifiers.find((c) => c.name === 'lenet5')!;
  assert.ok(lenet.accuracy.original.ci95.top1[0] > chance, `lenet5 top-1 ${lenet.accuracy.original.top1} does not beat chance`);
  // The claims rest on every ranking the order allows unless it is total.
  assert.equal(results.claims!.basis, results.order.isTotal ? 'total' : 'partial');
  // Every estimate carries a 95% interval that contains it.
  const inside = (v: number, [lo, hi]: [number, number], what: string) => assert.ok(lo <= v + 1e-12 && v <= hi + 1e-12, `${what}: ${v} outside [${lo}, ${hi}]`);
  for (const c of results.classifiers) for (const [k, a] of Object.entries(c.accuracy)) inside(a.top1, a.ci95.top1, `${c.name} ${k}`);
  const cx = results.crossEvaluation;
  cx.top1.forEach((row, i) => row.forEach((v, j) => inside(v, cx.ci95.top1[i][j], `cross ${i},${j}`)));
  cx.delta.forEach((row, i) => row.forEach((v, j) => inside(v, cx.ci95.delta[i][j], `delta ${i},${j}`)));
  for (const a of results.autoencoders) {
    inside(a.psnr, a.ci95.psnr, `${a.name} PSNR`);
    inside(a.intraNmi, a.ci95.intraNmi, `${a.name} intra-NMI`);
    inside(a.interNmi, a.ci95.interNmi, `${a.name} inter-NMI`);
  }
  for (const c of results.noise!.classifiers) c.gain.forEach((g, k) => inside(g, c.ci95.gain[k], `${c.name} noise gain`));
  assert.equal(results.order.resamples, 1000);
  assert.equal(results.order.pairs.length, 1);
  assert.match(first.stdout, /\[95% bootstrap intervals, 1000 resamples\]/);
  assert.match(first.stdout, /Order vs accuracy: /);
  const generic = results.autoencoders.find((a) => a.name === 'A_S')!;
  // Better than chance: a reconstruction that ignored its input would share ~no information with it.
  assert.ok(generic.intraNmi > 0.2, `A_S intra-NMI ${generic.intraNmi}`);
  assert.ok(generic.psnr > 10, `A_S PSNR ${generic.psnr}`);
  const html = readFileSync(join(dir, 'report', 'report.html'), 'utf8');
  for (const f of results.figures) {
    assert.ok(existsSync(join(dir, 'report', f.file)), f.file);
    assert.ok(html.includes(f.caption.replace(/'/g, '&#39;')), `report shows ${f.id}`);
  }
  // The per-image predictions stored beside the evaluation count up to the reported accuracies.
  const evaluation = status(dir).jobs.find((j) => j.name === 'evaluate')!;
  const predictions = readPredictions(artifactDir(dir, evaluation.key), EVALUATION_FILES);
  assert.equal(predictions.labels.length, results.run.evalSamples);
  const share = (top1: number[]) => top1.filter((c, i) => c === predictions.labels[i]).length / top1.length;
  results.classifiers.forEach((c, j) => {
    assert.equal(share(predictions.rows[ORIGINAL_ROW][c.name].top1), c.accuracy.original.top1);
    assert.equal(share(predictions.rows[`S2S-${c.name}`][c.name].top1), c.accuracy.own.top1);
    results.crossEvaluation.rows.forEach((row, i) => assert.equal(share(predictions.rows[row][c.name].top1), results.crossEvaluation.top1[i][j]));
  });
  // The noise table recounted from predictions.json alone: every figure, and every interval from
  // the same bootstrap (its resamples and seed are in results.json).
  const noise = predictions.noise!;
  assert.deepEqual(noise.sigmas, results.noise!.sigmas);
  assert.equal(noise.images.length, results.noise!.samples);
  const truth = noise.images.map((i) => predictions.labels[i]);
  const right = (top1: number[]) => top1.map((p, i) => (p === truth[i] ? 1 : 0));
  const boot = { resamples: results.bootstrap.resamples, seed: results.bootstrap.seed };
  for (const c of results.noise!.classifiers) {
    noise.sigmas.forEach((sigma, k) => {
      const [a, b] = [right(noise.classifiers[c.name].noisy[k]), right(noise.classifiers[c.name].own[k])];
      const share = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
      assert.deepEqual([share(a), share(b)], [c.noisy[k], c.own[k]], `${c.name} at sigma ${sigma}`);
      assert.ok(Math.abs(share(b) - share(a) - c.gain[k]) < 1e-12, `${c.name} at sigma ${sigma}: change`);
      const recount = pairedChange(a, b, boot);
      assert.deepEqual([recount.a.ci95, recount.b.ci95, recount.change.ci95], [c.ci95.noisy[k], c.ci95.own[k], c.ci95.gain[k]], `${c.name} at sigma ${sigma}: intervals`);
    });
  }
  assert.match(first.stdout, /Cross-evaluation/);
  assert.match(first.stdout, /Report: .*report\.html/);

  const before = comparable(dir);
  const again = demo(dir);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /0 job\(s\) ran, 10 reused/);
  assert.deepEqual(comparable(dir), before);

  const st = spawnSync(process.execPath, [cli, 'status', dir], { encoding: 'utf8' });
  assert.equal(st.status, 0, st.stderr);
  assert.match(st.stdout, /10\/10 jobs done/);
  assert.match(st.stdout, /evaluate\s+done/);
  rmSync(join(dir, 'report'), { recursive: true });
  const rep = spawnSync(process.execPath, [cli, 'report', dir], { encoding: 'utf8' });
  assert.equal(rep.status, 0, rep.stderr);
  assert.ok(existsSync(join(dir, 'report', 'report.html')));
  // The numbers name the engine that made them.
  assert.deepEqual(results.run.engine, currentEngine());
  assert.deepEqual(results.run.mixedEngines, []);
});

const cliRun = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/** Runs the CLI without waiting, for commands that must overlap. */
function cliAsync(...args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => done({ status, stderr }));
  });
}

test('two reports at once keep a complete report; status, verify and report see every command; --version', async () => {
  const dir = join(root, 'straight');
  const files = () => readdirSync(join(dir, 'report'), { recursive: true }).map(String).sort();
  const complete = files();
  assert.ok(complete.includes('results.json') && complete.includes('cross_top1.csv') && complete.includes('report.html'), complete.join(' '));
  for (let trial = 0; trial < 3; trial++) {
    const both = await Promise.all([cliAsync('report', dir), cliAsync('report', dir)]);
    // The loser, if their runs overlapped, is refused by the lock in one line; never a lost report.
    for (const r of both) if (r.status !== 0) assert.match(r.stderr, /^s2snets: error S2SNETS_LOCK_HELD: .* is in use by process \d+ \(rendering the report, since .*\)/);
    assert.ok(both.some((r) => r.status === 0));
    assert.deepEqual(files(), complete, `trial ${trial}`);
    assert.ok(!readdirSync(dir).some((n) => n.startsWith('report.')), 'no staging folder left');
  }
  // While another process writes in the run (here: this one holds its lock), report refuses and leaves the report alone.
  const held = acquireLock(join(dir, 'lock'), 'a test holding the run');
  const refused = await cliAsync('report', dir);
  held.release();
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`^s2snets: error S2SNETS_LOCK_HELD: .* is in use by process ${process.pid} \\(a test holding the run, since .*\\); wait for it to finish or stop it\n$`));
  assert.deepEqual(files(), complete);
  // A later command of part of the graph: report and status still see the evaluation.
  const train = cliRun('train-classifier', '--quick', '--device', 'cpu', '--run-dir', dir);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /0 job\(s\) ran, 2 reused/);
  assert.equal(cliRun('report', dir).status, 0);
  const st = JSON.parse(cliRun('status', dir, '--json').stdout);
  assert.equal(st.jobs.length, 10);
  assert.ok(st.jobs.every((j: { status: string; artifactProblem: string | null }) => j.status === 'done' && j.artifactProblem === null));
  const ok = cliRun('verify', dir);
  assert.equal(ok.status, 0, ok.stdout);
  assert.match(ok.stdout, /: ok \(store integrity, artifacts, manifests and checksums, done jobs, report\)\n$/);
  // A flipped bit in an artifact: status marks the job, verify names it and exits 1.
  const evaluate = st.jobs.find((j: { name: string }) => j.name === 'evaluate');
  const file = join(dir, 'artifacts', evaluate.key, 'evaluation.json');
  const bytes = readFileSync(file);
  bytes[10] ^= 1;
  writeFileSync(file, bytes);
  const bad = cliRun('verify', dir, '--json');
  assert.equal(bad.status, 1);
  const check = JSON.parse(bad.stdout);
  assert.equal(check.ok, false);
  assert.ok(check.problems.includes(`artifacts/${evaluate.key} (job 'evaluate'): file evaluation.json content changed (sha256 mismatch)`), check.problems.join('\n'));
  assert.match(cliRun('status', dir).stdout, /evaluate\s+damaged\s+1\s+\S+\s+artifact fails verification: file evaluation\.json content changed/);
  bytes[10] ^= 1;
  writeFileSync(file, bytes);
  assert.equal(cliRun('verify', dir).status, 0);
  const version = cliRun('--version');
  assert.equal(version.status, 0);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
});

test('killed at three moments and resumed, the demo ends with the same results', async () => {
  const dir = join(root, 'killed');
  for (const job of ['classifier[lenet5]: ', 'finetune[lenet5]', 'reconstruct[S2S-lenet5]']) await killDuring(dir, job);
  const last = demo(dir);
  assert.equal(last.status, 0, last.stderr);
  assert.match(last.stdout, /reused/);
  assert.deepEqual(comparable(dir), comparable(join(root, 'straight')));
  const check = verifyRun(dir);
  assert.equal(check.integrity, 'ok');
  assert.deepEqual(check.problems, []);
});

test('bad options exit non-zero with a message', () => {
  const r = spawnSync(process.execPath, [cli, 'demo', '--classifiers', 'lenet5,densenet'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown classifier\(s\) densenet; the zoo has: lenet5/);
  const missing = spawnSync(process.execPath, [cli, 'status', join(root, 'nothing-here')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^s2snets: error S2SNETS_RUN_STORE: .*no run here/);
});

test('--repeats 2 reruns only the fine-tunes with seed 1, reuses the rest and aggregates the two seeds', () => {
  const dir = join(root, 'straight');
  const r = spawnSync(process.execPath, [cli, 'demo', '--quick', '--device', 'cpu', '--run-dir', dir, '--repeats', '2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // Seed 1: two fine-tunes, their two reconstructions, an evaluation, and the aggregate; the classifiers, A_S and its encodings are reused.
  assert.match(r.stdout, /6 job\(s\) ran, 10 reused/);
  const results = validateResults(JSON.parse(readFileSync(join(dir, 'report', 'results.json'), 'utf8')));
  const rep = results.replicates!;
  assert.deepEqual(rep.seeds, [0, 1]);
  assert.equal(rep.repeatAll, false);
  const original = rep.figures.find((f) => f.measure === 'top-1 on original' && f.subject === 'lenet5')!;
  assert.equal(original.sd, 0, 'the classifiers are shared, so their accuracy on the originals is the same');
  assert.equal(original.values[0], results.classifiers[0].accuracy.original.top1);
  const own = rep.figures.find((f) => f.measure === 'top-1 on own S2SNet' && f.subject === 'lenet5')!;
  assert.equal(own.values[0], results.classifiers[0].accuracy.own.top1, 'seed 0 is the run itself');
  const grid = rep.figures.find((f) => f.measure === 'period-2 grid dB' && f.subject === 'A_S')!;
  assert.deepEqual([grid.values[0], grid.sd], [results.autoencoders[0].periodic[0].db, 0], 'A_S is shared, so its grid measure is too');
  assert.equal(rep.rankings.reduce((n, x) => n + x.seeds, 0), 2);
  assert.equal(rep.relations.length, 1);
  assert.match(r.stdout, /Replicates: seeds 0, 1 \(fine-tunes retrained per seed\)/);
  // PSNR of A_S and the two S2SNets: the fine-tunes' seeds move the S2SNets', so it is tested.
  const psnr = rep.separations!.find((s) => s.measure === 'PSNR dB')!;
  assert.equal(psnr.subjects, 3);
  assert.ok(psnr.p > 0 && psnr.p <= 1);
  assert.ok(!rep.separations!.some((s) => s.measure === 'top-1 on original'), 'the seeds do not move the shared classifiers');
  assert.match(r.stdout, /Do the subjects of each measure differ beyond seed noise\?/);
  const html = readFileSync(join(dir, 'report', 'report.html'), 'utf8');
  assert.match(html, /<h2>Replicate seeds<\/h2>/);
  assert.match(html, /<td>PSNR dB<\/td><td>3<\/td>/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
