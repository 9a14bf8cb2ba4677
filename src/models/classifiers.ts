// The classifier zoo for the small-scale S2SNets experiment. One model per architecture family,
// each keeping the trait that shapes its input signal in the paper's ImageNet models:
//   lenet5     LeNet-5: 5x5 convolutions and average pooling (ReLU, as modern re-implementations).
//   alexnet    AlexNet-like: a large first kernel with a large stride, and LRN.
//   vgg        VGG-like: stacks of 3x3 stride-1 convolutions (vgg-bn: with BatchNorm).
//   resnet     ResNet-like: bottleneck blocks whose stride-2 1x1 convolutions (main path and
//              projection shortcut) sample only every other pixel.
//   inception  Inception-like: parallel 1x1 / 3x3 / 5x5 / pool branches, concatenated.
// Inputs are [N, C, S, S] with S a multiple of 8 (MNIST is padded from 28 to 32).
import { cat, type Tensor } from '../engine/index.js';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  Module,
  ReLU,
  Sequential,
} from '../nn/index.js';
import type { FoldConvBn, FoldsConvBn } from '../nn/index.js';
import { S2SNetsError } from '../common/errors.js';

export interface ClassifierInput {
  channels: number;
  size: number;
  classes: number;
}

export class LeNet5 extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;
  constructor({ channels, size, classes }: ClassifierInput) {
    super();
    const spatial = ((size - 4) / 2 - 4) / 2;
    this.features = this.addModule('features', new Sequential(new Conv2d(channels, 6, 5), new ReLU(), new AvgPool2d(2), new Conv2d(6, 16, 5), new ReLU(), new AvgPool2d(2)));
    this.classifier = this.addModule('classifier', new Sequential(new Flatten(), new Linear(16 * spatial * spatial, 120), new ReLU(), new Linear(120, 84), new ReLU(), new Linear(84, classes)));
  }
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.forward(x));
  }
}

export class AlexNetLike extends Module {
  readonly features: Sequential;
  readonly pool: AdaptiveAvgPool2d;
  readonly classifier: Sequential;
  constructor({ channels, classes }: ClassifierInput) {
    super();
    this.features = this.addModule(
      'features',
      new Sequential(
        // The trait: a kernel covering a large part of the image, applied with stride 2.
        new Conv2d(channels, 48, 7, { stride: 2, padding: 3 }),
        new ReLU(),
        new LocalResponseNorm(5, 1e-4, 0.75, 2),
        new MaxPool2d(3, { stride: 2, padding: 1 }),
        new Conv2d(48, 64, 5, { padding: 2 }),
        new ReLU(),
        new LocalResponseNorm(5, 1e-4, 0.75, 2),
        new MaxPool2d(3, { stride: 2, padding: 1 }),
        new Conv2d(64, 96, 3, { padding: 1 }),
        new ReLU(),
        new Conv2d(96, 64, 3, { padding: 1 }),
        new ReLU(),
      ),
    );
    this.pool = this.addModule('avgpool', new AdaptiveAvgPool2d(2));
    this.classifier = this.addModule('classifier', new Sequential(new Flatten(), new Dropout(0.3), new Linear(64 * 4, 256), new ReLU(), new Linear(256, classes)));
  }
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.pool.forward(this.features.forward(x)));
  }
}

function vggStage(cin: number, cout: number, convs: number, batchNorm: boolean): Module[] {
  const layers: Module[] = [];
  for (let i = 0; i < convs; i++) {
    layers.push(new Conv2d(i === 0 ? cin : cout, cout, 3, { padding: 1 }));
    if (batchNorm) layers.push(new BatchNorm2d(cout));
    layers.push(new ReLU());
  }
  layers.push(new MaxPool2d(2));
  return layers;
}

export class VGGLike extends Module {
  readonly features: Sequential;
  readonly pool: AdaptiveAvgPool2d;
  readonly classifier: Sequential;
  constructor({ channels, classes }: ClassifierInput, batchNorm = false) {
    super();
    this.features = this.addModule('features', new Sequential(...vggStage(channels, 16, 2, batchNorm), ...vggStage(16, 32, 2, batchNorm), ...vggStage(32, 64, 2, batchNorm)));
    this.pool = this.addModule('avgpool', new AdaptiveAvgPool2d(2));
    this.classifier = this.addModule('classifier', new Sequential(new Flatten(), new Linear(64 * 4, 128), new ReLU(), new Dropout(0.3), new Linear(128, classes)));
  }
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.pool.forward(this.features.forward(x)));
  }
}

/** ResNet v1 bottleneck: 1x1 (strided) -> 3x3 -> 1x1, plus identity or strided 1x1 projection. */
export class Bottleneck extends Module implements FoldsConvBn {
  readonly conv1: Conv2d;
  bn1: Module;
  readonly conv2: Conv2d;
  bn2: Module;
  readonly conv3: Conv2d;
  bn3: Module;
  readonly downsample: Sequential | null;
  constructor(cin: number, width: number, cout: number, stride: number) {
    super();
    this.conv1 = this.addModule('conv1', new Conv2d(cin, width, 1, { stride, bias: false }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.addModule('conv2', new Conv2d(width, width, 3, { padding: 1, bias: false }));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(width));
    this.conv3 = this.addModule('conv3', new Conv2d(width, cout, 1, { bias: false }));
    this.bn3 = this.addModule('bn3', new BatchNorm2d(cout));
    this.downsample = stride !== 1 || cin !== cout ? this.addModule('downsample', new Sequential(new Conv2d(cin, cout, 1, { stride, bias: false }), new BatchNorm2d(cout))) : null;
  }
  forward(x: Tensor): Tensor {
    const out = this.bn3.forward(this.conv3.forward(this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu())).relu()));
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    return out.add(shortcut).relu();
  }
  /** For BatchNorm folding (nn/fuse.ts); the downsample Sequential is found on its own. */
  foldConvBn(fold: FoldConvBn): void {
    this.bn1 = fold(this.conv1, this.bn1);
    this.bn2 = fold(this.conv2, this.bn2);
    this.bn3 = fold(this.conv3, this.bn3);
  }
}

