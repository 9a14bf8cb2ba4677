// Gradient check for tests: compares autograd against central finite differences in float64.
// The function's output is reduced to a scalar with fixed random weights, so every element of
// the Jacobian contributes (a plain sum would hide errors that cancel out).
import assert from 'node:assert/strict';
import { grad, manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../../src/engine/index.js';

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Indices of inputs to check (default: every floating input). */
  wrt?: number[];
}

/**
 * Asserts that the gradients autograd computes for fn(...inputs) equal central differences.
 * Inputs must be float64 (integer inputs such as indices are passed through untouched).
 * fn must be deterministic: reseed inside it when it draws random numbers.
 */
export function gradcheck(name: string, fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], o: GradcheckOptions = {}): void {
  const eps = o.eps ?? 1e-6;
  const atol = o.atol ?? 1e-5;
  const rtol = o.rtol ?? 1e-4;
  const wrt = o.wrt ?? inputs.flatMap((t, i) => (t.dtype === 'float64' ? [i] : []));
  tidy(() => {
    for (const i of wrt) assert.equal(inputs[i].dtype, 'float64', `${name}: input ${i} must be float64 for a gradient check`);
    const leaves = inputs.map((t, i) => (wrt.includes(i) ? t.detach().requiresGrad_(true) : t));
    const probe = noGrad(() => fn(...leaves));
    manualSeed(12345);
    const weights = randn(probe.shape, { dtype: 'float64' });
    const scalarOf = (ins: Tensor[]) => tidy(() => fn(...ins).mul(weights).sum());

    const analytic = grad([scalarOf(leaves)], wrt.map((i) => leaves[i]));
    for (const [k, i] of wrt.entries()) {
      const expected = numericGrad(scalarOf, inputs, i, eps);
      const got = analytic[k] ? (analytic[k]!.data() as Float64Array) : new Float64Array(expected.length);
      for (let e = 0; e < expected.length; e++) {
        const tol = atol + rtol * Math.abs(expected[e]);
        assert.ok(
          Math.abs(got[e] - expected[e]) <= tol,
          `${name}: d/d(input ${i})[${e}] autograd ${got[e]} vs finite difference ${expected[e]} (tolerance ${tol})`,
        );
      }
    }
  });
}

/** d scalarFn(inputs) / d inputs[i] by central differences, element by element. */
export function numericGrad(scalarFn: (inputs: Tensor[]) => Tensor, inputs: Tensor[], i: number, eps = 1e-6): Float64Array {
  const base = inputs[i].data() as Float64Array;
  const out = new Float64Array(base.length);
  const at = (e: number, delta: number) =>
    tidy(() => {
      const moved = Float64Array.from(base);
      moved[e] += delta;
      const ins = inputs.map((t, j) => (j === i ? tensor(moved, t.shape) : t));
      return noGrad(() => scalarFn(ins).item());
    });
  for (let e = 0; e < base.length; e++) out[e] = (at(e, eps) - at(e, -eps)) / (2 * eps);
  return out;
}
