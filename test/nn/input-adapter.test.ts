// The input adapter: the identity (the classifier itself) when the input already fits, and
// otherwise de-normalize, resize and re-normalize whose values and input gradients match
// central finite differences and PyTorch's F.interpolate (antialiased when shrinking) in float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { Identity, InputAdapter, InputAdapterError, adaptInput, unwrapAdapter, type ImageInput, type ResizeMode } from '../../src/nn/index.js';
import { buildClassifier } from '../../src/models/classifiers.js';
import { pythonMissing, runPython } from './python.js';

const DATA: ImageInput = { height: 8, width: 8, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const SHAPE = [2, 3, 8, 8];
/** Shrinking (antialiased), enlarging, one side each way, and the same size with other statistics. */
const CASES: { resize: ResizeMode; target: ImageInput }[] = [
  { resize: 'bilinear', target: { height: 5, width: 5, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } },
  { resize: 'bicubic', target: { height: 5, width: 6, mean: [0.5, 0.4, 0.3], std: [0.3, 0.2, 0.25] } },
  { resize: 'bilinear', target: { height: 13, width: 11, mean: DATA.mean, std: DATA.std } },
  { resize: 'bicubic', target: { height: 12, width: 12, mean: [0.1, 0.2, 0.3], std: [1.5, 0.5, 2] } },
  { resize: 'bicubic', target: { height: 6, width: 11, mean: [0.1, 0.2, 0.3], std: [1.5, 0.5, 2] } },
  { resize: 'bilinear', target: { height: 8, width: 8, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1] } },
];

/** The adapter around an identity "classifier", in float64: its output is the adapted input. */
function adapter64(c: (typeof CASES)[number]): InputAdapter {
  const m = adaptInput(new Identity(), DATA, c.target, c.resize);
  assert.ok(m instanceof InputAdapter);
  return m.to({ dtype: 'float64' });
}

/** sum(adapter(x) * w) and its gradient with respect to x. */
function lossAndGrad(m: InputAdapter, x: Tensor, w: Tensor): { value: number; y: number[]; dx: number[] } {
  return tidy(() => {
    const input = x.detach().requiresGrad_(true);
    const y = m.forward(input);
    const loss = y.mul(w).sum();
    const [dx] = grad([loss], [input]);
    return { value: loss.item(), y: y.toArray(), dx: dx!.toArray() };
  });
}

const maxAbs = (a: number[]) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
const maxDiff = (a: number[], b: number[]) => {
  assert.equal(a.length, b.length);
  return a.reduce((s, v, i) => Math.max(s, Math.abs(v - b[i])), 0);
};

test('an input that already fits gets the classifier itself: no extra operation, bit-identical logits', () => {
  manualSeed(3);
  const model = buildClassifier('resnet', { channels: 3, size: 16, classes: 4 }).eval();
  const data = { ...DATA, height: 16, width: 16 };
  const same = adaptInput(model, data, { ...data, mean: [...DATA.mean], std: [...DATA.std] });
  assert.equal(same, model);
  assert.deepEqual(unwrapAdapter(same), { classifier: model, adapt: null });
  // Another mean alone, or another size alone, adapts.
  assert.ok(adaptInput(model, data, { ...data, mean: [0.5, 0.456, 0.406] }) instanceof InputAdapter);
  assert.ok(adaptInput(model, data, { ...data, width: 24 }) instanceof InputAdapter);
  const x = randn([2, 3, 16, 16]);
  noGrad(() => assert.deepEqual(same.forward(x).toArray(), model.forward(x).toArray()));
});

test('mean and std of another channel count are refused', () => {
  assert.throws(() => adaptInput(new Identity(), DATA, { ...DATA, mean: [0.5] }), (e: unknown) => e instanceof InputAdapterError && e.code === 'S2SNETS_INPUT_ADAPTER' && /3 channel\(s\).*1 values/.test(e.message));
});

