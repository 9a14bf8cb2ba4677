// The demo's training steps in NCHW and in channels_last (NHWC) layout, in alternating turns: 2
// warm-up steps, then `steps` timed steps per turn; the median turn counts. A zoo name trains that
// classifier (1x32x32 images, 10 classes, batch 64, cross-entropy, Adam); `A_S` pretrains the
// demo's SegNet (SMALL_STAGES, batch 32, MSE, Adam).
//   node dist/bench/training.js [models=lenet5,alexnet,vgg-bn,resnet,inception,A_S] [steps=5] [turns=3]
import { F, keep, manualSeed, randint, randn, tidy } from '../src/engine/index.js';
import { Adam } from '../src/nn/index.js';
import { buildClassifier } from '../src/models/classifiers.js';
import { SegNet, SMALL_STAGES } from '../src/models/segnet.js';
import { msPerStep } from './steps.js';

const names = (process.argv[2] ?? 'lenet5,alexnet,vgg-bn,resnet,inception,A_S').split(',');
const [steps, turns] = [3, 4].map((i, k) => Number(process.argv[i] ?? [5, 3][k]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const x = keep(randn([64, 1, 32, 32]));
const y = keep(randint(0, 10, [64]));
const aeImages = keep(randn([32, 1, 32, 32]));

/** One training step of a fresh `name` (same seed for both layouts). */
function stepOf(name: string, channelsLast: boolean): () => void {
  manualSeed(1);
  const ae = name === 'A_S';
  const model = (ae ? new SegNet({ inChannels: 1, stages: SMALL_STAGES }) : buildClassifier(name, { channels: 1, size: 32, classes: 10 })).train();
  if (channelsLast) model.to({ memoryFormat: 'channels_last' });
  const optimizer = new Adam(model.trainableParameters(), { lr: 1e-3 });
  const images = ae ? aeImages : x;
  const input = channelsLast ? keep(images.contiguous('channels_last')) : images;
  return () =>
    tidy(() => {
      const loss = ae ? F.mseLoss(model.forward(input), input) : F.crossEntropy(model.forward(input), y);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    });
}

console.log(`training step, ${steps} steps x ${turns} alternating turns (median turn)`);
console.log('model        NCHW ms  NHWC ms  NHWC/NCHW');
for (const name of names) {
  const variants = { nchw: stepOf(name, false), nhwc: stepOf(name, true) };
  const times = { nchw: [] as number[], nhwc: [] as number[] };
  for (const k of ['nchw', 'nhwc'] as const) for (let i = 0; i < 2; i++) variants[k]();
  for (let t = 0; t < turns; t++) {
    for (const k of ['nchw', 'nhwc'] as const) times[k].push(msPerStep(variants[k], steps, 0));
  }
  const [nchw, nhwc] = [median(times.nchw), median(times.nhwc)];
  console.log(`${name.padEnd(11)}  ${nchw.toFixed(1).padStart(7)}  ${nhwc.toFixed(1).padStart(7)}  ${(nhwc / nchw).toFixed(3).padStart(9)}`);
}
