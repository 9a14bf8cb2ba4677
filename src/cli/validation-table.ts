// The terminal table of `s2snets validate`: carrier and nuisance retention per autoencoder on
// both planted datasets, and the verdict.
import { textTable } from '../common/text.js';
import { withInterval } from '../report/index.js';
import { BROKEN_METHODS, OWN_ACCURACY_SHARE, type ValidationReport, type ValidationRow } from '../commands/validate.js';

const pct = (x: number | undefined) => (x === undefined ? '-' : (100 * x).toFixed(1));

/** The verdict cell: the baseline has none; a control must fail, an S2S autoencoder must pass. */
function verdict(r: ValidationRow): string {
  if (r.role === 'baseline') return '(baseline)';
  if (r.role === 'control') return r.pass ? 'FAIL: control passed, the rules cannot tell' : `ok: control fails (${r.failures.join('; ')})`;
  return r.pass ? 'ok' : `FAIL: ${r.failures.join('; ')}`;
}

/**
 * Renders a validation report as text.
 * @param v the report runValidation returned
 * @example process.stdout.write(formatValidation(v));
 */
export function formatValidation(v: ValidationReport): string {
  const table = textTable(
    ['dataset', 'autoencoder', 'orig acc %', 'own acc %', 'acc on A_S %', 'carrier kept %', 'on A_S %', 'vs A_S, points', 'nuisance: shape kept %', 'shape IoU', 'colour kept %', 'colour ΔE', 'verdict'],
    v.rows.map((r) => [
      r.dataset,
      r.autoencoder,
      pct(r.accuracy?.original),
      pct(r.accuracy?.own),
      pct(r.accuracy?.onAS),
      withInterval(r.carrierKept.value, r.carrierKept.ci95, 100),
      pct(r.carrierKeptAS),
      r.carrierChange ? withInterval(r.carrierChange.value, r.carrierChange.ci95, 100) : '-',
      pct(r.nuisance.shapeKept),
      r.nuisance.maskIou === undefined ? '-' : r.nuisance.maskIou.toFixed(3),
      pct(r.nuisance.colourKept),
      r.nuisance.meanDeltaE === undefined ? '-' : r.nuisance.meanDeltaE.toFixed(1),
      verdict(r),
    ]),
  );
  const rule =
    `Verdict rule: every S2S autoencoder keeps its carrier: its classifier reaches at least ${100 * OWN_ACCURACY_SHARE} % of its original accuracy on its reconstructions, ` +
    'and it keeps the carrier (colour: the shape\'s mean colour is still nearest to the planted palette colour; shape: the shape cut out of the reconstruction is still best matched by the planted shape) ' +
    'no worse than A_S: the 95 % paired interval of the difference reaches 0. Nuisance drift is reported without a verdict. ' +
    'Negative controls drop the carrier and must fail that rule: A_S\'s reconstructions made grey (colour set) or blurred (shape set), and a decoder fine-tuned to labels shifted to the next class. ' +
    '"acc on A_S": the classifier on A_S\'s reconstructions; where it meets the accuracy rule, so would a decoder left as it was.';
  const broken = v.brokenMethod ? [`Broken method validated in place of S2SNets: ${v.brokenMethod} (${BROKEN_METHODS[v.brokenMethod]}); its verdict must be FAIL.`, ''] : [];
  return [table, '', rule, '', ...broken, v.passed ? 'VERDICT: PASS: every S2S autoencoder keeps its carrier and every negative control fails.' : 'VERDICT: FAIL (see the rows above).', `Runs: ${v.runDirs.join(', ')}`].join('\n');
}
