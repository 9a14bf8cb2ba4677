// Optimizers with PyTorch's update rules (torch.optim.SGD, Adam, AdamW), applied to all
// parameters at once with libtorch's multi-tensor (_foreach) kernels, as PyTorch does.
import { keep, noGrad, zerosLike, type Tensor } from '../engine/index.js';
import { callRaw, callVoid } from '../engine/op.js';
import type { NativeTensor } from '../engine/native.js';
import { StateDictError } from './module.js';

const handles = (ts: Tensor[]) => ts.map((t) => t.handle);

export abstract class Optimizer {
  /** Learning rate; schedules change it between steps. */
  lr: number;
  stepCount = 0;
  protected readonly state = new Map<string, Tensor[]>();

  constructor(
    readonly params: Tensor[],
    lr: number,
  ) {
    if (!(lr >= 0)) throw new RangeError(`learning rate must be >= 0, got ${lr}`);
    if (params.length === 0) throw new RangeError('optimizer got no parameters (are they all frozen?)');
    this.lr = lr;
  }

  /** Drops all gradients (set to none, as PyTorch's default). */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Applies one update from the current .grad of each parameter. Parameters without a gradient are skipped. */
  step(): void {
    noGrad(() => {
      const withGrad: Tensor[] = [];
      const grads: Tensor[] = [];
      const index: number[] = [];
      this.params.forEach((p, i) => {
        const g = p.grad;
        if (g) {
          withGrad.push(p);
          grads.push(g);
          index.push(i);
        }
      });
      if (withGrad.length === 0) return;
      this.stepCount++;
      try {
        this.update(withGrad, grads, index);
      } finally {
        for (const g of grads) g.dispose();
      }
    });
  }

  protected abstract update(params: Tensor[], grads: Tensor[], index: number[]): void;

  /** Per-parameter state buffers (zeros like each parameter), created on first use. */
  protected buffers(name: string, index: number[]): Tensor[] {
    let all = this.state.get(name);
    if (!all) {
      all = this.params.map((p) => keep(zerosLike(p)));
      this.state.set(name, all);
    }
    return index.map((i) => all[i]);
  }

  /** Everything needed to resume: step count, lr and state buffers, by name. */
  stateDict(): { stepCount: number; lr: number; tensors: Map<string, Tensor> } {
    const tensors = new Map<string, Tensor>();
    for (const [name, list] of this.state) list.forEach((t, i) => tensors.set(`${name}.${i}`, t));
    return { stepCount: this.stepCount, lr: this.lr, tensors };
  }

  loadStateDict(s: { stepCount: number; lr: number; tensors: Map<string, Tensor> }): void {
    this.stepCount = s.stepCount;
    this.lr = s.lr;
    const names = new Set([...s.tensors.keys()].map((k) => k.slice(0, k.lastIndexOf('.'))));
    noGrad(() => {
      for (const name of names) {
        const mine = this.buffers(name, this.params.map((_, i) => i));
        mine.forEach((t, i) => {
          const src = s.tensors.get(`${name}.${i}`);
          if (!src) throw new StateDictError(`optimizer state ${name}.${i} missing from checkpoint: it was saved for other parameters or another optimizer`);
          t.copy_(src);
        });
      }
    });
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[], o: SGDOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new RangeError('nesterov needs momentum > 0 and dampening = 0');
  }

  protected update(params: Tensor[], grads: Tensor[], index: number[]): void {
    const p = handles(params);
    // The update direction; weight decay and Nesterov make new tensors, never touching .grad.
    const temporaries: NativeTensor[][] = [];
    const fresh = (ts: NativeTensor[]) => (temporaries.push(ts), ts);
    let d = handles(grads);
    if (this.weightDecay) d = fresh(callRaw('_foreach_add', 'List', [d, p, this.weightDecay]) as NativeTensor[]);
    if (this.momentum) {
      const bufs = handles(this.buffers('momentum', index));
      if (this.stepCount === 1) {
        // First step: buffer = gradient (PyTorch clones it; no dampening applied).
        callVoid('_foreach_add_', 'List', [bufs, d, 1]);
      } else {
        callVoid('_foreach_mul_', 'Scalar', [bufs, this.momentum]);
        callVoid('_foreach_add_', 'List', [bufs, d, 1 - this.dampening]);
      }
      d = this.nesterov ? fresh(callRaw('_foreach_add', 'List', [d, bufs, this.momentum]) as NativeTensor[]) : bufs;
    }
    callVoid('_foreach_add_', 'List', [p, d, -this.lr]);
    for (const list of temporaries) for (const t of list) t.dispose();
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam (L2 weight decay added to the gradient). */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected decoupled = false;

  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, o.lr ?? 1e-3);
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
  }

  protected update(params: Tensor[], grads: Tensor[], index: number[]): void {
    const [b1, b2] = this.betas;
    const p = handles(params);
    const m = handles(this.buffers('exp_avg', index));
    const v = handles(this.buffers('exp_avg_sq', index));
    // L2 decay goes into a new gradient tensor: .grad itself stays as backward left it.
    const decayed = this.weightDecay && !this.decoupled ? (callRaw('_foreach_add', 'List', [handles(grads), p, this.weightDecay]) as NativeTensor[]) : null;
    const g = decayed ?? handles(grads);
    if (this.weightDecay && this.decoupled) callVoid('_foreach_mul_', 'Scalar', [p, 1 - this.lr * this.weightDecay]);
    callVoid('_foreach_mul_', 'Scalar', [m, b1]);
    callVoid('_foreach_add_', 'List', [m, g, 1 - b1]);
    callVoid('_foreach_mul_', 'Scalar', [v, b2]);
    callVoid('_foreach_addcmul_', 'Scalar', [v, g, g, 1 - b2]);
    const bc1 = 1 - b1 ** this.stepCount;
    const bc2 = 1 - b2 ** this.stepCount;
    const stepSize = this.lr / bc1;
    // denom = sqrt(v) / sqrt(bc2) + eps, in fresh tensors (v itself must not change).
    const denom = callRaw('_foreach_sqrt', '', [v]) as NativeTensor[];
    callVoid('_foreach_div_', 'Scalar', [denom, Math.sqrt(bc2)]);
    callVoid('_foreach_add_', 'Scalar', [denom, this.eps]);
    callVoid('_foreach_addcdiv_', 'Scalar', [p, m, denom, -stepSize]);
    for (const t of [...denom, ...(decayed ?? [])]) t.dispose();
  }
}

/** AdamW: weight decay applied to the weights directly, decoupled from the gradient. */
export class AdamW extends Adam {
  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, { weightDecay: 0.01, ...o });
    this.decoupled = true;
  }
}
