// The colour, periodic-artifact, fine-tune, planted-retention and seed-separation tables as rows
// of text cells, shared by the terminal summary and the HTML report so both show the same numbers.
import { COLOUR_FIGURES, SEPARATION_LEVEL } from '../analysis/replicates.js';
import { withInterval } from './format.js';
import type { Interval, Results } from './schema.js';

const signed = (v: number, digits: number) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** Header and rows of the colour-shift table, with 95 % intervals; null when no autoencoder has one (grayscale data). */
export function colourRows(r: Results): { header: string[]; rows: string[][] } | null {
  const withShift = r.autoencoders.filter((a) => a.colourShift);
  if (!withShift.length) return null;
  return {
    header: ['autoencoder', 'cast Δa*, Δb*', '|cast|', 'cast angle °', 'chroma ratio', 'hue rotation °', 'ΔL*', 'mean ΔE'],
    rows: withShift.map((a) => {
      const c = a.colourShift!;
      return [
        a.name,
        `${signed(c.castA, 2)}, ${signed(c.castB, 2)}`,
        withInterval(c.castMagnitude, c.ci95.castMagnitude, 1, 2),
        withInterval(c.castAngle, c.ci95.castAngle, 1, 0),
        withInterval(c.chromaRatio, c.ci95.chromaRatio, 1, 3),
        withInterval(c.hueRotation, c.ci95.hueRotation, 1, 1),
        withInterval(c.lightnessShift, c.ci95.lightnessShift, 1, 2),
        withInterval(c.meanDeltaE, c.ci95.meanDeltaE, 1, 2),
      ];
    }),
  };
}

/** Header and rows of the periodic-artifact table: dB and added RMS amplitude per period, with 95 % intervals. */
export function periodicRows(r: Results): { header: string[]; rows: string[][] } {
  const periods = r.autoencoders[0]?.periodic.map((p) => p.period) ?? [];
  return {
    header: ['autoencoder', ...periods.flatMap((p) => [`p${p} dB`, `p${p} added RMS`])],
    rows: r.autoencoders.map((a) => [a.name, ...a.periodic.flatMap((p) => [withInterval(p.db, p.ci95.db, 1, 2), withInterval(p.amplitude, p.ci95.amplitude, 1, 4)])]),
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
  type Retention = NonNullable<Results['planted']>['originals'];
  const row = (name: string, x: Retention, change: Interval | null, changeValue: number | null) => [
    name,
    withInterval(x.paletteAgreement, x.ci95.paletteAgreement, 100),
    withInterval(x.meanDeltaE, x.ci95.meanDeltaE, 1, 2),
    withInterval(x.shapeAgreement, x.ci95.shapeAgreement, 100),
    withInterval(x.maskIou, x.ci95.maskIou, 1, 3),
    withInterval(changeValue, change, 100),
  ];
  return {
    header: ['images', 'colour kept %', 'colour ΔE', 'shape kept %', 'shape mask IoU', `${p.carrier} kept vs A_S, points`],
    rows: [
      row('originals', p.originals, null, null),
      ...p.autoencoders.map((a) => row(a.name, a, a.carrierChange?.ci95 ?? null, a.carrierChange?.value ?? null)),
      ...p.controls.map((c) => row(c.name, c, c.carrierChange.ci95, c.carrierChange.value)),
    ],
  };
}

/** Header and rows of the seed-separation table (do a measure's subjects differ beyond seed noise?); null without it. */
export function separationRows(r: Results): { header: string[]; rows: string[][] } | null {
  const separations = r.replicates?.separations;
  if (!separations?.length) return null;
  return {
    header: ['measure', 'subjects', 'sd of subject means', 'seed sd (rms)', 'F', 'p', 'subjects differ'],
    rows: separations.map((s) => [s.measure, String(s.subjects), s.betweenSd.toFixed(4), s.seedSd.toFixed(4), s.f.toFixed(2), s.p.toFixed(4), s.p < SEPARATION_LEVEL ? 'beyond seed noise' : 'within seed noise']),
  };
}

/** What the colour table's differences between autoencoders rest on: one sentence. */
export function colourSeedNote(r: Results): string {
  const seeds = r.replicates?.seeds.length;
  if (!seeds) {
    return "From one seed: the intervals cover the choice of evaluation images, not the fine-tunes' seeds, which moved these figures as much as the classifier did in our emoji runs; rerun with --repeats 3 to test whether the autoencoders differ beyond seed noise.";
  }
  const colour = (r.replicates!.separations ?? []).filter((s) => (COLOUR_FIGURES as readonly string[]).includes(s.measure));
  if (!colour.length) return `Across ${seeds} seeds the colour figures did not move (or this record predates the test of their spread).`;
  const verdicts = colour.map((s) => `${s.measure} ${s.p < SEPARATION_LEVEL ? 'differs between autoencoders beyond' : 'does not differ between autoencoders beyond'} seed noise (p = ${s.p.toFixed(4)})`);
  return `Across ${seeds} seeds: ${verdicts.join('; ')}.`;
}
