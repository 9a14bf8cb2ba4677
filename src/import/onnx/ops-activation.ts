// Elementwise activations and functions beyond the basic arithmetic of ops.ts.
import { F, type Tensor } from '../../engine/index.js';
import { T, need, unary, unsupported, type OpSpec } from './opkit.js';

/** An activation with float attributes (alpha, beta...), read with their ONNX defaults. */
function withAttributes(defaults: Record<string, number>, fn: (x: Tensor, a: Record<string, number>) => Tensor): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const a = Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, n.float(k, v)]));
      return [fn(T(need(n, inputs, 0), ctx), a)];
    },
  };
}

// SELU's defaults as ONNX writes them (float32 roundings of the exact constants).
const SELU = { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 };

export const ACTIVATION_OPERATORS: Record<string, OpSpec> = {
  PRelu: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const slope = T(need(n, inputs, 1), ctx);
      return [x.gt(0).where(x, x.mul(slope))];
    },
  },
  Elu: withAttributes({ alpha: 1 }, (x, a) => F.elu(x, a.alpha)),
  Celu: withAttributes({ alpha: 1 }, (x, a) => F.elu(x, a.alpha, 'celu')),
  Selu: withAttributes(SELU, (x, a) => F.elu(x, a.alpha).mul(a.gamma)),
  ThresholdedRelu: withAttributes({ alpha: 1 }, (x, a) => x.gt(a.alpha).where(x, x.mul(0))),
  Softplus: unary((x) => F.softplus(x)),
  Softsign: unary((x) => x.div(x.abs().add(1))),
  Mish: unary((x) => F.pointwise('mish', x)),
  Gelu: {
    check: (n) => {
      const approximate = n.string('approximate', 'none');
      if (approximate !== 'none' && approximate !== 'tanh') unsupported(n, `approximate '${approximate}'`);
    },
    run: (n, inputs, ctx) => [F.gelu(T(need(n, inputs, 0), ctx), n.string('approximate', 'none') as 'none' | 'tanh')],
  },
  Sin: unary((x) => F.pointwise('sin', x), Math.sin),
  Cos: unary((x) => F.pointwise('cos', x), Math.cos),
  Ceil: unary((x) => F.pointwise('ceil', x), Math.ceil),
  // ONNX rounds halves to even, as the engine does.
  Round: unary((x) => x.round()),
  Sign: unary((x) => x.sign(), Math.sign),
};