test('the adapter maps to the target size, and its input gradient matches central finite differences (float64)', () => {
  manualSeed(5);
  for (const c of CASES) {
    const m = adapter64(c);
    const x = randn(SHAPE, { dtype: 'float64' });
    const w = randn([2, 3, c.target.height, c.target.width], { dtype: 'float64' });
    const { y, dx } = lossAndGrad(m, x, w);
    assert.equal(y.length, 2 * 3 * c.target.height * c.target.width);
    const xs = x.toArray();
    const h = 1e-6;
    const numeric = xs.map((_, i) => {
      const at = (d: number) => noGrad(() => tidy(() => m.forward(tensor(Float64Array.from(xs, (v, j) => (j === i ? v + d : v)), SHAPE)).mul(w).sum().item()));
      return (at(h) - at(-h)) / (2 * h);
    });
    const err = maxDiff(dx, numeric) / maxAbs(numeric);
    assert.ok(err < 1e-7, `${c.resize} to ${c.target.height}x${c.target.width}: gradient vs finite differences ${err}`);
  }
});

const PYTORCH_REFERENCE = `
import json, sys, torch
import torch.nn.functional as F
q = json.load(sys.stdin)
out = []
for c in q['cases']:
    x = torch.tensor(q['x'], dtype=torch.float64).reshape(q['shape']).requires_grad_(True)
    t = c['target']
    w = torch.tensor(c['w'], dtype=torch.float64).reshape(2, 3, t['height'], t['width'])
    view = lambda v: torch.tensor(v, dtype=torch.float64).view(1, -1, 1, 1)
    pixels = x * view(q['std']) + view(q['mean'])
    h, wd = q['shape'][2], q['shape'][3]
    if (t['height'], t['width']) != (h, wd):
        shrink = t['height'] < h or t['width'] < wd
        pixels = F.interpolate(pixels, size=(t['height'], t['width']), mode=c['resize'], align_corners=False, antialias=shrink)
    y = (pixels - view(t['mean'])) / view(t['std'])
    (dx,) = torch.autograd.grad((y * w).sum(), x)
    out.append({'y': y.detach().flatten().tolist(), 'dx': dx.flatten().tolist()})
print(json.dumps(out))
`;

const noTorch = pythonMissing(['torch']);
test('the adapter equals PyTorch (de-normalize, F.interpolate with antialias when shrinking, normalize) in value and input gradient', { skip: noTorch ?? false }, () => {
  manualSeed(7);
  const x = randn(SHAPE, { dtype: 'float64' });
  const ws = CASES.map((c) => randn([2, 3, c.target.height, c.target.width], { dtype: 'float64' }));
  const ours = CASES.map((c, k) => lossAndGrad(adapter64(c), x, ws[k]));
  const theirs = runPython<{ y: number[]; dx: number[] }[]>(PYTORCH_REFERENCE, {
    x: x.toArray(),
    shape: SHAPE,
    mean: DATA.mean,
    std: DATA.std,
    cases: CASES.map((c, k) => ({ ...c, w: ws[k].toArray() })),
  });
  // The adapter's per-channel constants are float32 (the dtype models are built in), moved to
  // float64 with the module; the reference computes them in float64: 1e-6 relative covers that,
  // while a wrong kernel (no antialias, the other bicubic coefficient) differs by 1e-2 or more.
  CASES.forEach((c, k) => {
    const what = `${c.resize} to ${c.target.height}x${c.target.width}`;
    assert.ok(maxDiff(ours[k].y, theirs[k].y) / maxAbs(theirs[k].y) < 1e-6, `${what}: values ${maxDiff(ours[k].y, theirs[k].y)}`);
    assert.ok(maxDiff(ours[k].dx, theirs[k].dx) / maxAbs(theirs[k].dx) < 1e-6, `${what}: input gradient ${maxDiff(ours[k].dx, theirs[k].dx)}`);
  });
});
