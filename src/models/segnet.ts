// SegNet autoencoder of S2SNets (Palacio, Folz et al. 2018): a VGG16-shaped encoder whose
// max-pools keep their argmax indices, and a mirrored decoder that upsamples by max-unpooling
// with those indices. No transposed convolutions: they would paint checkerboards of their own
// and hide the classifier's. Parameter names follow the authors' release
// (encoder.conv11 ... conv53, decoder.conv53d ... conv11d, decoder.conv_final).
import { F, type Tensor } from '../engine/index.js';
import { BatchNorm2d, Conv2d, Module, chain, type FoldConvBn, type FoldsConvBn } from '../nn/index.js';

/** Channel widths per encoder stage; each stage ends in a 2x2 max-pool. */
export type SegNetStages = number[][];

/** The paper's widths: VGG16's 13 conv layers. */
export const VGG16_STAGES: SegNetStages = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];

/** A small SegNet for 28/32 px images: stages of 32 and 64 channels. */
export const SMALL_STAGES: SegNetStages = [[32, 32], [64, 64]];

/** Kernel and stride of every stage's max-pool (and so of the decoder's unpooling). */
export const SEGNET_POOL = 2;

export interface SegNetConfig {
  inChannels: number;
  stages: SegNetStages;
}

/** What the encoder hands the decoder: the code plus, per stage, pooling indices and pre-pool size. */
export interface Encoding {
  code: Tensor;
  indices: Tensor[];
  sizes: [number, number][];
}

/** conv 3x3 (stride 1, pad 1) -> BatchNorm -> ReLU. */
class ConvBnRelu {
  constructor(
    readonly conv: Conv2d,
    /** A BatchNorm2d, or an Identity once folded into conv (nn/fuse.ts). */
    public bn: Module,
  ) {}
  forward(x: Tensor): Tensor {
    return chain(x, (t) => this.conv.forward(t), (t) => this.bn.forward(t), (t) => t.relu());
  }
}

function convBn(owner: Module, name: string, cin: number, cout: number): ConvBnRelu {
  const conv = new Conv2d(cin, cout, 3, { padding: 1 });
  const bn = new BatchNorm2d(cout);
  owner.addModule(`conv${name}`, conv);
  owner.addModule(`bn${name}`, bn);
  return new ConvBnRelu(conv, bn);
}

/** For BatchNorm folding (nn/fuse.ts): every layer's conv feeds its BatchNorm directly. */
function foldStages(stages: ConvBnRelu[][], fold: FoldConvBn): void {
  for (const stage of stages) for (const layer of stage) layer.bn = fold(layer.conv, layer.bn);
}

export class SegNetEncoder extends Module implements FoldsConvBn {
  readonly stages: ConvBnRelu[][];

  constructor(cfg: SegNetConfig) {
    super();
    let cin = cfg.inChannels;
    this.stages = cfg.stages.map((widths, s) =>
      widths.map((cout, l) => {
        const layer = convBn(this, `${s + 1}${l + 1}`, cin, cout);
        cin = cout;
        return layer;
      }),
    );
  }

  encode(x: Tensor): Encoding {
    const indices: Tensor[] = [];
    const sizes: [number, number][] = [];
    const code = chain(
      x,
      ...this.stages.map((stage) => (input: Tensor) => {
        const features = chain(input, ...stage.map((layer) => (t: Tensor) => layer.forward(t)));
        sizes.push([features.size(2), features.size(3)]);
        const [pooled, idx] = F.maxPool2dWithIndices(features, SEGNET_POOL, { stride: SEGNET_POOL });
        if (features !== input) features.dispose();
        indices.push(idx);
        return pooled;
      }),
    );
    return { code, indices, sizes };
  }

  forward(x: Tensor): Tensor {
    return this.encode(x).code;
  }

  foldConvBn(fold: FoldConvBn): void {
    foldStages(this.stages, fold);
  }
}

