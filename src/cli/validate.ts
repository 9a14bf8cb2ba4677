// The terminal table of `s2snets validate`: carrier and nuisance retention per autoencoder on
// both planted datasets, and the verdict.
import { textTable } from '../common/text.js';
import { OWN_ACCURACY_SHARE, PROBE_SLACK, type ValidationReport } from '../pipeline/validate.js';

const pct = (x: number | undefined) => (x === undefined ? '-' : (100 * x).toFixed(1));

/**
 * Renders a validation report as text.
 * @param v the report runValidation returned
 * @example process.stdout.write(formatValidation(v));
 */
export function formatValidation(v: ValidationReport): string {
  const table = textTable(
    ['dataset', 'autoencoder', 'orig acc %', 'own acc %', 'carrier kept', 'on A_S', 'nuisance: shape IoU', 'nuisance: colour kept %', 'nuisance: ΔE', 'verdict'],
    v.rows.map((r) => [
      r.dataset,
      r.autoencoder,
      pct(r.accuracy?.original),
      pct(r.accuracy?.own),
      r.carrier === 'colour' ? `${pct(r.carrierProbe)} %` : r.carrierProbe.toFixed(3),
      r.carrier === 'colour' ? `${pct(r.carrierProbeAS)} %` : r.carrierProbeAS.toFixed(3),
      r.nuisance.maskIou === undefined ? '-' : r.nuisance.maskIou.toFixed(3),
      pct(r.nuisance.paletteAgreement),
      r.nuisance.meanDeltaE === undefined ? '-' : r.nuisance.meanDeltaE.toFixed(1),
      r.pass === null ? '(baseline)' : r.pass ? 'ok' : `FAIL: ${r.failures.join('; ')}`,
    ]),
  );
  const rule =
    `Verdict rule: every S2S autoencoder keeps its carrier: its classifier reaches at least ${100 * OWN_ACCURACY_SHARE} % of its original accuracy on its reconstructions, ` +
    `and the carrier probe (colour: nearest-palette agreement; shape: mask IoU) is at least A_S's minus ${PROBE_SLACK.colour} (colour) or ${PROBE_SLACK.shape} (shape IoU). Nuisance drift is reported without a verdict.`;
  return [table, '', rule, '', v.passed ? 'VERDICT: PASS: every S2S autoencoder keeps its carrier.' : 'VERDICT: FAIL (see the rows above).', `Runs: ${v.runDirs.join(', ')}`].join('\n');
}
