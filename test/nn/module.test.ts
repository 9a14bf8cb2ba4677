// Module bookkeeping: names, state dicts, modes, freezing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, tensor, zeros } from '../../src/engine/index.js';
import { BatchNorm2d, Conv2d, Dropout, Linear, ReLU, Sequential, StateDictError, Flatten } from '../../src/nn/index.js';

const net = () => new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2), new ReLU(), new Flatten(), new Dropout(0.5), new Linear(8, 3));

test('parameters and buffers are named like PyTorch', () => {
  const m = net();
  assert.deepEqual(m.namedParameters().map(([n]) => n), ['0.weight', '0.bias', '1.weight', '1.bias', '5.weight', '5.bias']);
  assert.deepEqual(m.namedBuffers().map(([n]) => n), ['1.running_mean', '1.running_var', '1.num_batches_tracked']);
  assert.deepEqual([...m.stateDict().keys()].length, 9);
  assert.equal(m.parameterCount(), 2 * 9 + 2 + 2 + 2 + 8 * 3 + 3);
});

test('loadStateDict copies values and reports missing, unexpected and mismatched entries', () => {
  manualSeed(61);
  const a = net();
  const b = net();
  b.loadStateDict(a.stateDict());
  for (const [name, t] of a.stateDict()) assert.deepEqual(b.stateDict().get(name)!.toArray(), t.toArray(), name);
  const partial = new Map(a.stateDict());
  partial.delete('5.bias');
  partial.set('extra.weight', zeros([1]));
  assert.throws(() => b.loadStateDict(partial), (e: Error) => e instanceof StateDictError && /missing: 5\.bias \| unexpected: extra\.weight/.test(e.message));
  assert.deepEqual(b.loadStateDict(partial, false), { missing: ['5.bias'], unexpected: ['extra.weight'] });
  const wrongShape = new Map(a.stateDict());
  wrongShape.set('5.weight', zeros([3, 9]));
  assert.throws(() => b.loadStateDict(wrongShape, false), /shape mismatch: 5\.weight: checkpoint \[3,9\] vs model \[3,8\]/);
});

test('train/eval switch dropout and batch-norm behaviour in every child', () => {
  manualSeed(62);
  const m = net();
  const x = randn([4, 1, 4, 4]);
  m.eval();
  assert.ok([...m.namedModules()].every(([, c]) => !c.training));
  assert.deepEqual(m.forward(x).toArray(), m.forward(x).toArray(), 'eval is deterministic');
  const bn = m.layers[1] as BatchNorm2d;
  assert.deepEqual(bn.running_mean.toArray(), [0, 0], 'eval leaves running statistics');
  m.train();
  m.forward(x);
  assert.notDeepEqual(bn.running_mean.toArray(), [0, 0]);
  assert.equal(bn.num_batches_tracked.item(), 1);
});

test('freeze stops gradients for parameters and freeze(false) resumes them', () => {
  const m = new Linear(2, 1);
  m.freeze();
  assert.deepEqual(m.trainableParameters(), []);
  assert.equal(m.forward(tensor([1, 2], [1, 2])).requiresGrad, false);
  m.freeze(false);
  assert.equal(m.trainableParameters().length, 2);
});
