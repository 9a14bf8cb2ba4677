import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colourShift, srgbToLab, AnalysisError, type ImageSet } from '../../src/analysis/index.js';
import { setOf } from './helpers.js';

/** CIELAB (D65) to sRGB in [0, 1]: the inverse of the conversion under test, written out independently. */
function labToSrgb(L: number, a: number, b: number): [number, number, number] {
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const inv = (t: number) => (t ** 3 > 216 / 24389 ? t ** 3 : (116 * t - 16) / (24389 / 27));
  const [x, y, z] = [0.95047 * inv(fx), inv(fy), 1.08883 * inv(fz)];
  const lin = [3.2404542 * x - 1.5371385 * y - 0.4985314 * z, -0.969266 * x + 1.8760108 * y + 0.041556 * z, 0.0556434 * x - 0.2040259 * y + 1.0572252 * z];
  const gamma = (c: number) => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
  return lin.map(gamma) as [number, number, number];
}

/** n images of 8x8 pixels, each pixel a CIELAB colour from lab(i, p). */
function labSet(n: number, lab: (i: number, p: number) => [number, number, number]): ImageSet {
  const rgb = Array.from({ length: n }, (_, i) => Array.from({ length: 64 }, (_, p) => labToSrgb(...lab(i, p))));
  return setOf(n, 3, 8, 8, (i, ch, y, x) => rgb[i][y * 8 + x][ch]);
}

// Moderately saturated colours of every hue and several lightnesses, all inside the sRGB gamut.
const hueOf = (i: number, p: number) => ((i * 64 + p) * 137.5) % 360;
const lightnessOf = (i: number, p: number) => 45 + ((i + p) % 5) * 5;
const polar = (L: number, c: number, hDeg: number): [number, number, number] => [L, c * Math.cos((hDeg * Math.PI) / 180), c * Math.sin((hDeg * Math.PI) / 180)];
const originals = labSet(4, (i, p) => polar(lightnessOf(i, p), 18, hueOf(i, p)));

test('colour shift: the inverse conversion round-trips (the test helper is right)', () => {
  const [r, g, b] = labToSrgb(...polar(50, 18, 40));
  const [L, a, bb] = srgbToLab(r, g, b);
  assert.ok(Math.abs(L - 50) < 1e-3 && Math.abs(a - 18 * Math.cos((40 * Math.PI) / 180)) < 1e-3 && Math.abs(bb - 18 * Math.sin((40 * Math.PI) / 180)) < 1e-3);
});

test('colour shift: identical images have no cast, no rotation, chroma ratio 1', () => {
  const s = colourShift(originals, originals);
  assert.equal(s.castMagnitude, 0);
  assert.equal(s.castAngle, 0);
  assert.equal(s.hueRotation, 0);
  assert.equal(s.chromaRatio, 1);
  assert.equal(s.lightnessShift, 0);
  assert.equal(s.meanDeltaE, 0);
});

test('colour shift: a known a*b* cast is recovered as a vector and an angle', () => {
  const cast = labSet(4, (i, p) => {
    const [L, a, b] = polar(lightnessOf(i, p), 18, hueOf(i, p));
    return [L + 2, a + 6, b - 4];
  });
  const s = colourShift(originals, cast);
  assert.ok(Math.abs(s.castA - 6) < 0.01 && Math.abs(s.castB + 4) < 0.01, `cast ${s.castA}, ${s.castB}`);
  assert.ok(Math.abs(s.castAngle - (360 + (Math.atan2(-4, 6) * 180) / Math.PI)) < 0.1, `angle ${s.castAngle}`);
  assert.ok(Math.abs(s.lightnessShift - 2) < 0.01);
  assert.ok(Math.abs(s.meanDeltaE - Math.hypot(2, 6, 4)) < 0.01);
});

test('colour shift: a hue rotation by 25 degrees reads 25, with chroma and lightness unchanged', () => {
  const rotated = labSet(4, (i, p) => polar(lightnessOf(i, p), 18, hueOf(i, p) + 25));
  const s = colourShift(originals, rotated);
  assert.ok(Math.abs(s.hueRotation - 25) < 0.05, `rotation ${s.hueRotation}`);
  assert.ok(Math.abs(s.chromaRatio - 1) < 1e-3, `chroma ${s.chromaRatio}`);
  // Rotating every hue by the same angle moves colours in all directions: no net cast.
  assert.ok(s.castMagnitude < 0.5, `cast ${s.castMagnitude}`);
  const back = colourShift(rotated, originals);
  assert.ok(Math.abs(back.hueRotation + 25) < 0.05);
});

test('colour shift: washing colours out halves the chroma ratio without rotating hue', () => {
  const washed = labSet(4, (i, p) => polar(lightnessOf(i, p), 9, hueOf(i, p)));
  const s = colourShift(originals, washed);
  assert.ok(Math.abs(s.chromaRatio - 0.5) < 1e-3, `chroma ${s.chromaRatio}`);
  assert.ok(Math.abs(s.hueRotation) < 0.05);
});

test('colour shift: grayscale images and mismatched shapes are refused', () => {
  const gray = setOf(1, 1, 4, 4, () => 0.5);
  assert.throws(() => colourShift(gray, gray), AnalysisError);
  assert.throws(() => colourShift(originals, setOf(1, 3, 8, 8, () => 0.5)), AnalysisError);
});

test('colour shift: intervals come from resampling images: none for a shift every image shares, the normal-theory width for one that varies', () => {
  const n = 60;
  const base = labSet(n, (i, p) => polar(lightnessOf(i, p), 18, hueOf(i, p)));
  // Every image cast the same way: every resample gives the same cast.
  const same = colourShift(base, labSet(n, (i, p) => { const [L, a, b] = polar(lightnessOf(i, p), 18, hueOf(i, p)); return [L, a, b + 6]; }), { seed: 0 });
  assert.ok(same.ci95.castB[1] - same.ci95.castB[0] < 1e-3, `interval ${same.ci95.castB}`);
  // Image i lightened by a different amount: the interval of the mean is about mean ± 1.96 sd / sqrt(n).
  const lift = (i: number) => 2 + ((i * 37) % 11);
  const s = colourShift(base, labSet(n, (i, p) => polar(lightnessOf(i, p) + lift(i), 18, hueOf(i, p))), { seed: 0 });
  const lifts = Array.from({ length: n }, (_, i) => lift(i));
  const m = lifts.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(lifts.reduce((a, b) => a + (b - m) ** 2, 0) / n);
  const [lo, hi] = s.ci95.lightnessShift;
  assert.ok(Math.abs(s.lightnessShift - m) < 0.05, `ΔL* ${s.lightnessShift} vs ${m}`);
  assert.ok(lo < s.lightnessShift && s.lightnessShift < hi);
  assert.ok(Math.abs((hi - lo) / (2 * 1.96 * (sd / Math.sqrt(n))) - 1) < 0.2, `width ${hi - lo} vs normal ${2 * 1.96 * (sd / Math.sqrt(n))}`);
  // Angles are unwrapped around their estimate: an interval never jumps across 0/360.
  assert.ok(same.ci95.castAngle[0] <= same.castAngle && same.castAngle <= same.ci95.castAngle[1]);
});
