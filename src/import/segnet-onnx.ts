// The SegNet autoencoder written out as an ONNX graph, so that an A_S or S2S autoencoder runs in
// ONNX Runtime and other ONNX tools. The graph is the eval-mode forward as it is: Conv,
// BatchNormalization (not folded, so the layers keep the authors' names), Relu, MaxPool with its
// Indices output, and MaxUnpool with those indices and the pre-pool shape. Nodes carry the
// module names (encoder.conv11, decoder.bn53d) and initializers the state-dict names
// (encoder.conv11.weight), the same names as the weights' safetensors.
import type { Tensor } from '../engine/index.js';
import { BatchNorm2d, type Conv2d, type Module } from '../nn/index.js';
import { SEGNET_POOL, type SegNet } from '../models/segnet.js';
import { encodeOnnxModel, type OnnxNodeSpec } from './onnx/write.js';

/** Opset of the written graph: old enough for most runtimes, new enough for every operator used. */
export const SEGNET_ONNX_OPSET = 13;

/** Names of the graph's input (normalized images) and output (their reconstructions). */
export const SEGNET_ONNX_INPUT = 'input';
export const SEGNET_ONNX_OUTPUT = 'reconstruction';

type ConvBnRelu = SegNet['encoder']['stages'][number][number];

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Nodes and initializers of one graph, named after the modules of one SegNet. */
class SegNetGraph {
  readonly nodes: OnnxNodeSpec[] = [];
  readonly initializers = new Map<string, Tensor>();
  private readonly names: Map<Module, string>;
  private readonly state: Map<string, Tensor>;

  constructor(segnet: SegNet) {
    this.names = new Map([...segnet.namedModules()].map(([name, m]) => [m, name]));
    this.state = segnet.stateDict();
  }

  private nameOf(m: Module): string {
    const name = this.names.get(m);
    if (name === undefined) throw new Error('SegNet graph: a layer is not registered as a module of the SegNet');
    return name;
  }

  /** An initializer taken from the state dict by its name; returns the name. */
  private weight(name: string): string {
    const t = this.state.get(name);
    if (!t) throw new Error(`SegNet graph: the SegNet has no ${name}`);
    this.initializers.set(name, t);
    return name;
  }

  conv(x: string, conv: Conv2d, out?: string): string {
    const name = this.nameOf(conv);
    const o = conv.options;
    const [ph, pw] = pair(o.padding ?? 0);
    const inputs = [x, this.weight(`${name}.weight`), ...(conv.bias ? [this.weight(`${name}.bias`)] : [])];
    const attributes = { kernel_shape: { ints: pair(conv.kernelSize) }, strides: { ints: pair(o.stride ?? 1) }, pads: { ints: [ph, pw, ph, pw] }, dilations: { ints: pair(o.dilation ?? 1) }, group: { int: o.groups ?? 1 } };
    this.nodes.push({ op: 'Conv', name, inputs, outputs: [out ?? name], attributes });
    return out ?? name;
  }

  convBnRelu(x: string, layer: ConvBnRelu): string {
    const c = this.conv(x, layer.conv);
    if (!(layer.bn instanceof BatchNorm2d)) throw new TypeError('SegNet graph: the BatchNorms are folded into the convolutions; export the SegNet as loaded, before folding');
    const bn = this.nameOf(layer.bn);
    const stats = ['weight', 'bias', 'running_mean', 'running_var'].map((k) => this.weight(`${bn}.${k}`));
    this.nodes.push({ op: 'BatchNormalization', name: bn, inputs: [c, ...stats], outputs: [bn], attributes: { epsilon: { float: layer.bn.eps } } });
    const relu = `${bn}.relu`;
    this.nodes.push({ op: 'Relu', name: relu, inputs: [bn], outputs: [relu] });
    return relu;
  }

  /** Max-pool of stage `stage` (1-based): the pooled values, the flat argmax indices and the input's shape for unpooling. */
  pool(x: string, stage: number): { pooled: string; indices: string; shape: string } {
    const name = `encoder.pool${stage}`;
    const shape = `${name}.input_shape`;
    this.nodes.push({ op: 'Shape', name: shape, inputs: [x], outputs: [shape] });
    this.nodes.push({ op: 'MaxPool', name, inputs: [x], outputs: [name, `${name}.indices`], attributes: this.poolAttributes() });
    return { pooled: name, indices: `${name}.indices`, shape };
  }

  unpool(x: string, stage: number, from: { indices: string; shape: string }): string {
    const name = `decoder.unpool${stage}`;
    this.nodes.push({ op: 'MaxUnpool', name, inputs: [x, from.indices, from.shape], outputs: [name], attributes: this.poolAttributes() });
    return name;
  }

  private poolAttributes() {
    return { kernel_shape: { ints: [SEGNET_POOL, SEGNET_POOL] }, strides: { ints: [SEGNET_POOL, SEGNET_POOL] } };
  }
}

/**
 * Encodes a SegNet (eval-mode forward, BatchNorms not folded) as an ONNX model with a dynamic
 * batch, height and width: input `input` [batch, C, height, width] in the model's normalized
 * space, output `reconstruction` of the same shape. Height and width must be at least
 * 2^stages; odd sides are pooled and unpooled as the SegNet does (the pre-pool shape is kept).
 * @param segnet the autoencoder, as loaded (loadSegNetWeights)
 * @param producer the tool and version recorded in the file
 * @returns the bytes of the .onnx file
 * @throws TypeError when the SegNet's BatchNorms are folded into its convolutions
 * @example writeFileAtomic('ae.onnx', segnetToOnnx(ae, { name: 's2snets', version: '1.0.0' }));
 */
export function segnetToOnnx(segnet: SegNet, producer: { name: string; version: string }): Uint8Array {
  const g = new SegNetGraph(segnet);
  const pools: { indices: string; shape: string }[] = [];
  let x = SEGNET_ONNX_INPUT;
  segnet.encoder.stages.forEach((stage, s) => {
    for (const layer of stage) x = g.convBnRelu(x, layer);
    const p = g.pool(x, s + 1);
    pools.push(p);
    x = p.pooled;
  });
  segnet.decoder.stages.forEach((stage, i) => {
    const k = pools.length - 1 - i;
    x = g.unpool(x, k + 1, pools[k]);
    for (const layer of stage) x = g.convBnRelu(x, layer);
  });
  g.conv(x, segnet.decoder.final, SEGNET_ONNX_OUTPUT);
  const dims = ['batch', segnet.config.inChannels, 'height', 'width'];
  return encodeOnnxModel({
    graphName: 'segnet',
    opset: SEGNET_ONNX_OPSET,
    producer,
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [{ name: SEGNET_ONNX_INPUT, dims }],
    outputs: [{ name: SEGNET_ONNX_OUTPUT, dims }],
  });
}
