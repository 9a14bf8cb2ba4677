// OnnxModule: an ONNX classifier graph run on the engine, differentiable with respect to its input.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { cat, isFloating, keep, noGrad, tensor, tidy, zeros, type Tensor } from '../../engine/index.js';
import { Module } from '../../nn/index.js';
import { OnnxError, OnnxGraphError, OnnxParseError, OnnxRuntimeError, OnnxUnsupportedOperatorError } from './errors.js';
import { buildGraph, defaultOpset, OnnxNode, type OnnxGraph } from './graph.js';
import { int64ToNumber, type ModelProto, type NodeProto } from './schema.js';
import { OPERATORS, SUPPORTED_OPERATORS, type LoadInfo, type RunContext } from './ops.js';
import { decodeModel, decodeTensor, type ModelSource, type TensorData } from './proto.js';
import { Const, materialize, type Value } from './values.js';
import { ioReason } from '../../common/errors.js';

export interface OnnxModelInfo {
  file: string;
  producer: string;
  irVersion: number;
  opset: number;
  inputName: string;
  /** Declared input dims; null marks a symbolic (dynamic) one, e.g. the batch. */
  inputShape: (number | null)[] | null;
  /** The input dims when every one is fixed, else null. */
  staticInputShape: number[] | null;
  outputName: string;
  outputShape: (number | null)[] | null;
  /** Size of the last output axis when declared (the number of classes), else null. */
  numClasses: number | null;
  /** How many nodes use each operator. */
  operators: Record<string, number>;
  /**
   * The batch size the graph was exported with when it is fixed (a number in the input's first
   * dim), else null. Such a graph runs a batch of another size in chunks of this size.
   */
  fixedBatch: number | null;
}

export interface LoadOnnxOptions {
  /** Device for the weights ('cpu', 'cuda', 'cuda:1'); default cpu. */
  device?: string;
}

export class OnnxModule extends Module {
  readonly info: OnnxModelInfo;
  private readonly graph: OnnxGraph;
  /** Floating initializers: frozen parameters under their ONNX names. */
  private readonly weights = new Map<string, Tensor>();
  /** Integer initializers (shapes, axes, indices): kept in JavaScript. */
  private readonly constants = new Map<string, Const>();
  private device: string;

  constructor(graph: OnnxGraph, device = 'cpu') {
    super();
    this.graph = graph;
    this.device = device;
    for (const [name, data] of graph.initializers) {
      if (isFloating(data.dtype)) this.weights.set(name, keep(toTensor(data, device)));
      else this.constants.set(name, Const.of(data));
    }
    const operators: Record<string, number> = {};
    for (const n of graph.nodes) operators[n.opType] = (operators[n.opType] ?? 0) + 1;
    const { input, output } = graph;
    const last = output.shape?.[output.shape.length - 1];
    this.info = {
      file: graph.src.file,
      producer: graph.producer,
      irVersion: graph.irVersion,
      opset: graph.opset,
      inputName: input.name,
      inputShape: input.shape,
      staticInputShape: input.shape && input.shape.every((d) => d !== null) ? (input.shape as number[]) : null,
      outputName: output.name,
      outputShape: output.shape,
      numClasses: typeof last === 'number' ? last : null,
      operators,
      fixedBatch: typeof input.shape?.[0] === 'number' ? input.shape[0] : null,
    };
    this.eval();
  }

  /**
   * Runs the graph on x and returns its first output (the logits); gradients flow back to x.
   * A graph exported with a fixed batch size b (its Reshape targets hold b) runs a batch of
   * another size in chunks of b, the last one padded with blank images whose outputs are
   * dropped: a classifier in eval mode treats images independently, so this is exact.
   */
  forward(x: Tensor): Tensor {
    const b = this.info.fixedBatch;
    const n = x.shape[0];
    if (b === null || b === 0 || n === b) return this.runGraph(x);
    return tidy(() => {
      const outputs: Tensor[] = [];
      for (let start = 0; start < n; start += b) {
        const count = Math.min(b, n - start);
        let chunk = x.slice(0, start, start + count);
        if (count < b) chunk = cat([chunk, zeros([b - count, ...x.shape.slice(1)], { dtype: x.dtype, device: x.device })], 0);
        const out = this.runGraph(chunk);
        outputs.push(count < b ? out.slice(0, 0, count) : out);
      }
      return cat(outputs, 0);
    });
  }

