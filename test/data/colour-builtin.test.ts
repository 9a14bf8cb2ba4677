import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tidy } from '../../src/engine/index.js';
import { BUILTIN_INFO, EMOJI_CATEGORIES, PLANTED_TEST, PLANTED_TRAIN, classCounts, disposeDataset, loadBuiltinDataset, subsetTruth, type Dataset } from '../../src/data/index.js';
import { compositeOverGrey, listEmoji, splitByEmoji } from '../../src/data/emoji.js';

const cacheDir = mkdtempSync(join(tmpdir(), 's2snets-colour-datasets-'));
test.after(() => rmSync(cacheDir, { recursive: true, force: true }));

/** Per-channel mean and std of a dataset's images. */
function stats(d: Dataset): { mean: number[]; std: number[] } {
  return tidy(() => ({ mean: d.images.mean([0, 2, 3]).toArray(), std: d.images.std([0, 2, 3]).toArray() }));
}

function assertStats(name: keyof typeof BUILTIN_INFO, d: Dataset): void {
  const s = stats(d);
  const info = BUILTIN_INFO[name];
  s.mean.forEach((m, c) => assert.ok(Math.abs(m - info.mean[c]) < 0.005, `${name} mean[${c}] ${m} vs ${info.mean[c]}`));
  s.std.forEach((v, c) => assert.ok(Math.abs(v - info.std[c]) < 0.005, `${name} std[${c}] ${v} vs ${info.std[c]}`));
}

test('emoji: transparency is composited over the grey background (known answers)', () => {
  // Opaque red, transparent green, half-transparent white (alpha 128), over grey 0.5 (127.5):
  // 128/255 * 255 + 127/255 * 127.5 = 191.5, rounded to 192. Output is channel-major.
  const rgba = Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 0, 255, 255, 255, 128]);
  assert.deepEqual([...compositeOverGrey(rgba, 3, 0.5)], [255, 128, 192, 0, 128, 192, 0, 128, 192]);
});

test('emoji: only emoji both vendors draw count, each with its category; components and unknown categories are left out', () => {
  const listed = listEmoji(
    [
      { image: 'a.png', category: 'Flags', has_img_twitter: true, has_img_google: true },
      { image: 'b.png', category: 'Flags', has_img_twitter: true, has_img_google: false },
      { image: 'c.png', category: 'Component', has_img_twitter: true, has_img_google: true },
      { image: 'd.png', category: 'Smileys & Emotion', has_img_twitter: true, has_img_google: true },
    ],
    'emoji.json',
  );
  assert.deepEqual(listed, [
    { image: 'a.png', category: EMOJI_CATEGORIES.indexOf('Flags') },
    { image: 'd.png', category: 0 },
  ]);
});

test('emoji: the split is by emoji: both drawings of an emoji land on the same side, 20 % of each category in test', () => {
  // 2 drawings per emoji; 50 emoji in category 0, 30 in category 3.
  const emoji = Array.from({ length: 160 }, (_, i) => Math.floor(i / 2));
  const labels = emoji.map((e) => (e < 50 ? 0 : 3));
  const { train, test: held } = splitByEmoji(emoji, labels, 7);
  const trainEmoji = new Set(train.map((i) => emoji[i]));
  for (const i of held) assert.ok(!trainEmoji.has(emoji[i]), `emoji ${emoji[i]} on both sides`);
  assert.equal(train.length + held.length, 160);
  assert.equal(held.filter((i) => labels[i] === 0).length, 2 * 10);
  assert.equal(held.filter((i) => labels[i] === 3).length, 2 * 6);
});

test('emoji: 32 px colour images of 9 categories from the npm packages, cached, with the statistics models normalize by', async () => {
  const fresh = await loadBuiltinDataset('emoji', { cacheDir });
  assert.equal(fresh.source, 'package');
  assert.deepEqual(fresh.train.images.shape.slice(1), [3, 32, 32]);
  assert.deepEqual(fresh.train.classNames, [...EMOJI_CATEGORIES]);
  const [nTrain, nTest] = [fresh.train.labels.shape[0], fresh.test.labels.shape[0]];
  assert.equal((nTrain + nTest) % 2, 0, 'two drawings per emoji');
  assert.ok(nTest > 0.18 * (nTrain + nTest) && nTest < 0.22 * (nTrain + nTest));
  assert.ok(classCounts(fresh.test).every((c) => c > 0));
  assertStats('emoji', fresh.train);
  const cached = await loadBuiltinDataset('emoji', { cacheDir });
  assert.equal(cached.source, 'cache');
  assert.equal(tidy(() => cached.test.images.sub(fresh.test.images).abs().max().item()), 0);
  for (const d of [fresh.train, fresh.test, cached.train, cached.test]) disposeDataset(d);
});

test('planted built-ins: generated, balanced, the test images with their truth, the stated statistics', async () => {
  for (const name of ['planted-shape', 'planted-colour'] as const) {
    const d = await loadBuiltinDataset(name);
    assert.equal(d.source, 'generated');
    assert.equal(d.train.labels.shape[0], PLANTED_TRAIN);
    assert.equal(d.test.labels.shape[0], PLANTED_TEST);
    const truth = d.testTruth!;
    assert.equal(truth.carrier, name === 'planted-shape' ? 'shape' : 'colour');
    // The labels are the carrier's truth.
    assert.deepEqual(d.test.labels.toArray(), truth.carrier === 'shape' ? truth.shapes : truth.colours);
    assertStats(name, d.train);
    const sub = subsetTruth(truth, [5, 2]);
    assert.deepEqual(sub.colours, [truth.colours[5], truth.colours[2]]);
    assert.deepEqual([...sub.masks.subarray(0, 1024)], [...truth.masks.subarray(5 * 1024, 6 * 1024)]);
    disposeDataset(d.train);
    disposeDataset(d.test);
  }
});
