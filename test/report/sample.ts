// Realistic results and pictures for the report tests, generated from a seed: a cross matrix
// whose diagonal is high (each classifier on its own S2SNet), its delta against the originals,
// the order the analysis layer derives from it, bell-shaped histograms and decaying loss curves.
import { Rng } from '../../src/data/random.js';
import { totalOrder } from '../../src/analysis/order.js';
import { claimsOverRankings } from '../../src/analysis/claims.js';
import type { PictureRow } from '../../src/analysis/pictures.js';
import { RESULTS_SCHEMA_VERSION, type Results } from '../../src/report/index.js';

export const HOSTILE = '<script>alert(1)</script>';

const bell = (bins: number, centre: number, width: number) => {
  const raw = Array.from({ length: bins }, (_, k) => Math.exp(-(((k + 0.5) / bins - centre) ** 2) / (2 * width * width)));
  const sum = raw.reduce((s, v) => s + v, 0);
  return raw.map((v) => v / sum);
};

export function sampleResults(opts: { channels?: 1 | 3; names?: string[]; seed?: number } = {}): Results {
  const channels = opts.channels ?? 3;
  const names = opts.names ?? ['vgg', 'resnet', HOSTILE];
  const rng = new Rng(opts.seed ?? 3);
  const rows = ['A_S', ...names.map((n) => `S2S-${n}`)];
  const original = names.map(() => 0.9 + 0.08 * rng.next());
  const top1 = rows.map((_, i) => names.map((_, j) => (i === j + 1 ? original[j] - 0.02 * rng.next() : 0.2 + 0.6 * rng.next())));
  const delta = top1.map((row) => row.map((v, j) => v - original[j]));
  const order = totalOrder(names, delta.slice(1));
  const top5 = (top1Value: number) => Math.min(1, top1Value + 0.05);
  const around = (v: number, w = 0.02): [number, number] => [v - w * rng.next(), v + w * rng.next()];
  const acc = (t1: number, t5: number | null) => ({ top1: t1, top5: t5, ci95: { top1: around(t1), top5: t5 === null ? null : around(t5) } });
  const histogram = (name: string, range: [number, number], shift: number) => ({ name, range, original: bell(32, 0.5, 0.15), reconstruction: bell(32, 0.5 + shift, 0.12) });
  const histogramsOf = () => {
    const shift = 0.2 * (rng.next() - 0.5);
    return channels === 3 ? [histogram('L*', [0, 100], shift), histogram('a*', [-128, 127], -shift), histogram('b*', [-128, 127], shift / 2)] : [histogram('intensity', [0, 1], shift)];
  };
  const curve = (steps: number, start: number) => ({ step: Array.from({ length: steps }, (_, k) => 10 * k), loss: Array.from({ length: steps }, (_, k) => start * Math.exp(-k / 4) + 0.01 * rng.next()) });
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: { name: 's2snets', version: '0.0.0-test' },
    createdAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    run: {
      dataset: 'planted',
      imageSize: 8,
      channels,
      classes: ['a', 'b', 'c'],
      seed: 0,
      device: 'cpu',
      engine: { torchVersion: '1.13.0', buildBlas: 'open', blas: 'OpenBLAS 0.3.21 (OpenMP, core Haswell)', onednn: true, cpuCapability: 'AVX2', cuda: false, cudnn: false, threads: 2 },
      mixedEngines: [],
      evalSamples: 30,
      skippedInputs: 2,
      durations: { 'pretrain A_S': 3.5, ...Object.fromEntries(names.map((n) => [`fine-tune ${n}`, 1 + rng.next()])), evaluate: 1 },
      plan: { seed: 0, classifiers: names.map((name) => ({ name, epochs: 2 })), note: HOSTILE },
    },
    classifiers: names.map((name, j) => ({
      name,
      family: j === 0 ? 'vgg' : 'resnet',
      parameters: 1000 + 17 * j,
      // The first takes the data's images as they are; the second its own size and normalization.
      input:
        j === 0
          ? { height: 8, width: 8, mean: new Array(channels).fill(0.5), std: new Array(channels).fill(0.25), resize: null, antialias: false }
          : { height: 12, width: 12, mean: new Array(channels).fill(0.45), std: new Array(channels).fill(0.225), resize: 'bicubic' as const, antialias: false },
      accuracy: { original: acc(original[j], top5(original[j])), generic: acc(top1[0][j], null), own: acc(top1[j + 1][j], null) },
    })),
    autoencoders: rows.map((name) => {
      const [castA, castB] = [8 * (rng.next() - 0.5), 8 * (rng.next() - 0.5)];
      const colourShift = {
        castA,
        castB,
        castMagnitude: Math.hypot(castA, castB),
        castAngle: ((Math.atan2(castB, castA) * 180) / Math.PI + 360) % 360,
        chromaRatio: 0.6 + 0.5 * rng.next(),
        hueRotation: 40 * (rng.next() - 0.5),
        lightnessShift: 4 * (rng.next() - 0.5),
        meanDeltaE: 3 + 5 * rng.next(),
      };
      const colourCi = Object.fromEntries(Object.entries(colourShift).map(([k, v]) => [k, around(v, 0.2)])) as Record<keyof typeof colourShift, [number, number]>;
      const periodic = [2, 4, 8].map((period) => {
        const db = 6 * (rng.next() - 0.6);
        const amplitude = db > 0 ? 0.01 * rng.next() : 0;
        return { period, db, amplitude, byDirection: { horizontal: db - 1, vertical: db + 1, diagonal: db }, ci95: { db: around(db, 0.5), amplitude: around(amplitude, 0) } };
      });
      const [psnr, intraNmi, interNmi] = [18 + 6 * rng.next(), 0.2 + 0.6 * rng.next(), 0.1 + 0.3 * rng.next()];
      return { name, psnr, intraNmi, interNmi, gridEnergy: 0.7 + 0.3 * rng.next(), colourShift: channels === 3 ? { ...colourShift, ci95: colourCi } : null, periodic, ci95: { psnr: around(psnr, 0.5), intraNmi: around(intraNmi), interNmi: around(interNmi) } };
    }),
    planted: null,
    finetunes: names.map((classifier, j) => ({
      classifier,
      budget: 600,
      stepsRun: j === 0 ? 600 : 175,
      stop: j === 0 ? ('step-budget' as const) : ('reached-original-accuracy' as const),
      converged: j !== 0,
      checkAccuracy: { original: 0.98, reconstructed: j === 0 ? 0.9 : 0.98 },
    })),
    crossEvaluation: {
      rows,
      columns: names,
      top1,
      original,
      delta,
      ci95: { top1: top1.map((row) => row.map((v) => around(v))), original: original.map((v) => around(v)), delta: delta.map((row) => row.map((v) => around(v, 0.01))) },
    },
    order,
    bootstrap: { resamples: 1000, seed: 0, level: 0.95, method: 'percentile' },
    claims: claimsOverRankings(order, names.map((name, j) => ({ name, accuracy: original[j], parameters: 1000 + 17 * j })), 0),
    noise: {
      sigmas: [0.05, 0.1, 0.2],
      samples: 20,
      classifiers: names.map((name) => {
        const noisy = [0.9, 0.8, 0.5];
        const own = noisy.map((v) => v + 0.05 * rng.next());
        const gain = own.map((v, k) => v - noisy[k]);
        return { name, noisy, own, gain, ci95: { noisy: noisy.map((v) => around(v)), own: own.map((v) => around(v)), gain: gain.map((v) => around(v, 0.01)) } };
      }),
    },
    replicates: null,
    nmi: { bins: 64, interPairs: 10, normalization: '2 I(X;Y) / (H(X) + H(Y))' },
    histograms: Object.fromEntries(rows.map((r) => [r, histogramsOf()])),
    curves: {
      ...Object.fromEntries(names.map((n) => [`train ${n}`, curve(6, 2.3)])),
      'pretrain A_S': curve(5, 0.2),
      ...Object.fromEntries(names.map((n) => [`fine-tune ${n}`, curve(4, 0.8)])),
    },
    figures: [],
  };
}

/** Random tiles of the given size: one row per label. */
export function sampleRows(labels: string[], opts: { channels: 1 | 3; width?: number; height?: number; columns?: number; seed?: number }): PictureRow[] {
  const rng = new Rng(opts.seed ?? 1);
  const width = opts.width ?? 8;
  const height = opts.height ?? 8;
  const image = () => ({ width, height, channels: opts.channels, data: Uint8Array.from({ length: opts.channels * width * height }, () => rng.int(256)) });
  return labels.map((label) => ({ label, images: Array.from({ length: opts.columns ?? 2 }, image) }));
}
