// A validated view of an ONNX graph: nodes with typed attribute access, in topological order,
// with every input accounted for and the step after which each value is no longer needed.
import { OnnxGraphError, OnnxUnsupportedOperatorError } from './errors.js';
import { decodeTensor, type ModelSource, type TensorData } from './proto.js';
import { AttributeType, int64ToNumber, type AttributeProto, type ModelProto, type NodeProto, type ValueInfoProto } from './schema.js';

export class OnnxNode {
  private readonly attrs: Map<string, AttributeProto>;

  constructor(
    readonly proto: NodeProto,
    readonly opset: number,
    private readonly src: ModelSource,
  ) {
    this.attrs = new Map(proto.attribute.map((a) => [a.name, a]));
  }

  get opType(): string {
    return this.proto.opType;
  }
  get name(): string {
    return this.proto.name;
  }
  get domain(): string {
    return this.proto.domain;
  }
  get inputs(): string[] {
    return this.proto.input;
  }
  get outputs(): string[] {
    return this.proto.output;
  }
  /** "file: node 'conv1' (Conv)", the prefix of every message about this node. */
  get where(): string {
    return `${this.src.file}: node '${this.name || this.outputs[0] || '?'}' (${this.opType})`;
  }

  /** An error about this node, for `throw node.error(...)`. */
  error(reason: string): OnnxGraphError {
    return new OnnxGraphError(`${this.where}: ${reason}`);
  }

  has(name: string): boolean {
    return this.attrs.has(name);
  }

  private attr(name: string, type: number): AttributeProto | undefined {
    const a = this.attrs.get(name);
    // Files written before IR v3 may leave `type` unset; trust the field then.
    if (a && a.type !== 0 && a.type !== type) throw this.error(`attribute '${name}' has type ${a.type}, expected ${type}`);
    return a;
  }

  int(name: string, fallback?: number): number {
    const a = this.attr(name, AttributeType.INT);
    if (a) return int64ToNumber(a.i);
    if (fallback === undefined) throw this.error(`required attribute '${name}' is missing`);
    return fallback;
  }
  ints(name: string, fallback?: number[]): number[] {
    const a = this.attr(name, AttributeType.INTS);
    if (a) return a.ints.map((v) => int64ToNumber(v));
    if (fallback === undefined) throw this.error(`required attribute '${name}' is missing`);
    return fallback;
  }
  float(name: string, fallback?: number): number {
    const a = this.attr(name, AttributeType.FLOAT);
    if (a) return a.f;
    if (fallback === undefined) throw this.error(`required attribute '${name}' is missing`);
    return fallback;
  }
  floats(name: string, fallback?: number[]): number[] {
    const a = this.attr(name, AttributeType.FLOATS);
    if (a) return [...a.floats];
    if (fallback === undefined) throw this.error(`required attribute '${name}' is missing`);
    return fallback;
  }
  string(name: string, fallback?: string): string {
    const a = this.attr(name, AttributeType.STRING);
    if (a) return Buffer.from(a.s).toString('utf8');
    if (fallback === undefined) throw this.error(`required attribute '${name}' is missing`);
    return fallback;
  }
  tensor(name: string): TensorData | undefined {
    const a = this.attr(name, AttributeType.TENSOR);
    if (!a) return undefined;
    if (!a.t) throw this.error(`attribute '${name}' holds no tensor`);
    return decodeTensor(a.t, this.src, `${this.where} attribute '${name}'`);
  }
  /** Names of the attributes present (for checks against what an operator understands). */
  attributeNames(): string[] {
    return [...this.attrs.keys()];
  }
}

export interface ValueInfo {
  name: string;
  elemType: number;
  /** Dims, null for a symbolic or unknown one; null when the rank itself is unknown. */
  shape: (number | null)[] | null;
}

export interface OnnxGraph {
  src: ModelSource;
  opset: number;
  irVersion: number;
  producer: string;
  /** Nodes in an order where every node runs after the producers of its inputs. */
  nodes: OnnxNode[];
  initializers: Map<string, TensorData>;
  input: ValueInfo;
  output: ValueInfo;
  /** Index in `nodes` of the last node reading each value. */
  lastUse: Map<string, number>;
}

function valueInfo(v: ValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  const shape = tt?.shape ? tt.shape.dim.map((d) => (d.dimValue !== null && d.dimValue !== undefined && d.value !== 'dimParam' ? int64ToNumber(d.dimValue) : null)) : null;
  return { name: v.name, elemType: tt?.elemType ?? 0, shape };
}

