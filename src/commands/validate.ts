// `s2snets validate`: runs the whole method on both planted datasets (data/planted.ts), where
// the signal each classifier must use is known, and checks that S2SNets recovers it. Verdict:
// every S2S autoencoder keeps its carrier, i.e.
//   (1) its classifier reaches at least OWN_ACCURACY_SHARE of its original accuracy on the
//       S2S reconstructions, and
//   (2) the carrier probe (analysis/planted-retention.ts; colour: nearest palette colour, shape: nearest
//       redrawn shape, both classifier-independent) is not worse on the S2S reconstructions than
//       on A_S's: the paired 95 % interval of the difference in kept share must reach 0.
// How far the nuisance (the other property) drifted is reported without a verdict: the method
// allows a decoder to drop what its classifier ignores, and does not require it.
// Negative controls show that the rules can fail: reconstructions that drop the carrier (A_S's
// made grey on the colour set, blurred on the shape set; analysis/planted-retention.ts PLANTED_CONTROLS,
// and a decoder fine-tuned to permuted labels) are judged by the carrier rule too, and
// validation passes only when every control fails it. Each S2S row also shows its classifier's
// accuracy on A_S's reconstructions: where that already meets the accuracy rule, a method that
// leaves the decoder as it was would meet it too.
// `brokenMethod` validates a deliberately broken method in place of S2SNets (its verdict must be
import { join } from 'node:path';
import type { Interval, PlantedRetention } from '../analysis/index.js';
import type { Results } from '../report/index.js';
import { validationPlan, type ExperimentPlan } from '../experiment/plan.js';
import { runExperiment, type ExperimentOptions, type ProgressSink } from './run.js';
import { S2SNetsError } from '../common/errors.js';

/** Share of its original accuracy a classifier must keep on its own S2S reconstructions. */
export const OWN_ACCURACY_SHARE = 0.95;

/** Results that cannot be validated (not from a planted dataset). */
export class ValidationError extends S2SNetsError {
  override name = 'ValidationError';
  static override readonly codes = ['S2SNETS_VALIDATION_NOT_PLANTED'] as const;
}

export const VALIDATION_DATASETS = ['planted-colour', 'planted-shape'] as const;

/** Broken methods `validate` can run in place of S2SNets, to see it fail, and what each breaks. */
export const BROKEN_METHODS = { 'stopped-gradient': "the classifier's gradient stops before the decoder, which stays A_S's" } as const;
export type BrokenMethod = keyof typeof BROKEN_METHODS;

export interface ValidationRow {
  dataset: (typeof VALIDATION_DATASETS)[number];
  carrier: 'shape' | 'colour';
  autoencoder: string;
  /** The generic A_S (no verdict), an S2S autoencoder (must pass), or a negative control (must fail). */
  role: 'baseline' | 'S2S' | 'control';
  /** Own classifier's accuracy on the originals, on these reconstructions and on A_S's (null for A_S and the controls). */
  accuracy: { original: number; own: number; onAS: number } | null;
  /** Share of images whose carrier the probe still names right, on these reconstructions and on A_S's. */
  carrierKept: { value: number; ci95: Interval };
  carrierKeptAS: number;
  /** These reconstructions' kept share minus A_S's, paired over the images (null for A_S). */
  carrierChange: { value: number; ci95: Interval } | null;
  /** Nuisance kept: shape when colour carries the class, colour (and its drift ΔE) when shape does. */
  nuisance: { shapeKept?: number; maskIou?: number; colourKept?: number; meanDeltaE?: number };
  /** null for A_S (no verdict); else whether the rules hold (a control has only the carrier rule), and which failed. */
  pass: boolean | null;
  failures: string[];
}

/**
 * Whether a row is as validation requires: an S2S autoencoder passes its rules, a negative
 * control fails them (the baseline has no verdict).
 * @param row a validation row
 * @example rows.every(rowAsRequired) // the verdict of `s2snets validate`
 */
export function rowAsRequired(row: ValidationRow): boolean {
  return row.role === 'control' ? row.pass === false : row.pass !== false;
}

export interface ValidationReport {
  rows: ValidationRow[];
  passed: boolean;
  runDirs: string[];
  /** The broken method validated in place of S2SNets, if one was asked for. */
  brokenMethod?: BrokenMethod;
}

export interface ValidationOptions {
  runDir: string;
  /** The smaller plans (validationPlan). */
  quick: boolean;
  device: string;
  seed: number;
  /** Validate this broken method instead of S2SNets (a negative control of the validation itself). */
  brokenMethod?: BrokenMethod;
  /** Where the jobs run (local job processes or Redis workers), as for any run. */
  execution?: Pick<ExperimentOptions, 'jobs' | 'redis'>;
}

