// The validation verdict from results: which S2S autoencoders keep their carrier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { carrierChange, plantedRetention, type PlantedRetentionEach } from '../../src/analysis/index.js';
import { validationRows, rowAsRequired, OWN_ACCURACY_SHARE, ValidationError } from '../../src/commands/validate.js';
import { sampleResults } from '../report/sample.js';
import { plantedRows } from '../../src/report/index.js';

const IMAGES = 200;

/** Per-image retention where the first `kept` images keep the carrier and every image keeps the nuisance. */
function retentionEach(carrier: 'shape' | 'colour', kept: number): PlantedRetentionEach {
  const carried = Uint8Array.from({ length: IMAGES }, (_, i) => (i < kept ? 1 : 0));
  const all = new Uint8Array(IMAGES).fill(1);
  return {
    paletteAgreement: carrier === 'colour' ? carried : all,
    shapeAgreement: carrier === 'shape' ? carried : all,
    deltaE: new Float64Array(IMAGES).fill(5),
    maskIou: new Float64Array(IMAGES).fill(0.5),
  };
}

/**
 * Results of A_S, S2S-alexnet and S2S-vgg-bn whose reconstructions keep the carrier in `kept` of
 * 200 images each, and of a grey and a blurred control that keep it in `controlKept` each (the
 * one that drops the other property keeps the carrier wholly). The classifiers score 1 on the
 * originals, `own` on their S2S reconstructions and `generic` on A_S's.
 */
function plantedResults(carrier: 'shape' | 'colour', own: number[], kept: number[], controlKept = IMAGES / 4, generic = [0.5, 0.5]) {
  const r = sampleResults({ names: ['alexnet', 'vgg-bn'] });
  r.classifiers.forEach((c, j) => {
    c.accuracy.original.top1 = 1;
    c.accuracy.own.top1 = own[j];
    c.accuracy.generic.top1 = generic[j];
  });
  const each = kept.map((k) => retentionEach(carrier, k));
  r.planted = {
    carrier,
    originals: plantedRetention(retentionEach(carrier, IMAGES)),
    autoencoders: ['A_S', 'S2S-alexnet', 'S2S-vgg-bn'].map((name, i) => ({ name, ...plantedRetention(each[i]), carrierChange: i === 0 ? null : carrierChange(carrier, each[0], each[i]) })),
    controls: (['colour', 'shape'] as const).map((drops) => {
      const control = retentionEach(carrier, drops === carrier ? controlKept : IMAGES);
      return { name: `control: drops ${drops}`, drops, ...plantedRetention(control), carrierChange: carrierChange(carrier, each[0], control) };
    }),
  };
  return r;
}

test('validate: an S2S AE passes when its classifier keeps 95 % of its accuracy and it keeps the carrier as A_S does, up to chance', () => {
  // S2S-vgg-bn loses the carrier of one image A_S kept: the paired interval still reaches 0.
  const rows = validationRows('planted-colour', plantedResults('colour', [1, OWN_ACCURACY_SHARE], [IMAGES - 1, IMAGES, IMAGES - 2]));
  // The control that drops colour is judged and fails; the one that drops the nuisance is left out.
  assert.deepEqual(rows.map((r) => [r.autoencoder, r.role, r.pass]), [
    ['A_S', 'baseline', null],
    ['S2S-alexnet', 'S2S', true],
    ['S2S-vgg-bn', 'S2S', true],
    ['control: drops colour', 'control', false],
  ]);
  assert.deepEqual(rows[3].failures, ['colour kept less than on A_S']);
  assert.deepEqual(rows[2].accuracy, { original: 1, own: OWN_ACCURACY_SHARE, onAS: 0.5 });
  assert.ok(rows.every(rowAsRequired));
  assert.equal(rows[0].autoencoder, 'A_S');
  assert.equal(rows[0].carrierChange, null);
  assert.equal(rows[1].carrierKeptAS, (IMAGES - 1) / IMAGES);
  assert.equal(rows[2].carrierChange!.ci95[1], 0);
  assert.deepEqual(rows[1].nuisance, { shapeKept: 1, maskIou: 0.5 });
});

test('validate: low own accuracy or a carrier clearly kept worse than on A_S fails, naming the rule', () => {
  // S2S-vgg-bn loses the shape of 6 of 200 images that A_S kept: every resample shows a loss.
  const rows = validationRows('planted-shape', plantedResults('shape', [0.9, 1], [IMAGES, IMAGES, IMAGES - 6]));
  assert.equal(rows[1].pass, false);
  assert.deepEqual(rows[1].failures, [`own accuracy below ${100 * OWN_ACCURACY_SHARE} % of the original`]);
  assert.equal(rows[2].pass, false);
  assert.ok(rows[2].carrierChange!.ci95[1] < 0);
  assert.deepEqual(rows[2].failures, ['shape kept less than on A_S']);
  assert.deepEqual(rows[2].nuisance, { colourKept: 1, meanDeltaE: 5 });
});

test('validate: a control that keeps the carrier as A_S does makes the verdict fail, as does a failing S2S autoencoder', () => {
  const passing = validationRows('planted-shape', plantedResults('shape', [1, 1], [IMAGES - 20, IMAGES - 20, IMAGES - 20]));
  assert.ok(passing.every(rowAsRequired));
  // A blur that leaves the shape as A_S left it: the rules could not tell a broken method.
  const blind = validationRows('planted-shape', plantedResults('shape', [1, 1], [IMAGES - 20, IMAGES - 20, IMAGES - 20], IMAGES - 20));
  assert.deepEqual(blind.filter((r) => !rowAsRequired(r)).map((r) => [r.autoencoder, r.pass]), [['control: drops shape', true]]);
  const broken = validationRows('planted-shape', plantedResults('shape', [1, 0.5], [IMAGES - 20, IMAGES - 20, IMAGES - 20]));
  assert.deepEqual(broken.filter((r) => !rowAsRequired(r)).map((r) => r.autoencoder), ['S2S-vgg-bn']);
});

test('validate: results without planted measures are refused', () => {
  assert.throws(() => validationRows('planted-shape', sampleResults()), (e: unknown) => e instanceof ValidationError && e.code === 'S2SNETS_VALIDATION_NOT_PLANTED' && /no planted-signal measures/.test(e.message));
});

test('the planted table of the report lists the controls after the autoencoders, with their carrier change', () => {
  const r = plantedResults('colour', [1, 1], [IMAGES, IMAGES, IMAGES]);
  const table = plantedRows(r)!;
  assert.deepEqual(table.rows.map((row) => row[0]), ['originals', 'A_S', 'S2S-alexnet', 'S2S-vgg-bn', 'control: drops colour', 'control: drops shape']);
  // The colour control keeps 50 of 200 colours: 75 points fewer than A_S.
  assert.match(table.rows[4].at(-1)!, /^-75\.0 /);
});
