// The demo's decoder fine-tune step (SegNet of SMALL_STAGES on 1x32x32 images, batch 32, Adam,
// through a frozen zoo classifier with 10 classes), timed in alternating turns:
//   plain    the step without speed options (what a plain PyTorch loop does);
//   folded   the BatchNorms of the frozen classifier and encoder folded into their convolutions;
//   nhwc     folded, with the models and the batch in channels_last layout (the job's default);
//   encoder  the frozen encoder's forward alone: its share of the step is the most that caching
//            its codes and pooling indices across epochs could save.
// Each variant runs 3 warm-up steps, then `steps` timed steps per turn; the median turn counts.
//   node dist/bench/finetune.js [classifiers=vgg-bn,resnet,inception] [steps=10] [turns=3]
import { keep, manualSeed, noGrad, randint, randn, tidy, type Tensor } from '../src/engine/index.js';
import type { Module } from '../src/nn/index.js';
import { SegNet, SMALL_STAGES } from '../src/models/segnet.js';
import type { SpeedOptions } from '../src/train/speed.js';
import { finetuneStep, msPerStep, PLAIN_STEP } from './steps.js';
import { buildClassifier } from '../src/models/classifiers.js';

const names = (process.argv[2] ?? 'vgg-bn,resnet,inception').split(',');
const [steps, turns] = [3, 4].map((i, k) => Number(process.argv[i] ?? [10, 3][k]));
const batch = 32;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A fine-tune step through a copy of `classifier` with its own AE and optimizer (same seed for every variant). */
function stepOf(name: string, classifier: Module, x: Tensor, y: Tensor, speed: SpeedOptions): () => void {
  const copy = buildClassifier(name, { channels: 1, size: 32, classes: 10 });
  copy.loadStateDict(classifier.stateDict());
  manualSeed(0);
  return finetuneStep(new SegNet({ inChannels: 1, stages: SMALL_STAGES }), copy, speed, x, y, 1e-3);
}

const x = keep(randn([batch, 1, 32, 32]));
const y = keep(randint(0, 10, [batch]));
const encoderAlone = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
encoderAlone.encoder.freeze().eval();
console.log(`fine-tune step, batch ${batch}, ${steps} steps x ${turns} alternating turns (median turn)`);
console.log('classifier   plain ms  folded ms  folded/plain  nhwc ms  nhwc/plain  encoder ms  encoder/plain');
for (const name of names) {
  manualSeed(1);
  const classifier = buildClassifier(name, { channels: 1, size: 32, classes: 10 });
  const variants = {
    plain: stepOf(name, classifier, x, y, PLAIN_STEP),
    folded: stepOf(name, classifier, x, y, { foldFrozenBn: true }),
    nhwc: stepOf(name, classifier, x, y, { foldFrozenBn: true, channelsLast: true }),
    encoder: () => tidy(() => noGrad(() => encoderAlone.encoder.encode(x))),
  };
  const times: Record<keyof typeof variants, number[]> = { plain: [], folded: [], nhwc: [], encoder: [] };
  for (let t = 0; t < turns; t++) for (const k of Object.keys(variants) as (keyof typeof variants)[]) times[k].push(msPerStep(variants[k], steps, 3));
  const [plain, folded, nhwc, encoder] = [median(times.plain), median(times.folded), median(times.nhwc), median(times.encoder)];
  console.log(
    `${name.padEnd(11)}  ${plain.toFixed(1).padStart(8)}  ${folded.toFixed(1).padStart(9)}  ${(folded / plain).toFixed(3).padStart(12)}  ${nhwc.toFixed(1).padStart(7)}  ${(nhwc / plain).toFixed(3).padStart(10)}  ${encoder.toFixed(1).padStart(10)}  ${(encoder / plain).toFixed(3).padStart(13)}`,
  );
}
