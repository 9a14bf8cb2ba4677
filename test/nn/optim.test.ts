// Optimizers and schedules: three steps against the update formulas in plain JS and against
// torch.optim; a resumed optimizer continues exactly like an uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, type Tensor } from '../../src/engine/index.js';
import { Adam, AdamW, SGD, cosineSchedule, decodeSafetensors, encodeSafetensors, stepSchedule, type Optimizer } from '../../src/nn/index.js';
import { pythonMissing, runPython } from './python.js';

const torchMissing = pythonMissing(['torch']);

const INITIAL = [
  [0.5, -1.2, 2.0],
  [0.3, 0.0, -0.7, 1.1],
];
const SHAPES = [[3], [2, 2]];
/** Gradients per step and parameter. */
const GRADS = [
  [[0.1, -0.4, 0.25], [1.0, -0.5, 0.0, 0.3]],
  [[-0.2, 0.3, 0.05], [0.4, 0.2, -0.6, 0.0]],
  [[0.7, -0.1, -0.3], [-0.3, 0.9, 0.1, -0.2]],
];

type Kind = 'SGD' | 'Adam' | 'AdamW';
interface Case {
  kind: Kind;
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  betas?: [number, number];
  eps?: number;
}

const CASES: Case[] = [
  { kind: 'SGD', lr: 0.1 },
  { kind: 'SGD', lr: 0.1, momentum: 0.9 },
  { kind: 'SGD', lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.01 },
  { kind: 'SGD', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 },
  { kind: 'Adam', lr: 0.1 },
  { kind: 'Adam', lr: 0.01, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.1 },
  { kind: 'AdamW', lr: 0.1, weightDecay: 0.1 },
  { kind: 'AdamW', lr: 0.02, betas: [0.5, 0.99], weightDecay: 0.01 },
];

function makeOptimizer(c: Case, params: Tensor[]): Optimizer {
  if (c.kind === 'SGD') return new SGD(params, { lr: c.lr, momentum: c.momentum, dampening: c.dampening, weightDecay: c.weightDecay, nesterov: c.nesterov });
  const o = { lr: c.lr, betas: c.betas, eps: c.eps, weightDecay: c.weightDecay ?? (c.kind === 'AdamW' ? 0.01 : 0) };
  return c.kind === 'Adam' ? new Adam(params, o) : new AdamW(params, o);
}

/** Parameter values after each step, by the textbook formulas (PyTorch's documentation), in float64. */
function reference(c: Case): number[][][] {
  const p = INITIAL.map((v) => [...v]);
  const buf = p.map((v) => v.map(() => 0));
  const m = p.map((v) => v.map(() => 0));
  const s = p.map((v) => v.map(() => 0));
  const [b1, b2] = c.betas ?? [0.9, 0.999];
  const eps = c.eps ?? 1e-8;
  const wd = c.weightDecay ?? (c.kind === 'AdamW' ? 0.01 : 0);
  const history: number[][][] = [];
  GRADS.forEach((grads, t) => {
    p.forEach((param, k) => {
      param.forEach((_, i) => {
        let g = grads[k][i];
        if (c.kind === 'SGD') {
          g += wd * param[i];
          const mu = c.momentum ?? 0;
          if (mu) {
            buf[k][i] = t === 0 ? g : mu * buf[k][i] + (1 - (c.dampening ?? 0)) * g;
            g = c.nesterov ? g + mu * buf[k][i] : buf[k][i];
          }
          param[i] -= c.lr * g;
          return;
        }
        if (c.kind === 'AdamW') param[i] *= 1 - c.lr * wd;
        else g += wd * param[i];
        m[k][i] = b1 * m[k][i] + (1 - b1) * g;
        s[k][i] = b2 * s[k][i] + (1 - b2) * g * g;
        const mHat = m[k][i] / (1 - b1 ** (t + 1));
        const sHat = s[k][i] / (1 - b2 ** (t + 1));
        param[i] -= (c.lr * mHat) / (Math.sqrt(sHat) + eps);
      });
    });
    history.push(p.map((v) => [...v]));
  });
  return history;
}

function ours(c: Case): number[][][] {
  const params = INITIAL.map((v, k) => tensor(v, SHAPES[k], { requiresGrad: true }));
  const opt = makeOptimizer(c, params);
  const history: number[][][] = [];
  for (const grads of GRADS) {
    opt.zeroGrad();
    params.forEach((p, k) => (p.grad = tensor(grads[k], SHAPES[k])));
    opt.step();
    params.forEach((p, k) => assert.deepEqual(p.grad!.toArray(), Array.from(new Float32Array(grads[k])), `${c.kind}: step() left .grad unchanged`));
    history.push(params.map((p) => p.toArray()));
  }
  return history;
}

function assertHistoryClose(got: number[][][], expected: number[][][], tol: number, what: string): void {
  got.forEach((step, t) =>
    step.forEach((param, k) => param.forEach((v, i) => assert.ok(Math.abs(v - expected[t][k][i]) <= tol, `${what}: step ${t + 1}, param ${k}[${i}]: ${v} vs ${expected[t][k][i]}`))),
  );
}

const describe = (c: Case) => JSON.stringify(c);

test('SGD, Adam, AdamW: three steps match the update formulas', () => {
  for (const c of CASES) assertHistoryClose(ours(c), reference(c), 2e-6, describe(c));
});

