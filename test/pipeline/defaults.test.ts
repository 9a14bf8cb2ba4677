// One home for each default (src/experiment/defaults.ts): the plan, the config schema, the CLI's
// help and the README's configuration table all say the same, so none of them can drift alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { A_S_PSNR_FLOOR, DEFAULT_TRAIN_LIMIT, DEMO_CLASSIFIERS, IMAGE_FOLDER_PSNR_FLOOR, PLAN_DEFAULTS, RUN_DEFAULTS } from '../../src/experiment/defaults.js';
import { ExperimentConfig, loadConfig } from '../../src/experiment/config.js';
import { defaultPlan, planFromConfig, quickPlan, type ExperimentPlan } from '../../src/experiment/plan.js';

const cli = resolve('dist/src/cli/main.js');
const readme = resolve('README.md');

test('a config that sets nothing loads with the defaults of the literal, and its plan is defaultPlan', () => {
  const cfg = loadConfig({ classifiers: ['lenet5'] });
  assert.deepEqual(
    { dataset: cfg.dataset, seed: cfg.seed, device: cfg.device, quick: cfg.quick, runDir: cfg.runDir, stages: cfg.ae.stages, repeats: cfg.repeats, repeatAll: cfg.repeatAll },
    { dataset: PLAN_DEFAULTS.dataset, seed: PLAN_DEFAULTS.seed, device: RUN_DEFAULTS.device, quick: RUN_DEFAULTS.quick, runDir: RUN_DEFAULTS.runDir, stages: RUN_DEFAULTS.aeStages, repeats: PLAN_DEFAULTS.repeats, repeatAll: PLAN_DEFAULTS.repeatAll },
  );
  const f = cfg.finetune;
  assert.deepEqual([f.targets, f.trainWholeAe, f.untilConverged], [PLAN_DEFAULTS.finetune.targets, PLAN_DEFAULTS.finetune.trainWholeAe, PLAN_DEFAULTS.finetune.convergence !== null]);
  const plan = planFromConfig(loadConfig({ classifiers: [...DEMO_CLASSIFIERS] }), 'cpu');
  const { trainLimit, analysis, ...rest } = plan;
  const { psnrFloor, ...analysisRest } = analysis;
  const { analysis: analysisDefaults, ...restDefaults } = PLAN_DEFAULTS;
  assert.deepEqual({ ...rest, ae: { ...rest.ae, weights: undefined } }, { ...restDefaults, ae: { ...restDefaults.ae, weights: undefined } });
  assert.deepEqual(analysisRest, analysisDefaults);
  assert.deepEqual([trainLimit, psnrFloor], [DEFAULT_TRAIN_LIMIT.mnist, A_S_PSNR_FLOOR.mnist]);
});

test("an image folder's plan takes the folder's dataset-specific defaults, not the default dataset's", () => {
  for (const quick of [false, true]) {
    const plan = planFromConfig(loadConfig({ dataset: { imageFolder: '/data/val' }, classifiers: ['lenet5'], quick }), 'cpu');
    assert.deepEqual([plan.analysis.psnrFloor, plan.trainLimit], [IMAGE_FOLDER_PSNR_FLOOR, quick ? quickPlan().trainLimit : null], `quick: ${quick}`);
  }
});

test('a plan is a copy: changing one changes neither the defaults nor the next plan', () => {
  const a = defaultPlan();
  a.finetune.convergence!.samples = 1;
  a.analysis.noiseSigmas.push(9);
  a.classifierTraining.epochsFor.resnet = 2;
  assert.deepEqual([defaultPlan().finetune.convergence!.samples, defaultPlan().analysis.noiseSigmas, defaultPlan().classifierTraining.epochsFor], [256, [0.05, 0.1, 0.2], { lenet5: 15 }]);
});

/** The option entries of a command's help, each joined onto one line: [flags, description]. */
function helpOptions(command: string): Map<string, string> {
  const r = spawnSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const entries = new Map<string, string>();
  let current: string | null = null;
  for (const line of r.stdout.split('\n')) {
    const start = /^ {2}(-[^ ]+(?: <[^>]+>)?(?:, -[^ ]+)?) +(.*)$/.exec(line);
    if (start) {
      current = start[1].split(' ')[0].replace(/,$/, '');
      entries.set(current, start[2]);
    } else if (current && /^ {4,}\S/.test(line)) entries.set(current, `${entries.get(current)} ${line.trim()}`);
    else current = null;
  }
  return entries;
}

/** What the CLI's help must say each default is, from the plans (null: a rule, not a plan value). */
function expectedHelpDefaults(): Record<string, string | null> {
  const both = (value: (p: ExperimentPlan) => unknown) => {
    const [full, quick] = [String(value(defaultPlan())), String(value(quickPlan()))];
    return full === quick ? full : `${full}; ${quick} with --quick`;
  };
  return {
    '--dataset': `"${PLAN_DEFAULTS.dataset}"`,
    '--device': `"${RUN_DEFAULTS.device}"`,
    '--seed': String(PLAN_DEFAULTS.seed),
    '--classifiers': DEMO_CLASSIFIERS.join(','),
    '--epochs': both((p) => `${p.classifierTraining.epochs}${Object.entries(p.classifierTraining.epochsFor).map(([m, e]) => `, ${e} for ${m}`).join('')}`),
    '--pretrain-epochs': both((p) => p.ae.epochs),
    '--pretrain-steps': both((p) => p.ae.minSteps),
    '--finetune-steps': both((p) => p.finetune.steps),
    // Not plan settings: where a stage command's run goes, and how many jobs run at once.
    '--run-dir': null,
    '--jobs': null,
  };
}

