// Module: the unit models are built from, as in torch.nn.Module. Parameters and buffers are
// registered by name, children nest, and names join with '.' (conv1.weight, features.0.bias).
import { keep, noGrad, type MemoryFormat, type Tensor } from '../engine/index.js';
import { S2SNetsError } from '../common/errors.js';

export type StateDict = Map<string, Tensor>;

export class StateDictError extends S2SNetsError {
  override name = 'StateDictError';
  static override readonly codes = ['S2SNETS_STATE_DICT'] as const;
}

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor | null>();
  private readonly children = new Map<string, Module>();

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Registers a trainable tensor; it is kept alive past any tidy() scope. */
  protected param(name: string, t: Tensor | null): Tensor {
    if (t) keep(t.requiresGrad_(true));
    this.params.set(name, t);
    return t as Tensor;
  }

  /** Registers state that is saved but not trained (e.g. BatchNorm running statistics). */
  protected buffer(name: string, t: Tensor | null): Tensor {
    if (t) keep(t);
    this.buffers.set(name, t);
    return t as Tensor;
  }

  /** Registers a child module under name. */
  addModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, m] of this.children) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, p] of m.params) if (p) out.push([prefix ? `${prefix}.${name}` : name, p]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Parameters that autograd will compute gradients for (not frozen). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, b] of m.buffers) if (b) out.push([prefix ? `${prefix}.${name}` : name, b]);
    }
    return out;
  }

  /** Switches training behaviour (dropout, batch-norm statistics) of this module and its children. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Stops gradient computation for every parameter (or resumes it with freeze(false)). */
  freeze(frozen = true): this {
    for (const p of this.parameters()) p.requiresGrad_(!frozen);
    return this;
  }

  /**
   * Moves every parameter and buffer to a device and/or dtype, in place. memoryFormat
   * 'channels_last' lays out the 4-d ones (conv weights) as NHWC.
   */
  to(opts: { device?: string; dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16'; memoryFormat?: MemoryFormat }): this {
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const store of [m.params, m.buffers]) {
          for (const [name, t] of store) {
            if (!t) continue;
            const floating = t.dtype.startsWith('float') || t.dtype === 'bfloat16';
            const memoryFormat = t.shape.length === 4 ? opts.memoryFormat : undefined;
            const moved = keep(t.to({ device: opts.device, dtype: floating ? opts.dtype : undefined, memoryFormat }));
            if (store === m.params) moved.requiresGrad_(t.requiresGrad);
            t.dispose();
            store.set(name, moved);
            // Layers keep typed fields pointing at their tensors; refresh them by name.
            (m as unknown as Record<string, unknown>)[name] = moved;
          }
        }
      }
    });
    return this;
  }

  /**
   * Sets parameter `name` of this module (adding it if absent, e.g. a bias that BatchNorm
   * folding creates) and the layer field of the same name; the replaced tensor is disposed.
   */
  setParameter(name: string, t: Tensor): void {
    const old = this.params.get(name);
    this.params.set(name, keep(t));
    (this as unknown as Record<string, unknown>)[name] = t;
    if (old && old !== t) old.dispose();
  }

  /** Parameters and buffers by dotted name; the tensors are the module's own (not copies). */
  stateDict(): StateDict {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values from a state dict. Strict mode requires the same names and shapes; the
   * error lists what is missing, unexpected or mismatched.
   */
  loadStateDict(state: StateDict, strict = true): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const src = state.get(k);
      if (src && src.shape.join(',') !== t.shape.join(',')) mismatched.push(`${k}: checkpoint [${src.shape}] vs model [${t.shape}]`);
    }
    if (mismatched.length || (strict && (missing.length || unexpected.length))) {
      const parts = [];
      if (missing.length) parts.push(`missing: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected: ${unexpected.join(', ')}`);
      if (mismatched.length) parts.push(`shape mismatch: ${mismatched.join('; ')}`);
      throw new StateDictError(`state dict does not fit ${this.constructor.name} (${parts.join(' | ')})`);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = state.get(k);
        if (src) t.copy_(src);
      }
    });
    return { missing, unexpected };
  }

  /** Total number of parameter elements. */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }
}

/**
 * Puts `model` in NHWC layout when asked and says how an input enters it (contiguous in the same
 * layout). A layout change replaces the parameter tensors: call it before building an optimizer.
 * @param model the module (changed in place with `channelsLast`)
 * @param channelsLast whether to use NHWC
 * @returns the input as the model takes it
 * @example const input = inputLayout(model, true); const logits = model.forward(input(x));
 */
export function inputLayout(model: Module, channelsLast: boolean | undefined): (x: Tensor) => Tensor {
  if (!channelsLast) return (x) => x;
  model.to({ memoryFormat: 'channels_last' });
  return (x) => x.contiguous('channels_last');
}
