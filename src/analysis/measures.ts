// Every pixel-level measure of an evaluation in one accumulator: the originals and each
// autoencoder's reconstructions (pixels in [0, 1]) go through it one chunk at a time, and
// finish() gives, per autoencoder, PSNR, intra- and inter-NMI with their intervals, grid energy,
// colour shift and periodic artifacts, and, over all of them, histograms, the picture grid and
// (on a planted dataset) the planted signal. It keeps per-image values and a few pictures only.
import type { PlantedTruth } from '../data/index.js';
import { meanEstimate, type BootstrapOptions, type Estimate } from './bootstrap.js';
import { ColourShiftAccumulator, type ColourShift } from './colour.js';
import { GridEnergyAccumulator } from './grid-energy.js';
import { ChannelHistogramsAccumulator, type ChannelHistogram } from './histograms.js';
import type { ImageInput } from './images.js';
import { InterNmiAccumulator, IntraNmiAccumulator, type NmiOptions } from './nmi.js';
import { ARTIFACT_PERIODS, PeriodicAccumulator, type PeriodicArtifact } from './periodic.js';
import { ReconstructionGridAccumulator, type ReconstructionGrid } from './pictures.js';
import { PlantedSignalAccumulator, type PlantedSignal } from './planted-retention.js';
import { PsnrAccumulator } from './psnr.js';
import { ChunkCursor, namedChunk, type Accumulator } from './stream.js';

/** Pictures in the reconstruction grid when no sample indices are given: enough to see a pattern, few enough for one page. */
export const GRID_SAMPLES = 8;

export interface ReconstructionMeasuresOptions {
  /** The autoencoders, A_S first, in the order add() receives their reconstructions. */
  names: string[];
  /** Bins and normalization of intra- and inter-NMI. */
  nmi?: NmiOptions;
  /** Random pairs of distinct images of the inter-NMI (default INTER_NMI_PAIRS). */
  interPairs?: number;
  /** Seed of the inter-NMI pairs. */
  seed?: number;
  /** Periods of the periodic-artifact measure (default 2, 4, 8). */
  periods?: readonly number[];
  /** Bins of the channel histograms (default 64). */
  histogramBins?: number;
  /** Picture grid: its sample indices, or how many evenly spaced ones (default GRID_SAMPLES). */
  gridSamples?: number[] | number;
  /** What was planted in each image, on a planted dataset. */
  truth?: PlantedTruth | null;
  /** Negative-control AEs whose reconstructions add() receives after the others: measured by the planted probes only. */
  controls?: string[];
}

/** One autoencoder's measures, with the per-image (per-pair for inter-NMI) values behind the intervals. */
export interface AutoencoderMeasures {
  name: string;
  psnr: Estimate;
  intraNmi: Estimate;
  interNmi: Estimate;
  gridEnergy: number;
  /** null for grayscale images. */
  colourShift: ColourShift | null;
  periodic: PeriodicArtifact[];
  perImage: { psnr: Float64Array; intraNmi: Float64Array };
  perPair: { interNmi: Float64Array };
}

export interface ReconstructionMeasuresResult {
  autoencoders: AutoencoderMeasures[];
  histograms: Record<string, ChannelHistogram[]>;
  pictures: ReconstructionGrid;
  /** null without planted truth. */
  planted: PlantedSignal | null;
}

/** The accumulators of one autoencoder; colour only once the first chunk shows RGB images. */
interface PerAutoencoder {
  psnr: PsnrAccumulator;
  intra: IntraNmiAccumulator;
  inter: InterNmiAccumulator;
  grid: GridEnergyAccumulator;
  periodic: PeriodicAccumulator;
  colour: ColourShiftAccumulator | null;
}

/**
 * All pixel-level measures of an evaluation over a set taken chunk by chunk.
 *
 * @example
 * const measures = new ReconstructionMeasures(n, { names: ['A_S', 'S2S-vgg'], nmi: { bins: 64 }, interPairs: 200, seed: 0, gridSamples: 8 });
 * for (const chunk of chunks) measures.add(chunk.originals, [chunk.generic, chunk.vgg]);
 * const { autoencoders, histograms, pictures, planted } = measures.finish({ resamples: 1000, seed: 0 });
 */
export class ReconstructionMeasures implements Accumulator<[originals: ImageInput, reconstructions: ImageInput[]], ReconstructionMeasuresResult> {
  private readonly cursor: ChunkCursor;
  private readonly perAutoencoder: PerAutoencoder[];
  private readonly histograms: ChannelHistogramsAccumulator;
  private readonly pictures: ReconstructionGridAccumulator;
  private readonly planted: PlantedSignalAccumulator | null;

  /**
   * @param images Number of images of the evaluation set.
   * @param opts The autoencoders' names and each measure's options.
   * @throws AnalysisError on bad options (as each measure's accumulator throws them).
   */
  constructor(
    images: number,
    private readonly opts: ReconstructionMeasuresOptions,
  ) {
    this.cursor = new ChunkCursor(images, 'reconstruction measures');
    this.perAutoencoder = opts.names.map(() => ({
      psnr: new PsnrAccumulator(images),
      intra: new IntraNmiAccumulator(images, opts.nmi),
      inter: new InterNmiAccumulator(images, { ...opts.nmi, pairs: opts.interPairs, seed: opts.seed }),
      grid: new GridEnergyAccumulator(images),
      periodic: new PeriodicAccumulator(images, opts.periods ?? ARTIFACT_PERIODS),
      colour: null,
    }));
    this.histograms = new ChannelHistogramsAccumulator(images, opts.names, opts.histogramBins);
    this.pictures = new ReconstructionGridAccumulator(images, opts.names, opts.gridSamples ?? GRID_SAMPLES);
    this.planted = opts.truth ? new PlantedSignalAccumulator(images, opts.truth, opts.names, opts.controls) : null;
  }

  add(originals: ImageInput, reconstructions: ImageInput[], controls: ImageInput[] = []): this {
    const { orig, sets, offset } = namedChunk(this.cursor, this.opts.names, originals, reconstructions);
    const rgb = orig.shape[1] === 3;
    this.perAutoencoder.forEach((a, k) => {
      if (offset === 0 && rgb) a.colour = new ColourShiftAccumulator(this.cursor.total);
      for (const m of [a.psnr, a.intra, a.grid, a.periodic, a.colour]) m?.add(orig, sets[k]);
      a.inter.add(sets[k]);
    });
    this.histograms.add(orig, sets);
    this.pictures.add(orig, sets);
    this.planted?.add(orig, sets, controls);
    return this;
  }

  finish(boot: BootstrapOptions = {}): ReconstructionMeasuresResult {
    this.cursor.end();
    const autoencoders = this.perAutoencoder.map((a, k) => {
      const perImage = { psnr: a.psnr.finish(), intraNmi: a.intra.finish() };
      const interNmi = a.inter.finish();
      return {
        name: this.opts.names[k],
        psnr: meanEstimate(perImage.psnr, boot),
        intraNmi: meanEstimate(perImage.intraNmi, boot),
        interNmi: meanEstimate(interNmi, boot),
        gridEnergy: a.grid.finish(),
        colourShift: a.colour?.finish(boot) ?? null,
        periodic: a.periodic.finish(boot),
        perImage,
        perPair: { interNmi },
      };
    });
    return { autoencoders, histograms: this.histograms.finish(), pictures: this.pictures.finish(), planted: this.planted?.finish(boot) ?? null };
  }
}