test("the CLI's help states each plan default as the plans have it, and documents no other", () => {
  const expected = expectedHelpDefaults();
  const documented = new Map<string, string>();
  for (const [flag, text] of helpOptions('demo')) {
    const m = /\(default:? (.*?)\)(?: |$)/.exec(text.replace(/choices: .*?, default:/, 'default:'));
    if (m) documented.set(flag, m[1]);
  }
  assert.deepEqual([...documented.keys()].sort(), Object.keys(expected).sort());
  for (const [flag, value] of Object.entries(expected)) if (value !== null) assert.equal(documented.get(flag), value, `demo --help: ${flag}`);
});

/** The leaf fields of the config schema ('ae.pretrain.epochs'), through defaults, optionals and pipes. */
function schemaFields(schema: unknown, prefix = ''): string[] {
  let node = schema as { def: { type: string; innerType?: unknown; in?: unknown; shape?: Record<string, unknown> } };
  while (['default', 'prefault', 'optional', 'nullable', 'pipe'].includes(node.def.type)) node = (node.def.innerType ?? node.def.in) as typeof node;
  if (node.def.type !== 'object') return [prefix];
  return Object.entries(node.def.shape!).flatMap(([k, v]) => schemaFields(v, prefix ? `${prefix}.${k}` : k));
}

/** Each config field's default as the code has it: from a loaded config and its plan, full and quick. */
function codeDefault(field: string, plan: ExperimentPlan, cfg: ExperimentConfig): unknown {
  const values: Record<string, unknown> = {
    dataset: cfg.dataset,
    classifiers: undefined,
    seed: plan.seed,
    device: cfg.device,
    quick: cfg.quick,
    runDir: cfg.runDir,
    'ae.stages': plan.ae.stages,
    'ae.weights': plan.ae.weights,
    'ae.pretrain.epochs': plan.ae.epochs,
    'ae.pretrain.minSteps': plan.ae.minSteps,
    'ae.pretrain.images': plan.imageLengths?.pretrain,
    'ae.pretrain.lr': plan.ae.lr,
    'ae.pretrain.batchSize': plan.ae.batchSize,
    'finetune.epochs': plan.finetune.epochs,
    'finetune.steps': plan.finetune.steps,
    'finetune.images': plan.imageLengths?.finetune,
    'finetune.lr': plan.finetune.lr,
    'finetune.optimizer': plan.finetune.optimizer,
    'finetune.batchSize': plan.finetune.batchSize,
    'finetune.targets': plan.finetune.targets,
    'finetune.trainWholeAe': plan.finetune.trainWholeAe,
    'finetune.untilConverged': plan.finetune.convergence !== null,
    'eval.samples': plan.evalSamples,
    'eval.nmiBins': plan.analysis.nmiBins,
    'eval.bootstrapResamples': plan.analysis.bootstrapResamples,
    'eval.orderEpsilon': plan.analysis.orderEpsilon,
    repeats: plan.repeats,
    repeatAll: plan.repeatAll,
  };
  assert.ok(field in values, `the README documents '${field}', which this test does not know`);
  return values[field] ?? undefined;
}

/** A table cell's value: its first `code` span as JSON when it parses, else as text; '-' is unset. */
function cellValue(cell: string): unknown {
  const code = /`([^`]*)`/.exec(cell)?.[1];
  if (code === undefined || code === '-') return undefined;
  try {
    return JSON.parse(code);
  } catch {
    return code;
  }
}

/** The rows of the README's configuration table: field, default cell, quick cell. */
function readmeRows(): { field: string; full: string; quick: string }[] {
  const text = readFileSync(readme, 'utf8');
  const section = text.slice(text.indexOf('### Configuration fields and defaults'));
  const table = section.slice(section.indexOf('| field |'), section.indexOf('\n\n', section.indexOf('| field |')));
  return table
    .split('\n')
    .slice(2)
    .map((row) => row.split('|').slice(1, -1).map((c) => c.trim()))
    .map(([field, , full, quick]) => ({ field: field.replace(/`/g, ''), full, quick }));
}

test("the README's configuration table lists every config field with the default the code gives it", () => {
  const rows = readmeRows();
  assert.deepEqual(rows.map((r) => r.field).sort(), schemaFields(ExperimentConfig).sort());
  const fullCfg = loadConfig({ classifiers: ['lenet5'] });
  const quickCfg = loadConfig({ classifiers: ['lenet5'], quick: true });
  const [full, quick] = [planFromConfig(fullCfg, 'cpu'), planFromConfig(quickCfg, 'cpu')];
  for (const row of rows) {
    const value = codeDefault(row.field, full, fullCfg);
    assert.deepEqual(cellValue(row.full), value, `README, ${row.field}: default`);
    if (row.field === 'quick') continue;
    // An empty quick cell: quick keeps the default.
    assert.deepEqual(row.quick === '' ? value : cellValue(row.quick), codeDefault(row.field, quick, quickCfg), `README, ${row.field}: with quick`);
  }
});
