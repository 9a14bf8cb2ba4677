// How the report, the CSVs and the terminal summary write estimates: a value with its 95 %
// interval as `97.7 [97.1, 98.2]`, and the tests of the paper's claims as a sentence.
import type { ClaimResults, ClassifierResult, Interval, KendallResult } from './schema.js';

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

const pValue = (p: number) => p.toFixed(p < 0.01 ? 3 : 2);
const how = (k: KendallResult) => (k.method === 'exact' ? `exact over ${k.permutations} permutations` : `Monte Carlo, ${k.permutations} permutations`);

/** Why no ordering of k.n classifiers could reach p < 0.05, or '' when one could. */
function powerNote(k: KendallResult): string {
  const floor = k.method === 'exact' ? 2 / k.permutations : 0;
  return floor >= 0.05 ? `; with ${k.n} classifiers no ordering could reach p < 0.05` : '';
}

/**
 * One sentence on whether the order follows a criterion (accuracy, size), from Kendall's tau and
 * its permutation p-value at the 5 % level. A total order has one ranking and one tau; otherwise
 * the sentence gives tau's range over the rankings consistent with the established relations and
 * what holds for every one of them, or that the data cannot decide.
 *
 * @param criterion What the order was compared with, e.g. 'accuracy'.
 * @param claim The claim's test (claims.orderVsAccuracy or claims.orderVsSize).
 * @param claims The claims it belongs to (basis and rankings tested).
 * @example
 * claimSentence('accuracy', r.claims.orderVsAccuracy, r.claims);
 * // total: 'no evidence that the order follows accuracy (tau = 0.20, p = 0.72, exact over 120 permutations)'
 * // partial: 'the data cannot decide whether the order follows accuracy: over the 20 rankings consistent with
 * //   the 3 established relations, tau runs from -0.95 (p = 0.033: runs against it) to 0.11 (p = 1.00: no evidence)'
 */
export function claimSentence(criterion: string, claim: ClaimResults['orderVsAccuracy'], claims: Pick<ClaimResults, 'basis' | 'rankings' | 'enumerated' | 'relations'>): string {
  const [low, high] = [claim.low.test, claim.high.test];
  if (claim.conclusion === 'not-comparable' || low.tau === null || low.p === null || high.tau === null || high.p === null) {
    return `the order cannot be compared with ${criterion}: every classifier has the same ${criterion}`;
  }
  if (claims.basis === 'total') {
    const stats = `(tau = ${low.tau.toFixed(2)}, p = ${pValue(low.p)}, ${how(low)})`;
    if (claim.conclusion === 'no-evidence') return `no evidence that the order follows ${criterion} ${stats}${powerNote(low)}`;
    return `the order ${claim.conclusion === 'follows' ? 'follows' : 'runs against'} ${criterion} ${stats}`;
  }
  const relations = `the ${claims.relations} established relation${claims.relations === 1 ? '' : 's'}`;
  const rankings = claims.enumerated ? `the ${claims.rankings} ranking${claims.rankings === 1 ? '' : 's'}` : `${claims.rankings} sampled rankings`;
  const scope = `${rankings} consistent with ${relations}${claims.enumerated ? '' : ' (a sample: the range may be wider)'}`;
  const [every, any] = claims.rankings === 1 ? ['', ''] : ['every one of ', 'any of '];
  const verdict = (k: { tau: number; p: number }) => (k.p >= 0.05 ? 'no evidence' : k.tau > 0 ? `follows ${criterion}` : `runs against ${criterion}`);
  const end = (k: { tau: number; p: number }) => `${k.tau.toFixed(2)} (p = ${pValue(k.p)}: ${verdict(k)})`;
  const range = `tau runs from ${end({ tau: low.tau, p: low.p })} to ${end({ tau: high.tau, p: high.p })}, ${how(low)}`;
  switch (claim.conclusion) {
    case 'undecided':
      return `the data cannot decide whether the order follows ${criterion}: over ${scope}, ${range}`;
    case 'no-evidence':
      return `no evidence that the order follows ${criterion} in ${any}${scope}: ${range}${powerNote(low)}`;
    default:
      return `the order ${claim.conclusion === 'follows' ? 'follows' : 'runs against'} ${criterion} in ${every}${scope}: ${range}`;
  }
}
