// Weight initialisation, as torch.nn.init. All fill in place (without recording gradients) and
// return the tensor. Random draws follow manualSeed().
import { noGrad, type Tensor } from '../engine/index.js';

/** fan_in and fan_out of a weight [out, in, ...kernel]. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  const [out, inp, ...kernel] = t.shape;
  if (inp === undefined) throw new RangeError(`fan in/out needs a tensor with at least 2 dims, got [${t.shape}]`);
  const receptive = kernel.reduce((a, b) => a * b, 1);
  return { fanIn: inp * receptive, fanOut: out * receptive };
}

function gain(nonlinearity: 'relu' | 'leaky_relu' | 'linear' | 'tanh' | 'sigmoid', a = 0): number {
  switch (nonlinearity) {
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + a * a));
    case 'tanh':
      return 5 / 3;
    default:
      return 1;
  }
}

/** U(-bound, bound). */
export function uniform_(t: Tensor, bound: number): Tensor {
  return noGrad(() => t.uniform_(-bound, bound));
}

/** He initialisation, uniform: bound = gain * sqrt(3 / fan_in), gain of leaky_relu(a). */
export function kaimingUniform_(t: Tensor, a = 0, mode: 'fanIn' | 'fanOut' = 'fanIn'): Tensor {
  const fan = fans(t)[mode];
  return uniform_(t, gain('leaky_relu', a) * Math.sqrt(3 / fan));
}

/** He initialisation, normal: std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, nonlinearity: 'relu' | 'leaky_relu' = 'relu', mode: 'fanIn' | 'fanOut' = 'fanIn'): Tensor {
  const fan = fans(t)[mode];
  return noGrad(() => t.normal_(0, gain(nonlinearity) / Math.sqrt(fan)));
}

/** Glorot initialisation, uniform: bound = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform_(t: Tensor, g = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  return uniform_(t, g * Math.sqrt(6 / (fanIn + fanOut)));
}

/** Glorot initialisation, normal: std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal_(t: Tensor, g = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  return noGrad(() => t.normal_(0, g * Math.sqrt(2 / (fanIn + fanOut))));
}

export function zeros_(t: Tensor): Tensor {
  return noGrad(() => t.zero_());
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}
