// Layers, mirroring torch.nn. Each stores its parameters in fields named like the parameter
// ('weight', 'bias', 'running_mean'), which Module.to() relies on to move them.
import { F, empty, ones, zeros, type Tensor } from '../engine/index.js';
import { Module } from './module.js';
import { kaimingUniform_, uniform_ } from './init.js';

type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: Pair,
    readonly options: Conv2dOptions = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new RangeError(`Conv2d: channels ${inChannels}->${outChannels} not divisible by groups=${groups}`);
    // torch.nn.Conv2d's default initialisation: kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)).
    this.weight = this.param('weight', kaimingUniform_(empty([outChannels, inChannels / groups, kh, kw]), Math.sqrt(5)));
    const fanIn = (inChannels / groups) * kh * kw;
    this.bias = this.param('bias', options.bias === false ? null : uniform_(empty([outChannels]), 1 / Math.sqrt(fanIn)));
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }
}

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    this.weight = this.param('weight', kaimingUniform_(empty([outFeatures, inFeatures]), Math.sqrt(5)));
    this.bias = this.param('bias', bias ? uniform_(empty([outFeatures]), 1 / Math.sqrt(inFeatures)) : null);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export class BatchNorm2d extends Module {
  weight: Tensor;
  bias: Tensor;
  running_mean: Tensor;
  running_var: Tensor;
  num_batches_tracked: Tensor;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.param('weight', ones([numFeatures]));
    this.bias = this.param('bias', zeros([numFeatures]));
    this.running_mean = this.buffer('running_mean', zeros([numFeatures]));
    this.running_var = this.buffer('running_var', ones([numFeatures]));
    this.num_batches_tracked = this.buffer('num_batches_tracked', zeros([], { dtype: 'int64' }));
  }
  forward(x: Tensor): Tensor {
    if (this.training) this.num_batches_tracked.add_(1);
    return F.batchNorm(x, this.running_mean, this.running_var, { weight: this.weight, bias: this.bias, training: this.training, momentum: this.momentum, eps: this.eps });
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: F.PoolOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: F.PoolOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

export class LocalResponseNorm extends Module {
  constructor(
    readonly size: number,
    readonly alpha = 1e-4,
    readonly beta = 0.75,
    readonly k = 1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.localResponseNorm(x, this.size, this.alpha, this.beta, this.k);
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Runs its children in order; they are named 0, 1, 2, ... as in torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.addModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    return chain(x, ...this.layers.map((layer) => (t: Tensor) => layer.forward(t)));
  }
}

/**
 * Applies the functions in order, releasing each intermediate result as soon as the next
 * function has consumed it, as Python's refcounting does: its memory is reused right away
 * (autograd keeps its own reference to whatever backward needs). The input is never released.
 */
export function chain(x: Tensor, ...fns: ((t: Tensor) => Tensor)[]): Tensor {
  let out = x;
  for (const fn of fns) {
    const next = fn(out);
    if (out !== x && out !== next) out.dispose();
    out = next;
  }
  return out;
}

/** Holds modules by index without defining a forward order (torch.nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.addModule(String(i), m));
  }
  forward(): Tensor {
    throw new Error('ModuleList has no forward(); iterate over .items');
  }
}
