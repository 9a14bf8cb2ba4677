// The images of a decoder fine-tune: its training images and the check set its convergence
// criterion is judged on (read by the fine-tunes and by the encode job that serves them).
import { deriveSeed, stratifiedSample, type ImageSplit } from '../data/index.js';
import type { TrainingData } from './inputs.js';

/**
 * The fine-tunes' training images and their convergence check set: a seeded, stratified
 * `checkSamples` of the training split, left out of the fine-tune's batches (check is null
 * without a convergence criterion; train is then the whole split). `fixed` is `train` prepared
 * as evaluation images are (no random crops), and so is the check set.
 * @param checkSamples the convergence criterion's samples, null without one
 * @param dataSeed the seed of the data split
 * @param data the run's data
 * @example const { train, check } = finetuneSplit(cfg.convergence?.samples ?? null, cfg.dataSeed ?? cfg.seed, data);
 */
export function finetuneSplit(checkSamples: number | null, dataSeed: number, data: TrainingData): { train: ImageSplit; fixed: ImageSplit; check: ImageSplit | null } {
  if (checkSamples === null) return { train: data.train, fixed: data.trainFixed, check: null };
  const labels = Array.from(data.train.labels);
  const checkIdx = stratifiedSample(labels, data.classNames.length, Math.min(checkSamples, Math.floor(labels.length / 4)), deriveSeed(dataSeed, 'finetune-check'));
  const inCheck = new Set(checkIdx);
  const trainIdx = labels.flatMap((_, i) => (inCheck.has(i) ? [] : [i]));
  return { train: data.train.subset(trainIdx), fixed: data.trainFixed.subset(trainIdx), check: data.trainFixed.subset(checkIdx) };
}
