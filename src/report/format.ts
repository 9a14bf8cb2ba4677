// How the report, the CSVs and the terminal summary write estimates: a value with its 95 %
// interval as `97.7 [97.1, 98.2]`, and the tests of the paper's claims as a sentence.
import type { ClassifierResult, Interval, KendallResult } from './schema.js';

/**
 * A value and its interval, scaled (100 for percent) and rounded alike.
 *
 * @param value The point estimate.
 * @param ci95 Its interval, or null/undefined for none.
 * @param scale Multiplies both (default 1).
 * @param digits Decimals (default 1).
 * @example
 * withInterval(0.977, [0.971, 0.982], 100); // '97.7 [97.1, 98.2]'
 */
export function withInterval(value: number | null, ci95: Interval | null | undefined, scale = 1, digits = 1): string {
  if (value === null) return '-';
  const f = (x: number) => (scale * x).toFixed(digits);
  return ci95 ? `${f(value)} [${f(ci95[0])}, ${f(ci95[1])}]` : f(value);
}

/**
 * What a classifier saw, in one line: its input size, how the data's images were resized to it,
 * and its normalization.
 *
 * @param input The classifier's `input` in results.json.
 * @param imageSize The data's side in px.
 * @param normalization Whether to state the mean and std too (default true; the terminal summary leaves them to the report).
 * @example
 * seenInputText({ height: 299, width: 299, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'bilinear', antialias: false }, 96);
 * // '299x299 (bilinear from 96x96), mean 0.485/0.456/0.406, std 0.229/0.224/0.225'
 */
export function seenInputText(input: ClassifierResult['input'], imageSize: number, normalization = true): string {
  const how = input.resize ? ` (${input.resize}${input.antialias ? ', antialiased' : ''} from ${imageSize}x${imageSize})` : ' (the data\'s size)';
  const values = (v: number[]) => v.map((x) => Number(x.toFixed(4))).join('/');
  return `${input.height}x${input.width}${how}${normalization ? `, mean ${values(input.mean)}, std ${values(input.std)}` : ''}`;
}

/** A share as a percentage, one decimal. */
export const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** What the claims section says of a run with a single classifier. */
export const NO_CLAIMS = 'not tested: a single classifier has no order to compare';

/**
 * One sentence on whether the order follows a criterion (accuracy, size), from Kendall's tau and
 * its permutation p-value at the 5 % level.
 *
 * @param criterion What the order was compared with, e.g. 'accuracy'.
 * @param k The test's result.
 * @example
 * claimSentence('accuracy', { tau: 0.2, p: 0.72, method: 'exact', permutations: 120, n: 5 });
 * // 'no evidence that the order follows accuracy (tau = 0.20, p = 0.72, exact over 120 permutations)'
 */
export function claimSentence(criterion: string, k: KendallResult): string {
  if (k.tau === null || k.p === null) return `the order cannot be compared with ${criterion}: every classifier has the same ${criterion}`;
  const how = k.method === 'exact' ? `exact over ${k.permutations} permutations` : `Monte Carlo, ${k.permutations} permutations`;
  const stats = `(tau = ${k.tau.toFixed(2)}, p = ${k.p.toFixed(k.p < 0.01 ? 3 : 2)}, ${how})`;
  const floor = k.method === 'exact' ? 2 / k.permutations : 0;
  if (k.p >= 0.05) {
    const power = floor >= 0.05 ? `; with ${k.n} classifiers no ordering could reach p < 0.05` : '';
    return `no evidence that the order follows ${criterion} ${stats}${power}`;
  }
  return `the order ${k.tau > 0 ? 'follows' : 'runs against'} ${criterion} ${stats}`;
}
