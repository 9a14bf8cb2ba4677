// Autograd semantics: frozen modules pass gradients to their input only; noGrad and detach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, enableGrad, grad, isGradEnabled, manualSeed, noGrad, randn, tensor, type Tensor } from '../../src/engine/index.js';
import { Conv2d, Linear, Sequential, ReLU } from '../../src/nn/index.js';
import { SegNetEncoder, SMALL_STAGES } from '../../src/models/segnet.js';
import { numericGrad } from './gradcheck.js';

function assertAllClose(got: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, expected.length, what);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - expected[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${expected[i]}`);
}

test('a frozen Linear passes the gradient to its input and computes none for its weights', () => {
  manualSeed(31);
  const layer = new Linear(4, 3).freeze();
  const x = randn([2, 4], { requiresGrad: true });
  layer.forward(x).sum().backward();
  assert.equal(layer.weight.grad, null);
  assert.equal(layer.bias!.grad, null);
  // d sum(x W^T + b) / d x[n, i] = sum over outputs of W[o, i], for every row n.
  const w = layer.weight.toArray();
  const columnSums = [0, 1, 2, 3].map((i) => w[i] + w[4 + i] + w[8 + i]);
  assertAllClose(x.grad!.toArray(), [...columnSums, ...columnSums], 1e-6, 'x.grad');
});

test('a frozen conv net in eval mode: input gradient matches finite differences, weight grads stay null', () => {
  manualSeed(32);
  const encoder = new SegNetEncoder({ inChannels: 1, stages: SMALL_STAGES }).to({ dtype: 'float64' }).freeze().eval();
  const x = randn([1, 1, 4, 4], { dtype: 'float64' });
  const loss = (inputs: Tensor[]) => encoder.encode(inputs[0]).code.square().sum();
  const leaf = x.detach().requiresGrad_(true);
  const out = loss([leaf]);
  assert.equal(out.requiresGrad, true, 'the output still needs grad through the input');
  out.backward();
  for (const [name, p] of encoder.namedParameters()) assert.equal(p.grad, null, `${name}.grad`);
  const expected = numericGrad(loss, [x], 0);
  assertAllClose(leaf.grad!.toArray(), expected, 1e-5, 'input grad');
});

test('grad() returns input gradients without touching any .grad field', () => {
  manualSeed(33);
  const net = new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new ReLU());
  const x = randn([1, 1, 5, 5], { requiresGrad: true });
  const [gx, gw] = grad([net.forward(x).sum()], [x, (net.layers[0] as Conv2d).weight]);
  assert.ok(gx && gw);
  assert.deepEqual(gx.shape, [1, 1, 5, 5]);
  assert.equal(x.grad, null);
  for (const p of net.parameters()) assert.equal(p.grad, null);
});

test('grad() with createGraph keeps the graph, as in torch: the second derivative of x^3 is 6x', () => {
  const x = tensor([0.5, -2, 3], [3]).requiresGrad_(true);
  const [first] = grad([x.pow(3).sum()], [x], { createGraph: true });
  assertAllClose(first!.toArray() as number[], [0.75, 12, 27], 1e-6, 'first derivative');
  const [second] = grad([first!.sum()], [x]);
  assertAllClose(second!.toArray() as number[], [3, -12, 18], 1e-6, 'second derivative');
});

test('noGrad records nothing, nests with enableGrad, and restores the mode after a throw', () => {
  const w = tensor([2], [1], { requiresGrad: true });
  const y = noGrad(() => w.mul(3));
  assert.equal(y.requiresGrad, false);
  assert.throws(() => y.backward(), /does not require grad/);
  const z = noGrad(() => enableGrad(() => w.mul(3)));
  assert.equal(z.requiresGrad, true);
  assert.throws(() =>
    noGrad(() => {
      throw new Error('inside');
    }),
  );
  assert.equal(isGradEnabled(), true);
});

test('detach shares storage, cuts the graph, and gradients accumulate until reset', () => {
  const x = tensor([1, 2, 3], [3], { requiresGrad: true });
  const d = x.detach();
  assert.equal(d.requiresGrad, false);
  assert.ok(d.handle.sameStorage(x.handle));
  // d(x.detach() * x)/dx = x.detach(): the detached factor is a constant.
  x.detach().mul(x).sum().backward();
  assert.deepEqual(x.grad!.toArray(), [1, 2, 3]);
  x.mul(x).sum().backward();
  assert.deepEqual(x.grad!.toArray(), [1 + 2, 2 + 4, 3 + 6]);
  x.grad = null;
  assert.equal(x.grad, null);
  // x * x saves x for backward: a second pass needs retainGraph on the first.
  const y = x.mul(x).sum();
  y.backward(undefined, true);
  y.backward();
  assert.deepEqual(x.grad!.toArray(), [4, 8, 12]);
  assert.throws(() => y.backward(), /backward through the graph a second time/);
});

test('maxUnpool2d routes gradients back to the pooled maxima only', () => {
  const x = tensor([1, 5, 2, 0, 3, 4, 8, 7, 6, 9, 1, 2, 0, 1, 3, 2], [1, 1, 4, 4], { requiresGrad: true });
  const [pooled, indices] = F.maxPool2dWithIndices(x, 2);
  F.maxUnpool2d(pooled, indices, [4, 4]).sum().backward();
  assert.deepEqual(x.grad!.toArray(), x.toArray().map((_, i) => ([1, 6, 9, 14].includes(i) ? 1 : 0)));
});
