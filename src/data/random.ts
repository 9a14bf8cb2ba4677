// A small seeded PRNG in TypeScript for everything the data layer shuffles or samples: splits,
// subsets, batch order and generated datasets. It is independent of libtorch's generator, so
// data order never depends on how many random numbers the engine drew before.

/** Mixes a 32-bit integer (the splitmix32 finaliser); also used to derive sub-seeds. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A seed for an independent stream, derived from a base seed and any number of labels. */
export function deriveSeed(seed: number, ...parts: (number | string)[]): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  for (const p of parts) {
    if (typeof p === 'number') h = mix32(h ^ mix32(p >>> 0) ^ mix32(Math.floor(p / 2 ** 32) >>> 0));
    else for (let i = 0; i < p.length; i++) h = mix32(h ^ p.charCodeAt(i));
  }
  return h;
}

/** mulberry32: 32-bit state, full period 2^32, passes the common statistical batteries. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    this.state = mix32(Math.floor(seed) >>> 0);
  }

  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Shuffles arr in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }
}

/** A seeded random permutation of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return new Rng(seed).shuffle(p);
}