  private runGraph(x: Tensor): Tensor {
    const { nodes, lastUse, input, output } = this.graph;
    const floatDtype = this.weights.values().next().value?.dtype ?? x.dtype;
    const ctx: RunContext = { device: this.device, floatDtype: isFloating(floatDtype) ? floatDtype : 'float32' };
    const values = new Map<string, Value>([[input.name, x]]);
    // Tensors this call made; Identity and Dropout may pass weights or x through by reference.
    const weights = new Set(this.weights.values());
    const temporary = (v: Value | undefined): v is Tensor => v !== undefined && v !== x && !(v instanceof Const) && !weights.has(v);
    const lookup = (name: string): Value | undefined => (name === '' ? undefined : (values.get(name) ?? this.weights.get(name) ?? this.constants.get(name)));
    try {
      nodes.forEach((node, step) => {
        let outs: Value[];
        try {
          outs = OPERATORS[node.opType].run(node, node.inputs.map(lookup), ctx);
        } catch (e) {
          if (e instanceof OnnxError) throw e;
          throw new OnnxRuntimeError(`${node.where} failed: ${(e as Error).message.split('\n')[0]}`);
        }
        node.outputs.forEach((name, i) => name !== '' && outs[i] !== undefined && values.set(name, outs[i]));
        // Free intermediates as soon as their last reader has run (autograd keeps what it needs).
        for (const name of node.inputs) {
          const v = values.get(name);
          if (lastUse.get(name) === step && name !== output.name && temporary(v) && !outs.includes(v)) {
            v.dispose();
            values.delete(name);
          }
        }
      });
      const result = lookup(output.name);
      if (result === undefined) throw new OnnxRuntimeError(`${this.info.file}: graph output '${output.name}' was not computed`);
      return result instanceof Const ? materialize(result, this.device, ctx.floatDtype) : result;
    } finally {
      const returned = values.get(output.name);
      for (const v of values.values()) if (v !== returned && temporary(v) && !v.disposed) v.dispose();
    }
  }

  /** Frees the weights' native memory; the module cannot run afterwards. */
  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
    this.weights.clear();
  }

  override namedParameters(): [string, Tensor][] {
    return [...this.weights];
  }

  /** Moves the weights to a device and/or float dtype, in place. */
  override to(opts: { device?: string; dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16' }): this {
    noGrad(() => {
      for (const [name, t] of this.weights) {
        const moved = keep(t.to({ device: opts.device, dtype: opts.dtype }));
        moved.requiresGrad_(t.requiresGrad);
        t.dispose();
        this.weights.set(name, moved);
      }
    });
    if (opts.device) this.device = opts.device;
    return this;
  }
}

function toTensor(data: TensorData, device: string): Tensor {
  return tensor(data.values, data.dims, { dtype: data.dtype, device });
}

/**
 * The operators of a node list this importer cannot run, as `[name, node count]`, domain-qualified
 * outside the default domain; empty when every node is supported.
 * @param nodes The graph's nodes, straight from the decoded file (no weights needed).
 * @example unsupportedOperators(model.graph.node) // [['HardSwish', 4]]
 */
export function unsupportedOperators(nodes: readonly NodeProto[]): [string, number][] {
  const missing = new Map<string, number>();
  for (const node of nodes) {
    const defaultDomain = node.domain === '' || node.domain === 'ai.onnx';
    if (defaultDomain && Object.hasOwn(OPERATORS, node.opType)) continue;
    const op = defaultDomain ? node.opType : `${node.domain}.${node.opType}`;
    missing.set(op, (missing.get(op) ?? 0) + 1);
  }
  return [...missing];
}

