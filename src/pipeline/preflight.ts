// Checks of a run's inputs before any job starts: the data can be listed, every imported
// classifier fits it (input size, class count), and the starting weights of A_S fit the
// configured SegNet. Otherwise such a mistake would surface only when its job's turn comes,
// after other jobs have trained for minutes or hours.
import { SegNet } from '../models/segnet.js';
import { loadSegNetWeights } from '../import/segnet-weights.js';
import { checkImportedClassifiers } from './classifiers.js';
import { dataShape } from './inputs.js';
import type { ExperimentPlan } from './plan.js';

/** Throws the first problem as a typed error with a one-line message naming the file. */
export async function checkInputs(plan: ExperimentPlan): Promise<void> {
  const shape = dataShape(plan);
  await checkImportedClassifiers(plan.classifiers, shape, Math.max(plan.finetune.batchSize, plan.evalBatchSize));
  if (plan.ae.weights) {
    const ae = new SegNet({ inChannels: shape.channels, stages: plan.ae.stages });
    try {
      loadSegNetWeights(ae, plan.ae.weights);
    } finally {
      for (const t of ae.stateDict().values()) t.dispose();
    }
  }
}