/**
 * The plan `validate` runs on one planted dataset: validationPlan, on the device and seed asked
 * for, with the broken method's fine-tunes when one is asked for.
 * @param dataset the planted dataset
 * @param opts quick, device, seed, brokenMethod
 * @example validatePlan('planted-colour', { quick: true, device: 'cpu', seed: 0 }).finetune.stopGradient // undefined
 */
export function validatePlan(dataset: ValidationRow['dataset'], opts: Pick<ValidationOptions, 'quick' | 'device' | 'seed' | 'brokenMethod'>): ExperimentPlan {
  const plan = validationPlan(dataset, opts.quick);
  const finetune = opts.brokenMethod === 'stopped-gradient' ? { ...plan.finetune, stopGradient: true } : plan.finetune;
  return { ...plan, finetune, device: opts.device, seed: opts.seed };
}

/**
 * The validation rows of one planted run's results (see the top of this file).
 * @param dataset which planted dataset the results are of
 * @param r its results (with `planted` filled in)
 * @throws ValidationError when the results carry no planted measures
 * @example validationRows('planted-colour', results).every((row) => row.pass !== false)
 */
export function validationRows(dataset: ValidationRow['dataset'], r: Results): ValidationRow[] {
  const planted = r.planted;
  if (!planted) throw new ValidationError(`${dataset}: the results have no planted-signal measures (was the run on a planted dataset?)`);
  const key = planted.carrier === 'colour' ? 'paletteAgreement' : 'shapeAgreement';
  const generic = planted.autoencoders[0];
  const carrierRule = (change: { ci95: Interval } | null) => (change && change.ci95[1] < 0 ? [`${planted.carrier} kept less than on A_S`] : []);
  const nuisanceOf = (ae: PlantedRetention) => (planted.carrier === 'colour' ? { shapeKept: ae.shapeAgreement, maskIou: ae.maskIou } : { colourKept: ae.paletteAgreement, meanDeltaE: ae.meanDeltaE });
  const autoencoders = planted.autoencoders.map((ae, i): ValidationRow => {
    const classifier = i === 0 ? null : r.classifiers[i - 1];
    const accuracy = classifier && { original: classifier.accuracy.original.top1, own: classifier.accuracy.own.top1, onAS: classifier.accuracy.generic.top1 };
    const change = ae.carrierChange;
    const failures: string[] = [];
    if (accuracy && accuracy.own < OWN_ACCURACY_SHARE * accuracy.original) failures.push(`own accuracy below ${100 * OWN_ACCURACY_SHARE} % of the original`);
    failures.push(...carrierRule(change));
    return {
      dataset,
      carrier: planted.carrier,
      autoencoder: ae.name,
      role: i === 0 ? 'baseline' : 'S2S',
      accuracy,
      carrierKept: { value: ae[key], ci95: ae.ci95[key] },
      carrierKeptAS: generic[key],
      carrierChange: change,
      nuisance: nuisanceOf(ae),
      pass: accuracy ? failures.length === 0 : null,
      failures,
    };
  });
  // Only the controls that drop this set's carrier must fail; dropping the nuisance is allowed.
  const controls = planted.controls
    .filter((c) => c.drops === planted.carrier)
    .map((c): ValidationRow => {
      const failures = carrierRule(c.carrierChange);
      return { dataset, carrier: planted.carrier, autoencoder: c.name, role: 'control', accuracy: null, carrierKept: { value: c[key], ci95: c.ci95[key] }, carrierKeptAS: generic[key], carrierChange: c.carrierChange, nuisance: nuisanceOf(c), pass: failures.length === 0, failures };
    });
  return [...autoencoders, ...controls];
}
/**
 * Runs both planted experiments in `<runDir>/<dataset>` (reusing finished jobs: a broken method
 * reuses the classifiers and A_S of the real one) and returns the validation table and verdict.
 * @param opts see ValidationOptions
 * @param progress where job progress goes
 * @throws the run's errors (interrupted, bad inputs, ...)
 * @example const v = await runValidation({ runDir: 'runs/validate', quick: true, device: 'cpu', seed: 0 }, progress); v.passed
 */
export async function runValidation(opts: ValidationOptions, progress: ProgressSink): Promise<ValidationReport> {
  const rows: ValidationRow[] = [];
  const runDirs: string[] = [];
  for (const dataset of VALIDATION_DATASETS) {
    const plan = validatePlan(dataset, opts);
    const dir = join(opts.runDir, dataset);
    const broken = opts.brokenMethod ? `, broken method: ${opts.brokenMethod}` : '';
    progress.log(`validate: ${dataset} (${plan.classifiers.map((c) => c.name).join(', ')}${broken})`);
    const { results } = await runExperiment(plan, dir, 'report', progress, opts.execution);
    rows.push(...validationRows(dataset, results!));
    runDirs.push(dir);
  }
  return { rows, passed: rows.every(rowAsRequired), runDirs, ...(opts.brokenMethod ? { brokenMethod: opts.brokenMethod } : {}) };
}