const TORCH_OPTIM = `
import json, sys, torch
spec = json.load(sys.stdin)
out = []
for c in spec['cases']:
    params = [torch.tensor(v, dtype=torch.float32).reshape(s).requires_grad_() for v, s in zip(spec['initial'], spec['shapes'])]
    wd = c.get('weightDecay', 0.01 if c['kind'] == 'AdamW' else 0)
    if c['kind'] == 'SGD':
        opt = torch.optim.SGD(params, lr=c['lr'], momentum=c.get('momentum', 0), dampening=c.get('dampening', 0), weight_decay=wd, nesterov=c.get('nesterov', False))
    else:
        cls = torch.optim.Adam if c['kind'] == 'Adam' else torch.optim.AdamW
        opt = cls(params, lr=c['lr'], betas=tuple(c.get('betas', (0.9, 0.999))), eps=c.get('eps', 1e-8), weight_decay=wd)
    history = []
    for grads in spec['grads']:
        opt.zero_grad(set_to_none=True)
        for p, g, s in zip(params, grads, spec['shapes']): p.grad = torch.tensor(g, dtype=torch.float32).reshape(s)
        opt.step()
        history.append([p.detach().flatten().tolist() for p in params])
    out.append(history)
print(json.dumps(out))
`;

test('SGD, Adam, AdamW: three steps match torch.optim', { skip: torchMissing ?? false }, () => {
  const expected = runPython<number[][][][]>(TORCH_OPTIM, { cases: CASES, initial: INITIAL, shapes: SHAPES, grads: GRADS });
  CASES.forEach((c, i) => assertHistoryClose(ours(c), expected[i], 1e-6, `${describe(c)} vs torch`));
});

test('an optimizer restored from its state dict (through safetensors) continues identically', () => {
  for (const c of [CASES[2], CASES[5], CASES[6]]) {
    const run = (params: Tensor[], opt: Optimizer, steps: number[][][]) => {
      for (const grads of steps) {
        opt.zeroGrad();
        params.forEach((p, k) => (p.grad = tensor(grads[k], SHAPES[k])));
        opt.step();
      }
    };
    const params = INITIAL.map((v, k) => tensor(v, SHAPES[k], { requiresGrad: true }));
    const uninterrupted = makeOptimizer(c, params);
    run(params, uninterrupted, GRADS.slice(0, 2));

    const saved = uninterrupted.stateDict();
    const file = decodeSafetensors(Buffer.concat(encodeSafetensors(saved.tensors)));
    const resumedParams = params.map((p) => p.detach().clone().requiresGrad_(true));
    const resumed = makeOptimizer(c, resumedParams);
    resumed.loadStateDict({ stepCount: saved.stepCount, lr: saved.lr, tensors: file.tensors });

    run(params, uninterrupted, GRADS.slice(2));
    run(resumedParams, resumed, GRADS.slice(2));
    params.forEach((p, k) => assert.deepEqual(resumedParams[k].toArray(), p.toArray(), `${describe(c)}: param ${k}`));
    // Without the state the continuation differs: the test can tell.
    const fresh = params.map((p) => p.detach().clone().requiresGrad_(true));
    const restarted = makeOptimizer(c, fresh);
    run(fresh, restarted, GRADS.slice(2));
    assert.notDeepEqual(fresh[0].toArray(), params[0].toArray());
  }
});

test('loading a state dict that lacks a buffer names it', () => {
  const params = INITIAL.map((v, k) => tensor(v, SHAPES[k], { requiresGrad: true }));
  const opt = new Adam(params);
  const partial = new Map([['exp_avg.0', tensor([0, 0, 0])]]);
  assert.throws(() => opt.loadStateDict({ stepCount: 1, lr: 0.1, tensors: partial }), /exp_avg\.1 missing/);
});

const scheduleLrs = (apply: (opt: Optimizer, t: number) => void, n: number) => {
  const opt = new SGD([tensor([0], [1], { requiresGrad: true })], { lr: 1 });
  return Array.from({ length: n }, (_, t) => (apply(opt, t), opt.lr));
};

test('step and cosine schedules: closed forms', () => {
  const step = scheduleLrs((o, t) => stepSchedule(0.1, 3, 0.5).apply(o, t), 8);
  assertHistoryClose([[step]], [[[0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]]], 1e-12, 'step');
  const cosine = scheduleLrs((o, t) => cosineSchedule(1, 4, 0.2).apply(o, t), 6);
  const c = (t: number) => 0.2 + 0.8 * (1 + Math.cos((Math.PI * t) / 4)) / 2;
  assertHistoryClose([[cosine]], [[[1, c(1), 0.6, c(3), 0.2, 0.2]]], 1e-12, 'cosine');
});

const TORCH_SCHEDULES = `
import json, sys, torch
spec = json.load(sys.stdin)
def lrs(make, n):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=spec['base'])
    sched = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    return out
print(json.dumps({
    'step': lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10),
    'cosine': lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01), 8),
}))
`;

test('step and cosine schedules match torch.optim.lr_scheduler', { skip: torchMissing ?? false }, () => {
  const base = 0.3;
  const expected = runPython<{ step: number[]; cosine: number[] }>(TORCH_SCHEDULES, { base });
  const step = scheduleLrs((o, t) => stepSchedule(base, 3, 0.5).apply(o, t), 10);
  const cosine = scheduleLrs((o, t) => cosineSchedule(base, 7, 0.01).apply(o, t), 8);
  assertHistoryClose([[step, cosine]], [[expected.step, expected.cosine]], 1e-9, 'schedule vs torch');
});
