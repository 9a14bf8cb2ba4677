// The colour, periodic-artifact, fine-tune and planted-retention tables as rows of text cells,
// shared by the terminal summary and the HTML report so both show the same numbers.
import type { Results } from './schema.js';

const signed = (v: number, digits: number) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** Header and rows of the colour-shift table; null when no autoencoder has one (grayscale data). */
export function colourRows(r: Results): { header: string[]; rows: string[][] } | null {
  const withShift = r.autoencoders.filter((a) => a.colourShift);
  if (!withShift.length) return null;
  return {
    header: ['autoencoder', 'cast Δa*', 'cast Δb*', '|cast|', 'cast angle °', 'chroma ratio', 'hue rotation °', 'ΔL*', 'mean ΔE'],
    rows: withShift.map((a) => {
      const c = a.colourShift!;
      return [a.name, signed(c.castA, 2), signed(c.castB, 2), c.castMagnitude.toFixed(2), c.castAngle.toFixed(0), c.chromaRatio.toFixed(3), signed(c.hueRotation, 1), signed(c.lightnessShift, 2), c.meanDeltaE.toFixed(2)];
    }),
  };
}

/** Header and rows of the periodic-artifact table: dB and added RMS amplitude per period. */
export function periodicRows(r: Results): { header: string[]; rows: string[][] } {
  const periods = r.autoencoders[0]?.periodic.map((p) => p.period) ?? [];
  return {
    header: ['autoencoder', ...periods.flatMap((p) => [`p${p} dB`, `p${p} added RMS`])],
    rows: r.autoencoders.map((a) => [a.name, ...a.periodic.flatMap((p) => [signed(p.db, 2), p.amplitude.toFixed(4)])]),
  };
}

/** Header and rows of the fine-tune table: steps run of the budget and why each stopped. */
export function finetuneRows(r: Results): { header: string[]; rows: string[][] } {
  const pct = (x: number) => (100 * x).toFixed(1);
  return {
    header: ['fine-tune', 'steps', 'budget', 'stopped by', 'converged', 'check: original %', 'check: own recon %'],
    rows: r.finetunes.map((f) => [
      f.classifier,
      String(f.stepsRun),
      String(f.budget),
      f.stop,
      f.converged ? 'yes' : 'NO',
      f.checkAccuracy ? pct(f.checkAccuracy.original) : '-',
      f.checkAccuracy ? pct(f.checkAccuracy.reconstructed) : '-',
    ]),
  };
}

/** Header and rows of the planted-retention table; null unless the run was on a planted dataset. */
export function plantedRows(r: Results): { header: string[]; rows: string[][] } | null {
  const p = r.planted;
  if (!p) return null;
  const row = (name: string, x: { paletteAgreement: number; meanDeltaE: number; maskIou: number }) => [name, (100 * x.paletteAgreement).toFixed(1), x.meanDeltaE.toFixed(2), x.maskIou.toFixed(3)];
  return {
    header: ['images', 'colour kept %', 'colour ΔE', 'shape mask IoU'],
    rows: [row('originals', p.originals), ...p.autoencoders.map((a) => row(a.name, a))],
  };
}
