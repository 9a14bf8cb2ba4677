// TorchScript classifiers (torch.jit.script / torch.jit.trace, saved with .save()) run by
// libtorch itself, wrapped as an nn Module: its parameters are the script module's own tensors,
// so freeze() stops weight gradients inside it while gradients still flow back into the input.
import { existsSync } from 'node:fs';
import { Tensor } from '../engine/index.js';
import { native, type NativeScriptModule, type NativeTensor } from '../engine/native.js';
import { Module } from '../nn/index.js';
import { S2SNetsError } from '../common/errors.js';

/** A TorchScript file cannot be loaded or run. */
export class TorchScriptError extends S2SNetsError {
  override name = 'TorchScriptError';
  static override readonly codes = ['S2SNETS_TORCHSCRIPT'] as const;
}

export interface LoadTorchScriptOptions {
  /** Device to run on (default 'cpu'). */
  device?: string;
}

/**
 * libtorch's messages carry a multi-line TorchScript traceback; keep the line that says what went
 * wrong: the closing `RuntimeError: ...` of an interpreter traceback, else the first line.
 */
function firstLine(e: unknown): string {
  const lines = String((e as Error).message ?? e).split('\n').filter((l) => l.trim());
  return [...lines].reverse().find((l) => /^\w*(Error|Exception): /.test(l)) ?? lines[0] ?? 'unknown error';
}

function isTensorHandle(v: unknown): v is NativeTensor {
  return v !== null && typeof v === 'object' && 'shape' in v && 'dtype' in v && typeof (v as NativeTensor).dispose === 'function';
}

export class TorchScriptModule extends Module {
  constructor(
    private readonly script: NativeScriptModule,
    readonly file: string,
  ) {
    super();
    this.adoptTensors();
    // A classifier is imported to be evaluated: start in eval mode (train() switches back).
    this.eval();
  }

  /** Registers the script module's own parameter and buffer tensors (shared, not copied). */
  private adoptTensors(): void {
    for (const [name, h] of Object.entries(this.script.namedParameters())) {
      const requiresGrad = h.requiresGrad;
      this.param(name, new Tensor(h)).requiresGrad_(requiresGrad);
    }
    for (const [name, h] of Object.entries(this.script.namedBuffers())) this.buffer(name, new Tensor(h));
  }

  /** Runs the module's forward on x; a tuple result (e.g. auxiliary logits) yields its first tensor. */
  forward(x: Tensor): Tensor {
    let out: unknown;
    try {
      out = this.script.forward([x.handle]);
    } catch (e) {
      throw new TorchScriptError(`${this.file}: forward on input [${x.shape}] ${x.dtype} failed: ${firstLine(e)}`);
    }
    const first = Array.isArray(out) ? out[0] : out;
    if (Array.isArray(out)) for (const extra of out.slice(1)) if (isTensorHandle(extra)) extra.dispose();
    if (!isTensorHandle(first)) throw new TorchScriptError(`${this.file}: forward returned ${first === null ? 'None' : typeof first}, not a tensor`);
    return new Tensor(first);
  }

  override train(on = true): this {
    super.train(on);
    this.script.train(on);
    return this;
  }

  /** Moves the script module to a device; its dtype stays as saved. */
  override to(opts: { device?: string; dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16' }): this {
    if (opts.dtype) throw new TorchScriptError(`${this.file}: a TorchScript module keeps the dtype it was saved with (asked for ${opts.dtype})`);
    if (!opts.device) return this;
    const frozen = new Map(this.namedParameters().map(([n, p]) => [n, !p.requiresGrad]));
    try {
      this.script.to(opts.device);
    } catch (e) {
      throw new TorchScriptError(`${this.file}: cannot move to ${opts.device}: ${firstLine(e)}`);
    }
    this.adoptTensors();
    for (const [n, p] of this.namedParameters()) if (frozen.get(n)) p.requiresGrad_(false);
    return this;
  }
}

/** Loads a TorchScript module (a .pt file from torch.jit.save or ScriptModule.save). */
export function loadTorchScriptClassifier(path: string, options: LoadTorchScriptOptions = {}): TorchScriptModule {
  if (!existsSync(path)) throw new TorchScriptError(`${path}: file not found`);
  let script: NativeScriptModule;
  try {
    script = native.loadScriptModule(path);
  } catch (e) {
    throw new TorchScriptError(`${path}: not a loadable TorchScript module (${firstLine(e)}); a torch.save checkpoint loads with loadPth instead`);
  }
  const m = new TorchScriptModule(script, path);
  return options.device && options.device !== 'cpu' ? m.to({ device: options.device }) : m;
}
