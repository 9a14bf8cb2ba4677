// Autograd controls beyond Tensor.backward(): gradient mode and functional gradients.
import { native } from './native.js';
import { Tensor } from './tensor.js';

/** Runs fn with gradient recording off (like torch.no_grad()); restores the previous mode. */
export function noGrad<T>(fn: () => T): T {
  const prev = native.isGradEnabled();
  native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.isGradEnabled();
  native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/**
 * Gradients of outputs with respect to inputs, without touching any .grad field (like
 * torch.autograd.grad). An input that does not influence the outputs gets null. As in torch,
 * retainGraph defaults to createGraph: differentiating the gradients again runs through the graph.
 */
export function grad(outputs: Tensor[], inputs: Tensor[], opts: { gradOutputs?: Tensor[]; retainGraph?: boolean; createGraph?: boolean } = {}): (Tensor | null)[] {
  const res = native.grad(
    outputs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    opts.gradOutputs ? opts.gradOutputs.map((t) => t.handle) : null,
    opts.retainGraph ?? opts.createGraph ?? false,
    opts.createGraph ?? false,
  );
  return res.map((h) => (h ? new Tensor(h) : null));
}

/** Backpropagates from several outputs at once. */
export function backward(outputs: Tensor[], gradOutputs?: Tensor[], retainGraph = false): void {
  native.backward(outputs.map((t) => t.handle), gradOutputs ? gradOutputs.map((t) => t.handle) : null, retainGraph);
}
