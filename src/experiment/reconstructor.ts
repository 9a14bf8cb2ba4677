// A run's autoencoders as models: the SegNet a plan's stages describe, and a trained one loaded
// for reconstructions only.
import { type Tensor } from '../engine/index.js';
import { inferenceForward } from '../nn/index.js';
import { SegNet, type SegNetStages } from '../models/segnet.js';
import { loadWeightsInto } from './classifier-sources.js';

/** What builds a run's SegNet and where it runs. */
export interface AutoencoderArch {
  stages: SegNetStages;
  device: string;
}

/**
 * A fresh SegNet of the run's stages (on the CPU: move it with .to()).
 * @param stages the plan's ae.stages
 * @param channels the data's channels
 * @example const ae = buildAutoencoder(plan.ae.stages, data.channels).to({ device });
 */
export function buildAutoencoder(stages: SegNetStages, channels: number): SegNet {
  return new SegNet({ inChannels: channels, stages });
}

/** A trained autoencoder loaded for reconstructions only, and how to free its weights. */
export interface Reconstructor {
  /** Model inputs [N, C, H, W] -> reconstructions, contiguous; call under noGrad. */
  reconstruct(x: Tensor): Tensor;
  dispose(): void;
}

/**
 * Loads an autoencoder of the run for reconstructions only: eval mode, BatchNorms folded into the
 * convolutions and, on the CPU, NHWC layout (nn/fuse.ts inferenceForward; the SMALL_STAGES
 * forward at batch 250 takes 0.78x the time, the same output up to float rounding).
 * @param arch the run's stages and device
 * @param channels the data's channels
 * @param weights the autoencoder's safetensors file
 * @throws StateDictError when the file does not hold this SegNet
 * @example
 * const ae = loadReconstructor({ stages: plan.ae.stages, device: plan.device }, data.channels, join(ctx.input(job), ctx.output(job).weights));
 * const images = noGrad(() => ae.reconstruct(batch)); ae.dispose();
 */
export function loadReconstructor(arch: AutoencoderArch, channels: number, weights: string): Reconstructor {
  const ae = buildAutoencoder(arch.stages, channels).to({ device: arch.device });
  loadWeightsInto(ae, weights, arch.device);
  const reconstruct = inferenceForward(ae, { channelsLast: arch.device === 'cpu' });
  return { reconstruct, dispose: () => ae.stateDict().forEach((t) => t.dispose()) };
}
