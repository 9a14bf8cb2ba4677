// Pretrains A_S on an image folder in this process (no job processes), printing each progress
// message on its own line, so that a test can SIGKILL it at a chosen step and run it again.
//   node stream-pretrain-child.js FOLDER RUN_DIR
import { quickPlan } from '../../src/experiment/plan.js';
import { runExperiment } from '../../src/commands/run.js';

const [folder, runDir] = process.argv.slice(2);
const base = quickPlan({ dataset: { imageFolder: folder, crop: 32, resize: 37, channels: 3 } });
// 24 images in batches of 8: 40 steps run 13 epochs, each with its own crops and flips.
const plan = { ...base, classifiers: [], checkpointEvery: 5, ae: { ...base.ae, epochs: 1, minSteps: 40, batchSize: 8 } };
await runExperiment(plan, runDir, 'pretrain', { update: (u) => u.message && console.log(`${u.stage}: ${u.message}`), log: () => {} });
console.log('done');