/**
 * Why a graph cannot run here, or null when it can: every unsupported operator named at once, or
 * else the first unsupported mode of a supported one. Looks at the node list only, so it answers
 * before any weight is decoded.
 * @param model A decoded model.
 * @param opset Its default-domain opset (see defaultOpset).
 * @param src Names the file in the message.
 * @example graphSupportProblem(model, 17, src) // OnnxUnsupportedOperatorError('m.onnx: 1 ONNX operator is not supported at opset 17: Foo (2 nodes); ...')
 */
export function graphSupportProblem(model: ModelProto, opset: number, src: ModelSource): OnnxUnsupportedOperatorError | null {
  const nodes = model.graph!.node;
  const missing = unsupportedOperators(nodes);
  if (missing.length) {
    const list = missing.map(([op, count]) => `${op} (${count} node${count === 1 ? '' : 's'})`).join(', ');
    return new OnnxUnsupportedOperatorError(`${src.file}: ${missing.length} ONNX operator${missing.length === 1 ? ' is' : 's are'} not supported at opset ${opset}: ${list}; supported: ${SUPPORTED_OPERATORS.join(', ')}`);
  }
  try {
    const load = loadInfo(model, src);
    for (const proto of nodes) OPERATORS[proto.opType].check?.(new OnnxNode(proto, opset, src), load);
  } catch (e) {
    if (e instanceof OnnxUnsupportedOperatorError) return e;
    throw e;
  }
  return null;
}

/** Small tensors (flags, axes, ratios) are decoded for checks; larger ones never are. */
const CHECKED_CONSTANT_LIMIT = 64;

/**
 * What checks may know before any weight is decoded: initializer dims, and the values of small
 * tensors held by initializers or Constant nodes (exporters write flags such as Dropout's
 * training_mode either way).
 */
function loadInfo(model: ModelProto, src: ModelSource): LoadInfo {
  const graph = model.graph!;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const known = new Map(initializers);
  for (const n of graph.node) {
    const value = n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx') ? n.attribute.find((a) => a.name === 'value')?.t : null;
    if (value && n.output[0]) known.set(n.output[0], value);
  }
  return {
    dims: (name) => initializers.get(name)?.dims.map((d) => int64ToNumber(d)) ?? null,
    constant: (name) => {
      const t = known.get(name);
      if (!t || t.dims.reduce<number>((p, d) => p * int64ToNumber(d), 1) > CHECKED_CONSTANT_LIMIT) return null;
      return Const.of(decodeTensor(t, src, `${src.file}: constant '${name}'`)).values;
    },
  };
}

/** Parses and checks a model held in memory; `file` names it in errors and anchors external data. */
export function loadOnnxClassifierFromBytes(bytes: Uint8Array, opts: LoadOnnxOptions & { file: string }): OnnxModule {
  const src: ModelSource = { file: opts.file, dir: dirname(resolve(opts.file)) };
  const model = decodeModel(bytes, src);
  const problem = graphSupportProblem(model, defaultOpset(model, src.file), src);
  if (problem) throw problem;
  const graph = buildGraph(model, src);
  try {
    return new OnnxModule(graph, opts.device ?? 'cpu');
  } catch (e) {
    // libtorch refusing a constant (absurd dims, say) is a property of the file, not a crash.
    if (e instanceof OnnxError || !(e instanceof Error)) throw e;
    throw new OnnxGraphError(`${src.file}: the graph's constants cannot be built (${e.message.split('\n')[0].slice(0, 200)})`);
  }
}

/** Loads an ONNX image classifier: one input [N, C, H, W], first output the logits [N, classes]. */
export async function loadOnnxClassifier(path: string, opts: LoadOnnxOptions = {}): Promise<OnnxModule> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new OnnxParseError(`${path}: cannot read the model file (${ioReason(e)})`);
  }
  return loadOnnxClassifierFromBytes(bytes, { ...opts, file: path });
}