export class ResNetLike extends Module {
  readonly stem: Sequential;
  readonly layers: Sequential;
  readonly pool: AdaptiveAvgPool2d;
  readonly fc: Linear;
  constructor({ channels, classes }: ClassifierInput) {
    super();
    this.stem = this.addModule('stem', new Sequential(new Conv2d(channels, 16, 3, { padding: 1, bias: false }), new BatchNorm2d(16), new ReLU()));
    this.layers = this.addModule('layers', new Sequential(new Bottleneck(16, 16, 64, 2), new Bottleneck(64, 16, 64, 1), new Bottleneck(64, 32, 128, 2), new Bottleneck(128, 32, 128, 1)));
    this.pool = this.addModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.addModule('fc', new Linear(128, classes));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.pool.forward(this.layers.forward(this.stem.forward(x))).flatten(1));
  }
}

function convRelu(cin: number, cout: number, k: number): Sequential {
  return new Sequential(new Conv2d(cin, cout, k, { padding: (k - 1) / 2, bias: false }), new BatchNorm2d(cout), new ReLU());
}

/** Four parallel branches whose outputs are concatenated along channels. */
export class InceptionBlock extends Module {
  readonly branch1: Sequential;
  readonly branch3: Sequential;
  readonly branch5: Sequential;
  readonly branchPool: Sequential;
  readonly outChannels: number;
  constructor(cin: number, c1: number, c3: [number, number], c5: [number, number], cpool: number) {
    super();
    this.branch1 = this.addModule('branch1x1', convRelu(cin, c1, 1));
    this.branch3 = this.addModule('branch3x3', new Sequential(convRelu(cin, c3[0], 1), convRelu(c3[0], c3[1], 3)));
    this.branch5 = this.addModule('branch5x5', new Sequential(convRelu(cin, c5[0], 1), convRelu(c5[0], c5[1], 5)));
    this.branchPool = this.addModule('branch_pool', new Sequential(new MaxPool2d(3, { stride: 1, padding: 1 }), convRelu(cin, cpool, 1)));
    this.outChannels = c1 + c3[1] + c5[1] + cpool;
  }
  forward(x: Tensor): Tensor {
    return cat([this.branch1.forward(x), this.branch3.forward(x), this.branch5.forward(x), this.branchPool.forward(x)], 1);
  }
}

export class InceptionLike extends Module {
  readonly stem: Sequential;
  readonly blocks: Sequential;
  readonly pool: AdaptiveAvgPool2d;
  readonly fc: Linear;
  constructor({ channels, classes }: ClassifierInput) {
    super();
    this.stem = this.addModule('stem', new Sequential(convRelu(channels, 32, 3), new MaxPool2d(2)));
    const a = new InceptionBlock(32, 16, [16, 24], [8, 8], 8);
    const b = new InceptionBlock(a.outChannels, 24, [24, 32], [8, 16], 16);
    this.blocks = this.addModule('blocks', new Sequential(a, new MaxPool2d(2), b, new MaxPool2d(2)));
    this.pool = this.addModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.addModule('fc', new Linear(b.outChannels, classes));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.pool.forward(this.blocks.forward(this.stem.forward(x))).flatten(1));
  }
}

export const ZOO = {
  lenet5: { family: 'LeNet-5', build: (i: ClassifierInput) => new LeNet5(i) },
  alexnet: { family: 'AlexNet-like', build: (i: ClassifierInput) => new AlexNetLike(i) },
  vgg: { family: 'VGG-like', build: (i: ClassifierInput) => new VGGLike(i) },
  'vgg-bn': { family: 'VGG-like (BatchNorm)', build: (i: ClassifierInput) => new VGGLike(i, true) },
  resnet: { family: 'ResNet-like', build: (i: ClassifierInput) => new ResNetLike(i) },
  inception: { family: 'Inception-like', build: (i: ClassifierInput) => new InceptionLike(i) },
} as const;

export type ZooName = keyof typeof ZOO;

export const ZOO_NAMES = Object.keys(ZOO) as ZooName[];

export class UnknownClassifierError extends S2SNetsError {
  override name = 'UnknownClassifierError';
  static override readonly codes = ['S2SNETS_UNKNOWN_CLASSIFIER'] as const;
}

/** Builds a zoo classifier by name. */
export function buildClassifier(name: string, input: ClassifierInput): Module {
  const entry = ZOO[name as ZooName];
  if (!entry) throw new UnknownClassifierError(`unknown classifier '${name}'; the zoo has: ${ZOO_NAMES.join(', ')}`);
  if (input.size % 8 !== 0 || input.size < 16) throw new RangeError(`classifier input size must be a multiple of 8 and >= 16, got ${input.size} (pad the images)`);
  return entry.build(input);
}