export class SegNetDecoder extends Module implements FoldsConvBn {
  readonly stages: ConvBnRelu[][];
  readonly final: Conv2d;

  constructor(cfg: SegNetConfig) {
    super();
    const rev = [...cfg.stages].reverse();
    const n = rev.length;
    let cin = rev[0][rev[0].length - 1];
    // Decoder stage s mirrors encoder stage s: its layers count down (conv53d, conv52d, conv51d)
    // and its last layer narrows to the width of the encoder stage below.
    this.stages = rev.map((widths, i) => {
      const s = n - i;
      const next = i + 1 < n ? rev[i + 1][rev[i + 1].length - 1] : widths[0];
      return widths.map((w, j) => {
        const l = widths.length - j;
        const cout = j === widths.length - 1 ? next : w;
        const layer = convBn(this, `${s}${l}d`, cin, cout);
        cin = cout;
        return layer;
      });
    });
    this.final = this.addModule('conv_final', new Conv2d(cin, cfg.inChannels, 1));
  }

  decode(e: Encoding): Tensor {
    return chain(
      e.code,
      ...this.stages.flatMap((stage, i) => {
        const k = e.indices.length - 1 - i;
        return [(t: Tensor) => F.maxUnpool2d(t, e.indices[k], e.sizes[k]), ...stage.map((layer) => (t: Tensor) => layer.forward(t))];
      }),
      (t) => this.final.forward(t),
    );
  }

  foldConvBn(fold: FoldConvBn): void {
    foldStages(this.stages, fold);
  }

  forward(): Tensor {
    throw new Error('SegNetDecoder needs the encoder output: call decode(encoding)');
  }
}

export class SegNet extends Module {
  readonly encoder: SegNetEncoder;
  readonly decoder: SegNetDecoder;

  constructor(readonly config: SegNetConfig) {
    super();
    if (config.stages.length === 0 || config.stages.some((s) => s.length === 0)) throw new RangeError('SegNet needs at least one stage with at least one layer');
    this.encoder = this.addModule('encoder', new SegNetEncoder(config));
    this.decoder = this.addModule('decoder', new SegNetDecoder(config));
  }

  /** Input side length must be divisible by this (one halving per stage). */
  get sizeMultiple(): number {
    return 2 ** this.config.stages.length;
  }

  forward(x: Tensor): Tensor {
    return this.decoder.decode(this.encoder.encode(x));
  }
}

/**
 * Memory one training step of a SegNet needs, estimated without building it: parameters with
 * their gradients and two Adam moments, and per conv layer the activations autograd keeps (conv,
 * batch-norm and ReLU outputs) for a batch of `batch` images of size x size, float32.
 * @param config the SegNet's input channels and stages
 * @param size the side length of the images
 * @param batch images per step
 * @example
 * segnetTrainingBytes({ inChannels: 1, stages: SMALL_STAGES }, 32, 32).bytes // ~60 MB
 */
export function segnetTrainingBytes(config: SegNetConfig, size: number, batch: number): { parameters: number; bytes: number } {
  let parameters = 0;
  let activations = 0;
  const conv = (cin: number, cout: number, side: number) => {
    parameters += 9 * cin * cout + 3 * cout;
    activations += 3 * batch * cout * side * side;
  };
  const sides: number[] = [];
  let side = size;
  let cin = config.inChannels;
  for (const widths of config.stages) {
    for (const w of widths) {
      conv(cin, w, side);
      cin = w;
    }
    sides.push(side);
    side = Math.floor(side / 2);
  }
  const rev = [...config.stages].reverse();
  rev.forEach((widths, i) => {
    const next = i + 1 < rev.length ? rev[i + 1][rev[i + 1].length - 1] : widths[0];
    widths.forEach((w, j) => {
      const cout = j === widths.length - 1 ? next : w;
      conv(cin, cout, sides[sides.length - 1 - i]);
      cin = cout;
    });
  });
  parameters += cin * config.inChannels + config.inChannels;
  return { parameters, bytes: 4 * (4 * parameters + activations) };
}
