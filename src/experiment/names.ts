// Names a run gives its autoencoders and its dataset, kept apart from the job code so that
// readers of a run (the viewer's server) can use them without loading the compute engine.
import type { ExperimentPlan, ImageFolderSpec, TarShardSpec } from './plan.js';

/** The generic autoencoder, pretrained on pixels. */
export const GENERIC_AE = 'A_S';

/**
 * The autoencoder fine-tuned through `classifier`.
 * @param classifier a classifier's name in the plan
 * @example aeName('lenet5') // 'S2S-lenet5'
 */
export const aeName = (classifier: string) => `S2S-${classifier}`;

/**
 * How results name a plan's dataset: the built-in name or the image folder.
 * @param plan the experiment plan
 * @example datasetLabel(quickPlan()) // 'mnist'
 */
export function datasetLabel(plan: Pick<ExperimentPlan, 'dataset'>): string {
  return typeof plan.dataset === 'string' ? plan.dataset : datasetLocation(plan.dataset);
}

/**
 * Where a streamed dataset lives: its folder or shard pattern.
 * @param spec a streamed dataset spec
 * @example datasetLocation({ imageFolder: '/data/val', resize: 256, crop: 224, channels: 3 }) // '/data/val'
 */
export function datasetLocation(spec: ImageFolderSpec | TarShardSpec): string {
  return 'imageFolder' in spec ? spec.imageFolder : spec.tarShards;
}
