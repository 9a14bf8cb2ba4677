// Weights for the SegNet autoencoder from PyTorch checkpoints: the authors' own SegNet release
// (same parameter names as src/models/segnet.ts) and torchvision's VGG16 / VGG16-BN, whose 13
// convolutions initialise the encoder as in the paper.
import { extname } from 'node:path';
import { noGrad, type Tensor } from '../engine/index.js';
import { loadSafetensors } from '../nn/index.js';
import type { SegNet } from '../models/segnet.js';
import { loadStateDict, type LoadPthOptions } from './pth.js';
import { S2SNetsError } from '../common/errors.js';

/** A checkpoint does not fit the SegNet it is loaded into. */
export class SegNetWeightsError extends S2SNetsError {
  override name = 'SegNetWeightsError';
  static override readonly codes = ['S2SNETS_SEGNET_WEIGHTS'] as const;
}

type Weights = string | Map<string, Tensor>;

/** A file is read as safetensors by its extension, anything else as a torch.save checkpoint. */
function open(weights: Weights, options: LoadPthOptions): { state: Map<string, Tensor>; source: string; opened: boolean } {
  if (typeof weights !== 'string') return { state: weights, source: 'state dict', opened: false };
  const state = extname(weights).toLowerCase() === '.safetensors' ? loadSafetensors(weights, 'cpu').tensors : loadStateDict(weights, options);
  return { state, source: weights, opened: true };
}

/** Frees the tensors of a checkpoint this module read (not a state dict the caller passed in). */
function close(file: { state: Map<string, Tensor>; opened: boolean }): void {
  if (file.opened) for (const t of file.state.values()) t.dispose();
}

function describe(segnet: SegNet): string {
  return `stages ${JSON.stringify(segnet.config.stages)}, ${segnet.config.inChannels} input channel(s)`;
}

function copyChecked(segnet: SegNet, dst: Tensor, src: Tensor, what: string, source: string): void {
  if (dst.shape.join(',') !== src.shape.join(',')) throw new SegNetWeightsError(`${source}: ${what} has shape [${src.shape}] but the SegNet expects [${dst.shape}] (${describe(segnet)})`);
  dst.copy_(src);
}

/**
 * Loads the authors' SegNet weights (encoder.conv11 ... decoder.conv_final, with BatchNorm
 * statistics) from a .pth/.pt file, a .safetensors file (e.g. an A_S saved by a run) or a state
 * dict. `module.`/`segnet.` prefixes and wrapper keys are handled by loadStateDict;
 * num_batches_tracked may be absent (files from before BatchNorm counted batches); every other
 * name must match both ways, and every shape must match.
 */
export function loadSegNetWeights(segnet: SegNet, weights: Weights, options: LoadPthOptions = {}): void {
  const file = open(weights, options);
  const { state, source } = file;
  try {
    const own = segnet.stateDict();
    const optional = (k: string) => k.endsWith('.num_batches_tracked');
    const missing = [...own.keys()].filter((k) => !state.has(k) && !optional(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    if (missing.length || unexpected.length) {
      const list = (names: string[]) => names.slice(0, 6).join(', ') + (names.length > 6 ? `, ... (${names.length})` : '');
      const parts = [missing.length ? `missing ${list(missing)}` : '', unexpected.length ? `unexpected ${list(unexpected)}` : ''].filter(Boolean);
      throw new SegNetWeightsError(`${source}: not a checkpoint of this SegNet (${parts.join('; ')}; the SegNet has ${describe(segnet)})`);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = state.get(k);
        if (src) copyChecked(segnet, t, src, k, source);
      }
    });
  } finally {
    close(file);
  }
}

/** Which VGG16 tensor went where. */
export interface VggMapping {
  from: string;
  to: string;
}

/** features.N entries of a torchvision VGG state dict, grouped by layer index. */
function vggLayers(state: Map<string, Tensor>): Map<number, Map<string, Tensor>> {
  const layers = new Map<number, Map<string, Tensor>>();
  for (const [k, t] of state) {
    const m = /^features\.(\d+)\.(\w+)$/.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    if (!layers.has(i)) layers.set(i, new Map());
    layers.get(i)!.set(m[2], t);
  }
  return layers;
}

/**
 * Copies torchvision VGG16 (features.N conv weights) or VGG16-BN (conv plus BatchNorm) weights
 * into the SegNet encoder, the paper's initialisation. The VGG's conv layers, grouped into
 * stages by its max-pools, must match the encoder's stages and widths. Without BatchNorm in the
 * checkpoint the encoder's BatchNorm layers are left as they are.
 */
export function initEncoderFromVgg16(segnet: SegNet, weights: Weights, options: LoadPthOptions = {}): VggMapping[] {
  const file = open(weights, options);
  try {
    return copyVggFeatures(segnet, file.state, file.source);
  } finally {
    close(file);
  }
}

function copyVggFeatures(segnet: SegNet, state: Map<string, Tensor>, source: string): VggMapping[] {
  const layers = vggLayers(state);
  const convIdx = [...layers].filter(([, p]) => p.get('weight')?.ndim === 4).map(([i]) => i).sort((a, b) => a - b);
  if (convIdx.length === 0) throw new SegNetWeightsError(`${source}: no features.N conv weights (not a torchvision VGG state dict)`);
  const withBn = layers.get(convIdx[0] + 1)?.has('running_mean') ?? false;
  // conv, (bn), relu repeat every 2 (3) layers; a larger step is a max-pool between stages.
  const step = withBn ? 3 : 2;
  const vggStages: number[][] = [];
  convIdx.forEach((i, k) => {
    if (k === 0 || i - convIdx[k - 1] > step) vggStages.push([]);
    vggStages[vggStages.length - 1].push(i);
  });
  const ourStages = segnet.config.stages;
  const shape = (st: unknown[][]) => `[${st.map((x) => x.length).join(',')}]`;
  if (shape(vggStages) !== shape(ourStages)) {
    throw new SegNetWeightsError(`${source}: VGG conv layers per stage ${shape(vggStages)} do not match the SegNet encoder's ${shape(ourStages)}`);
  }
  // By name, as the SegNet's own state dict spells them (encoder.conv11.weight, encoder.bn11.running_mean).
  const own = segnet.stateDict();
  const mapping: VggMapping[] = [];
  const copy = (from: string, to: string) => {
    const src = state.get(from);
    const dst = own.get(to);
    if (!src) throw new SegNetWeightsError(`${source}: ${from} is missing`);
    if (!dst) throw new SegNetWeightsError(`${source}: the SegNet has no ${to} to receive ${from}`);
    copyChecked(segnet, dst, src, from, source);
    mapping.push({ from, to });
  };
  noGrad(() => {
    vggStages.forEach((stage, s) =>
      stage.forEach((i, l) => {
        const name = `${s + 1}${l + 1}`;
        copy(`features.${i}.weight`, `encoder.conv${name}.weight`);
        if (own.has(`encoder.conv${name}.bias`)) copy(`features.${i}.bias`, `encoder.conv${name}.bias`);
        if (!withBn) return;
        for (const p of ['weight', 'bias', 'running_mean', 'running_var']) copy(`features.${i + 1}.${p}`, `encoder.bn${name}.${p}`);
        if (state.has(`features.${i + 1}.num_batches_tracked`)) copy(`features.${i + 1}.num_batches_tracked`, `encoder.bn${name}.num_batches_tracked`);
      }),
    );
  });
  return mapping;
}
