// The demo's classifier training step (a zoo model on 1x32x32 images, 10 classes, batch 64,
// Adam) in NCHW and in channels_last (NHWC) layout, in alternating turns: 2 warm-up steps, then
// `steps` timed steps per turn; the median turn counts.
//   node dist/bench/classifier.js [classifiers=lenet5,alexnet,vgg-bn,resnet,inception] [steps=5] [turns=3]
import { F, keep, manualSeed, randint, randn, tidy } from '../src/engine/index.js';
import { Adam } from '../src/nn/index.js';
import { buildClassifier } from '../src/models/classifiers.js';

const names = (process.argv[2] ?? 'lenet5,alexnet,vgg-bn,resnet,inception').split(',');
const [steps, turns] = [3, 4].map((i, k) => Number(process.argv[i] ?? [5, 3][k]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const x = keep(randn([64, 1, 32, 32]));
const y = keep(randint(0, 10, [64]));

/** One training step of a fresh `name` (same seed for both layouts). */
function stepOf(name: string, channelsLast: boolean): () => void {
  manualSeed(1);
  const model = buildClassifier(name, { channels: 1, size: 32, classes: 10 }).train();
  if (channelsLast) model.to({ memoryFormat: 'channels_last' });
  const optimizer = new Adam(model.trainableParameters(), { lr: 1e-3 });
  const input = channelsLast ? keep(x.contiguous('channels_last')) : x;
  return () =>
    tidy(() => {
      const loss = F.crossEntropy(model.forward(input), y);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    });
}

console.log(`classifier training step, batch 64, ${steps} steps x ${turns} alternating turns (median turn)`);
console.log('classifier   NCHW ms  NHWC ms  NHWC/NCHW');
for (const name of names) {
  const variants = { nchw: stepOf(name, false), nhwc: stepOf(name, true) };
  const times = { nchw: [] as number[], nhwc: [] as number[] };
  for (const k of ['nchw', 'nhwc'] as const) for (let i = 0; i < 2; i++) variants[k]();
  for (let t = 0; t < turns; t++) {
    for (const k of ['nchw', 'nhwc'] as const) {
      const start = performance.now();
      for (let i = 0; i < steps; i++) variants[k]();
      times[k].push((performance.now() - start) / steps);
    }
  }
  const [nchw, nhwc] = [median(times.nchw), median(times.nhwc)];
  console.log(`${name.padEnd(11)}  ${nchw.toFixed(1).padStart(7)}  ${nhwc.toFixed(1).padStart(7)}  ${(nhwc / nchw).toFixed(3).padStart(9)}`);
}