/**
 * The version of the default operator set a model imports.
 * @param model A decoded model.
 * @param file Names the model in errors.
 * @throws OnnxGraphError when the model imports none; OnnxUnsupportedOperatorError for one outside 7 to 22.
 * @example defaultOpset(decodeModel(bytes, src), 'model.onnx') // 17
 */
export function defaultOpset(model: ModelProto, file: string): number {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!entry) throw new OnnxGraphError(`${file}: the model imports no version of the default ONNX operator set`);
  const opset = int64ToNumber(entry.version);
  if (opset < 7 || opset > 22) throw new OnnxUnsupportedOperatorError(`${file}: ONNX operator set ${opset} is not supported (7 to 22 are); re-export the model at opset 11 to 17`);
  return opset;
}

/** Checks the graph's structure and orders its nodes; all errors name the file. */
export function buildGraph(model: ModelProto, src: ModelSource): OnnxGraph {
  const graph = model.graph!;
  const file = src.file;
  const opset = defaultOpset(model, file);

  const initializers = new Map<string, TensorData>();
  for (const [i, t] of graph.initializer.entries()) {
    const what = `${file}: initializer '${t.name || `#${i}`}'`;
    if (!t.name) throw new OnnxGraphError(`${what} has no name`);
    if (initializers.has(t.name)) throw new OnnxGraphError(`${what} is defined twice`);
    initializers.set(t.name, decodeTensor(t, src, what));
  }

  // Graph inputs that are also initializers are weights with defaults (IR < 4), not data inputs.
  const dataInputs = graph.input.filter((v) => !initializers.has(v.name));
  if (dataInputs.length !== 1) {
    throw new OnnxGraphError(`${file}: a classifier graph needs exactly one data input, this one has ${dataInputs.length} (${dataInputs.map((v) => v.name).join(', ') || 'none'})`);
  }
  if (graph.output.length < 1) throw new OnnxGraphError(`${file}: the graph declares no output`);
  const input = valueInfo(dataInputs[0]);
  const output = valueInfo(graph.output[0]);
  if (input.shape?.some((d) => d !== null && (!Number.isSafeInteger(d) || d < 0))) {
    throw new OnnxGraphError(`${file}: input '${input.name}' has invalid dims [${input.shape}]`);
  }

  const nodes = graph.node.map((n) => new OnnxNode(n, opset, src));
  const producer = new Map<string, number>();
  const available = new Set<string>([input.name, ...initializers.keys()]);
  for (const [i, n] of nodes.entries()) {
    for (const out of n.outputs) {
      if (out === '') continue;
      if (available.has(out) || producer.has(out)) throw n.error(`output '${out}' is already produced elsewhere in the graph`);
      producer.set(out, i);
    }
  }

  // Kahn's algorithm, keeping the file's order among ready nodes.
  const waiting = nodes.map(() => 0);
  const consumers = new Map<number, number[]>();
  for (const [i, n] of nodes.entries()) {
    for (const name of n.inputs) {
      if (name === '' || available.has(name)) continue;
      const p = producer.get(name);
      if (p === undefined) throw n.error(`input '${name}' is produced by no node, initializer or graph input`);
      waiting[i]++;
      consumers.set(p, [...(consumers.get(p) ?? []), i]);
    }
  }
  const ready = nodes.map((_, i) => i).filter((i) => waiting[i] === 0);
  const order: number[] = [];
  while (ready.length) {
    const i = ready.shift()!;
    order.push(i);
    for (const c of consumers.get(i) ?? []) if (--waiting[c] === 0) ready.push(c);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => waiting[i] > 0).map((n) => `'${n.name || n.outputs[0]}'`);
    throw new OnnxGraphError(`${file}: the graph has a cycle through nodes ${stuck.slice(0, 4).join(', ')}${stuck.length > 4 ? ` and ${stuck.length - 4} more` : ''}`);
  }
  const sorted = order.map((i) => nodes[i]);
  for (const o of graph.output) {
    if (!producer.has(o.name) && !available.has(o.name)) throw new OnnxGraphError(`${file}: graph output '${o.name}' is produced by no node`);
  }
  const lastUse = new Map<string, number>();
  sorted.forEach((n, i) => n.inputs.forEach((name) => lastUse.set(name, i)));

  return { src, opset, irVersion: int64ToNumber(model.irVersion), producer: `${model.producerName} ${model.producerVersion}`.trim(), nodes: sorted, initializers, input, output, lastUse };
}
