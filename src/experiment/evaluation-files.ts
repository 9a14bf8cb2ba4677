// The files of an evaluation artifact and the per-image predictions among them, readable
// without the compute engine (the viewer's server reads them).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../scheduler/job-graph.js';
import { S2SNetsError } from '../common/errors.js';

/** A run's stored evaluation is missing, damaged or from an older layout: the message says what to rerun. */
export class ReportSourceError extends S2SNetsError {
  override name = 'ReportSourceError';
  static override readonly codes = ['S2SNETS_REPORT_SOURCE'] as const;
  static override readonly legacyCodes = { S2S_REPORT_SOURCE: 'S2SNETS_REPORT_SOURCE' };
}

export interface EvaluationOutput {
  [k: string]: Json;
  evaluation: string;
  pictures: string;
  predictions: string;
}

/** The files of an evaluation artifact, by role. */
export const EVALUATION_FILES: EvaluationOutput = { evaluation: 'evaluation.json', pictures: 'pictures.json', predictions: 'predictions.json' };

/** The row of predictions.json that holds each classifier on the original images. */
export const ORIGINAL_ROW = 'original';

/**
 * predictions.json: what each classifier said about each evaluation image, the data every
 * accuracy (and its interval) is counted from. rows[row][classifier] with row 'original' or an
 * autoencoder's name (A_S, S2S-<classifier>); images in the order of `labels`.
 */
export interface StoredPredictions {
  labels: number[];
  rows: Record<string, Record<string, { top1: number[]; top5Hit: (0 | 1)[] | null }>>;
  /** What each classifier said under each noise level (null when the noise test did not run): the basis of results.noise. */
  noise: StoredNoisePredictions | null;
}

/**
 * The noise test's per-image predictions: `images` are the indices (into `labels`) of the subset
 * it ran on; per classifier, noisy[k][i] is its predicted class for image images[i] with pixel
 * noise of sigmas[k], own[k][i] the same on its own S2SNet's reconstruction of that noisy image.
 */
export interface StoredNoisePredictions {
  sigmas: number[];
  images: number[];
  classifiers: Record<string, { noisy: number[][]; own: number[][] }>;
}

/**
 * The per-image predictions of a finished evaluation artifact.
 *
 * @param dir The evaluation job's artifact directory.
 * @param out The job's output (its file names); EVALUATION_FILES for the current layout.
 * @returns predictions.json, parsed.
 * @throws ReportSourceError when the artifact predates per-image predictions (rerun the evaluation).
 * @example
 * const p = readPredictions(artifactDir(runDir, key), EVALUATION_FILES);
 * const lenetOnOwn = p.rows['S2S-lenet5'].lenet5.top1; // predicted class per image
 */
export function readPredictions(dir: string, out: Pick<EvaluationOutput, 'predictions'>): StoredPredictions {
  const path = join(dir, out.predictions ?? EVALUATION_FILES.predictions);
  if (!existsSync(path)) throw new ReportSourceError(`${path}: not found; this evaluation was made before per-image predictions were stored; rerun the evaluation (s2snets evaluate) to create it`);
  return JSON.parse(readFileSync(path, 'utf8')) as StoredPredictions;
}
