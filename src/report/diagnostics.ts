// Warnings a run's results call for, shown first in the terminal summary and the report: an
// A_S too weak to compare against (the cross matrix then measures A_S's losses, not the
// classifiers' input signal) and fine-tunes that ended without converging.
import type { Results } from './schema.js';

export type RunWarningCode = 'weak-baseline' | 'unconverged-finetune';

export interface RunWarning {
  code: RunWarningCode;
  message: string;
}

/** Accuracy points a classifier may lose on A_S's reconstructions before A_S counts as too weak. */
export const MAX_BASELINE_LOSS = 0.02;

/** The PSNR floor the run was made with (plan.analysis.psnrFloor); null for results that do not record one. */
function psnrFloor(r: Results): number | null {
  const floor = (r.run.plan as { analysis?: { psnrFloor?: unknown } } | null)?.analysis?.psnrFloor;
  return typeof floor === 'number' ? floor : null;
}

/**
 * The warnings of a run, most important first.
 * @param r validated results
 * @example for (const w of runWarnings(results)) console.log(w.message);
 */
export function runWarnings(r: Results): RunWarning[] {
  const warnings: RunWarning[] = [];
  const reasons: string[] = [];
  for (const c of r.classifiers) {
    const loss = c.accuracy.original.top1 - c.accuracy.generic.top1;
    if (loss > MAX_BASELINE_LOSS) reasons.push(`${c.name} loses ${(100 * loss).toFixed(1)} points on its reconstructions`);
  }
  const generic = r.autoencoders[0];
  const floor = psnrFloor(r);
  if (generic && floor !== null && generic.psnr < floor) reasons.push(`its PSNR ${generic.psnr.toFixed(1)} dB is below the ${floor} dB floor for this dataset`);
  if (reasons.length) {
    warnings.push({
      code: 'weak-baseline',
      message:
        `A_S is too weak to compare against: ${reasons.join('; ')}. The cross matrix then measures A_S's losses, not the classifiers' input signal. ` +
        'Pretrain A_S longer (--pretrain-steps N, or ae.pretrain.minSteps in a config) or start it from pretrained weights (--ae-weights FILE).',
    });
  }
  for (const f of r.finetunes.filter((f) => !f.converged)) {
    const acc = f.checkAccuracy ? ` (check set: ${(100 * f.checkAccuracy.reconstructed).toFixed(1)} % on its reconstructions vs ${(100 * f.checkAccuracy.original).toFixed(1)} % on the originals)` : '';
    warnings.push({
      code: 'unconverged-finetune',
      message: `The fine-tune for ${f.classifier} used its whole budget of ${f.budget} steps without converging${acc}; its S2SNet may not show all its classifier uses yet. Raise --finetune-steps.`,
    });
  }
  return warnings;
}
