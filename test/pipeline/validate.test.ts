// The validation verdict from results: which S2S autoencoders keep their carrier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validationRows, OWN_ACCURACY_SHARE, PROBE_SLACK, ValidationError } from '../../src/pipeline/validate.js';
import { sampleResults } from '../report/sample.js';

function plantedResults(carrier: 'shape' | 'colour', own: number[], probes: number[]) {
  const r = sampleResults({ names: ['alexnet', 'vgg-bn'] });
  r.classifiers.forEach((c, j) => {
    c.accuracy.original.top1 = 1;
    c.accuracy.own.top1 = own[j];
  });
  const retention = (probe: number) => (carrier === 'colour' ? { paletteAgreement: probe, meanDeltaE: 5, maskIou: 0.8 } : { paletteAgreement: 0.5, meanDeltaE: 20, maskIou: probe });
  r.planted = {
    carrier,
    originals: { paletteAgreement: 1, meanDeltaE: 0, maskIou: 0.99 },
    autoencoders: ['A_S', 'S2S-alexnet', 'S2S-vgg-bn'].map((name, i) => ({ name, ...retention(probes[i]) })),
  };
  return r;
}

test('validate: an S2S AE passes when its classifier keeps 95 % of its accuracy and the carrier probe matches A_S within the slack', () => {
  const rows = validationRows('planted-colour', plantedResults('colour', [1, OWN_ACCURACY_SHARE], [0.9, 0.95, 0.9 - PROBE_SLACK.colour]));
  assert.deepEqual(rows.map((r) => r.pass), [null, true, true]);
  assert.equal(rows[0].autoencoder, 'A_S');
  assert.equal(rows[1].carrierProbeAS, 0.9);
  assert.deepEqual(rows[1].nuisance, { maskIou: 0.8 });
});

test('validate: low own accuracy or a carrier kept worse than on A_S fails, naming the rule', () => {
  const rows = validationRows('planted-shape', plantedResults('shape', [0.9, 1], [0.8, 0.85, 0.8 - PROBE_SLACK.shape - 0.001]));
  assert.equal(rows[1].pass, false);
  assert.deepEqual(rows[1].failures, [`own accuracy below ${100 * OWN_ACCURACY_SHARE} % of the original`]);
  assert.equal(rows[2].pass, false);
  assert.deepEqual(rows[2].failures, ['shape kept less than on A_S']);
  assert.deepEqual(rows[2].nuisance, { paletteAgreement: 0.5, meanDeltaE: 20 });
});

test('validate: results without planted measures are refused', () => {
  assert.throws(() => validationRows('planted-shape', sampleResults()), (e: unknown) => e instanceof ValidationError && e.code === 'S2SNETS_VALIDATION_NOT_PLANTED' && /no planted-signal measures/.test(e.message));
});
