// Every mistake that can be known before the first job is refused before it, in one line that
// names the setting and the cause, and nothing is written: each case goes through
// runExperiment (the route every command takes) and must leave no run database behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/experiment/config.js';
import { derivedNames, planFromConfig, quickPlan, type ExperimentPlan } from '../../src/experiment/plan.js';
import { checkInputs, PreflightError, RECORDED_SETTINGS, resultsFieldSchema, runDiskBytes, streamedMemoryBytes } from '../../src/experiment/preflight.js';
import { DECODES_IN_FLIGHT } from '../../src/data/index.js';
import { runExperiment, type ProgressSink } from '../../src/commands/run.js';
import { writeImageFolder } from './image-folder-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-preflight-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const images = join(tmp, 'images');
before(() => writeImageFolder(images, 2));
const sink: ProgressSink = { update: () => {}, log: () => {} };
const GB = 1024 ** 3;

/** The plan a config object describes (paths absolute, as loadConfig makes them). */
const planOf = (config: Record<string, unknown>): ExperimentPlan => planFromConfig(loadConfig({ classifiers: ['lenet5'], device: 'cpu', ...config }), 'cpu');
const folder = (imageSize = 32) => ({ imageFolder: images, imageSize });

/** runExperiment refuses with `message` and writes no run store; the error is the preflight's own type (code S2SNETS_PREFLIGHT) and one line. */
async function refuses(plan: ExperimentPlan, message: RegExp | string, runDir = join(tmp, `run-${Math.random().toString(36).slice(2)}`)): Promise<void> {
  await assert.rejects(runExperiment(plan, runDir, 'report', sink), (e: Error) => {
    assert.ok(e instanceof PreflightError, `${e.name}: ${e.message}`);
    assert.equal(e.code, 'S2SNETS_PREFLIGHT');
    assert.ok(!e.message.includes('\n'), 'one line');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
  assert.ok(!existsSync(join(runDir, 'run.db')), 'no job was registered');
}

test('duplicate classifier names are refused naming both sources; same-named files get distinct names from their paths', async () => {
  const a = join(tmp, 'a', 'model.onnx');
  const b = join(tmp, 'b', 'model.onnx');
  await refuses(planOf({ classifiers: [{ onnx: a, name: 'm' }, { onnx: b, name: 'm' }] }), `classifiers: two classifiers are named 'm' (${a} and ${b}); give them distinct names ("name" in the config)`);
  await refuses(planOf({ classifiers: ['lenet5', 'lenet5'] }), /two classifiers are named 'lenet5' \(zoo model 'lenet5' and zoo model 'lenet5'\)/);
  assert.deepEqual(planOf({ classifiers: [{ onnx: a }, { onnx: b }, { torchscript: join(tmp, 'c.pt') }] }).classifiers.map((c) => c.name), ['a/model', 'b/model', 'c']);
  assert.deepEqual(derivedNames(['/m/x/a/model.onnx', '/m/y/a/model.pt', null, '/m/z/other.onnx']), ['x/a/model', 'y/a/model', null, 'other']);
});

test('unknown zoo names, unreadable inputs and unusable run directories are refused by name and cause', async () => {
  await refuses(planOf({ classifiers: ['densenet'] }), /^classifiers: unknown zoo model 'densenet'; the zoo has: lenet5, /);
  const missing = join(tmp, 'missing.onnx');
  await refuses(planOf({ classifiers: ['lenet5', { onnx: missing }] }), `classifiers[1] ${missing}: cannot read (not found)`);
  await refuses(planOf({ ae: { weights: join(tmp, 'nope.pth') } }), `ae.weights ${join(tmp, 'nope.pth')}: cannot read (not found)`);
  await refuses(planOf({ dataset: { imageFolder: join(tmp, 'no-images') } }), `dataset.imageFolder ${join(tmp, 'no-images')}: cannot read (not found)`);
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  await refuses(planOf({ dataset: { imageFolder: file } }), `dataset.imageFolder ${file}: a file, not a folder`);
  // --run-dir naming a regular file, or a folder below one.
  await refuses(planOf({}), `run directory ${file}: is a file, not a directory`, file);
  await refuses(planOf({}), `run directory ${join(file, 'run')}: ${file} is a file, not a directory`, join(file, 'run'));
  assert.equal(readFileSync(file, 'utf8'), 'x');
  // A pseudo file system: writable as root, but mkdir answers ENOENT (a recursive mkdir would retry forever).
  // (checkInputs alone: past a missed refusal, the run itself would spin.)
  if (existsSync('/proc/self')) await assert.rejects(checkInputs(planOf({}), '/proc/s2snets/run'), { name: 'PreflightError', message: 'run directory /proc/s2snets/run: cannot create it in /proc (not found); choose a folder on a disk' });
  // A creatable run directory is checked by making its folders and removing them again.
  const fresh = join(tmp, 'new', 'run');
  await checkInputs(planOf({}), fresh);
  assert.ok(!existsSync(join(tmp, 'new')), 'nothing is left behind');
});

/** A directory this process cannot write in: a read-only mount when one exists, else a chmod 555 folder (not for root). */
function unwritableDir(): { dir: string; cause: string } | null {
  const mounts = existsSync('/proc/mounts') ? readFileSync('/proc/mounts', 'utf8').split('\n') : [];
  for (const line of mounts) {
    const [, point, , options] = line.split(' ');
    if (!options?.split(',').includes('ro') || !point) continue;
    try {
      accessSync(point, constants.W_OK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EROFS') return { dir: point, cause: 'read-only file system' };
    }
  }
  const dir = join(tmp, 'locked');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o555);
  try {
    accessSync(dir, constants.W_OK);
    return null;
  } catch {
    return { dir, cause: 'permission denied' };
  }
}

test('a run directory that cannot be written is refused as read-only or permission denied', async (t) => {
  const target = unwritableDir();
  if (!target) return t.skip('no read-only mount here and root can write anywhere');
  const runDir = join(target.dir, 's2snets-run');
  await refuses(planOf({}), `run directory ${runDir}: cannot write in ${target.dir} (${target.cause})`, runDir);
});

test('image sizes: non-integer, too large to decode, too small for the zoo, deeper SegNets than the size allows, a batch beyond memory', async () => {
  assert.throws(() => loadConfig({ dataset: { imageFolder: images, imageSize: 30.5 }, classifiers: ['lenet5'] }), (e: Error) => e instanceof ConfigError && e.message === 'config: dataset.imageSize: must be an integer');
  await refuses(planOf({ dataset: folder(1_000_000) }), /^dataset\.imageSize: image size 1000000 needs ~\d+ GB for the batches a job reads ahead and decodes, more than a quarter of this machine's \d+ GB of memory; use a smaller imageSize or smaller batches$/);
  // 4 batches of 64 (classifier training's; the evaluation's shrinks with the image size) read ahead
  // (uint8), one as float32, 4 or more images decoded at 114,286 px.
  const big = planOf({ dataset: folder(100_000) });
  assert.equal(big.evalBatchSize, 8);
  const { training } = streamedMemoryBytes(big);
  assert.equal(training, 4 * 64 * 3e10 + 4 * 64 * 3e10 + DECODES_IN_FLIGHT * 4 * 3 * 114_286 ** 2);
  await assert.rejects(checkInputs(big, join(tmp, 'r'), 64 * GB), {
    message: `dataset.imageSize: image size 100000 needs ~${(training / GB).toFixed(0)} GB for the batches a job reads ahead and decodes, more than a quarter of this machine's 64 GB of memory; use a smaller imageSize or smaller batches`,
  });
  // The evaluation still holds its set: 1,000 images of 224 px and 2 autoencoders' reconstructions, float32.
  await assert.rejects(checkInputs(planOf({ dataset: folder(224) }), join(tmp, 'r'), 4 * GB), {
    message: "eval.samples: the evaluation holds its 1000 images and 2 autoencoders' reconstructions of them at 224 px (~2.2 GB), more than half of this machine's 4.0 GB of memory; use fewer eval.samples",
  });
  await refuses(planOf({ dataset: folder(30) }), "dataset.imageSize: zoo model 'lenet5' needs an image size that is a multiple of 8 and at least 16, not 30");
  await refuses(planOf({ ae: { stages: [[8], [8], [8], [8], [8], [8], [8], [8]] } }), 'ae.stages: 8 stages halve 32 px images below 1 px (stage 6 would pool a 1 px map); at most 5 stages fit 32 px images');
  await refuses(planOf({ ae: { stages: [[100000]] } }), /^ae\.stages: training a SegNet of \[100000\] \(9\.00e\+10 parameters\) on batches of 32 32 px images needs ~\d+ GB, more than this machine's \d+ GB of memory; use narrower stages, smaller batches or smaller images$/);
  // What fits passes: 5 stages at 32 px, the quick plan.
  await checkInputs({ ...quickPlan(), ae: { ...quickPlan().ae, stages: [[4], [4], [4], [4], [4]] } }, join(tmp, 'fits'));
});

test('a run whose artifacts would not fit on the disk is refused in one line, before any job', async (t) => {
  const small = join(tmp, 'small-disk');
  mkdirSync(small);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small]);
  if (mounted.status !== 0) return t.skip(`a small file system cannot be mounted here (${mounted.stderr.toString().trim()})`);
  try {
    const plan = planOf({ dataset: folder(32) });
    const need = runDiskBytes(plan, 3, 32, 6);
    // Two autoencoders' weights and reconstructions, a classifier's weights, the index: far beyond 2 MB.
    assert.ok(need > 2 * 1024 ** 2);
    await refuses(plan, /^run directory .*small-disk\/run: the run's artifacts need ~[\d.]+ GB \(weights, 1000 evaluation images reconstructed by each autoencoder, the dataset's index\), but only 0\.0 GB are free there; free space, or use fewer eval\.samples$/, join(small, 'run'));
  } finally {
    spawnSync('umount', [small]);
  }
});

test('symbolic links to class folders count as class folders', async () => {
  const linked = join(tmp, 'linked');
  mkdirSync(linked);
  for (const name of ['cat', 'dog', 'fox']) symlinkSync(join(images, name), join(linked, name));
  await checkInputs(planOf({ dataset: { imageFolder: linked, imageSize: 32 } }), join(tmp, 'linked-run'));
});

test('every setting results.json records is checked up front against its field of the results schema', async () => {
  // `demo --quick --finetune-steps 1e20` ran every job, then failed to write its results.
  await refuses({ ...quickPlan(), finetune: { ...quickPlan().finetune, steps: 1e20 } }, /^finetune\.steps: 100000000000000000000 is out of range for results\.json's finetunes\.\*\.budget \(Too big: /);
  const set: Record<string, (p: ExperimentPlan, v: number) => void> = {
    seed: (p, v) => void (p.seed = v),
    'seed + repeats - 1': (p, v) => Object.assign(p, { seed: Math.max(0, v - 1), repeats: 2 }),
    evalSamples: (p, v) => void (p.evalSamples = v),
    'finetune.steps': (p, v) => void (p.finetune.steps = v),
    'finetune.epochs': (p, v) => void (p.finetune.epochs = v),
    'analysis.bootstrapResamples': (p, v) => void (p.analysis.bootstrapResamples = v),
    'analysis.orderEpsilon': (p, v) => void (p.analysis.orderEpsilon = v),
    'analysis.orderLevel': (p, v) => void (p.analysis.orderLevel = v),
    'analysis.nmiBins': (p, v) => void (p.analysis.nmiBins = v),
    'analysis.interPairs': (p, v) => void (p.analysis.interPairs = v),
    'analysis.noiseSigmas': (p, v) => void (p.analysis.noiseSigmas = [0.1, v]),
    'analysis.noiseSamples': (p, v) => void (p.analysis.noiseSamples = v),
  };
  const candidates = [1e20, 2 ** 53, -1, 0, 0.5, 1.5, 2, 1000, Number.NaN, Number.POSITIVE_INFINITY];
  const firstMisfit = (plan: ExperimentPlan) => RECORDED_SETTINGS.find((r) => r.values(plan).some((x) => !resultsFieldSchema(r.field).safeParse(x).success));
  for (const { setting, field, values } of RECORDED_SETTINGS) {
    assert.ok(set[setting], `the test sets ${setting}`);
    let refusedHere = 0;
    for (const v of candidates) {
      const plan = quickPlan();
      set[setting](plan, v);
      const misfit = firstMisfit(plan);
      const error = await checkInputs(plan, join(tmp, 'bounds')).then(
        () => null,
        (e: Error) => e,
      );
      const refusal = error instanceof PreflightError && /^[\w.+ -]+: \S+ is out of range for results\.json's /.test(error.message) ? error.message : null;
      // Refused, naming the setting, exactly when the schema refuses a value the plan records.
      assert.equal(refusal?.split(':')[0] ?? null, misfit?.setting ?? null, `${setting} = ${v}: ${error?.message ?? 'accepted'}`);
      if (values(plan).some((x) => !resultsFieldSchema(field).safeParse(x).success)) refusedHere++;
    }
    assert.ok(refusedHere > 0, `some candidate is out of ${field.join('.')}'s range and refused as ${setting}`);
  }
});
