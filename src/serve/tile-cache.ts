// PNG tiles of the evaluation images: each tile holds `perTile` consecutive images of one source
// (originals, A_S, an S2SNet) in a square-ish sheet, so that a gallery page costs a few requests.
// They are made on first request from the run's reconstruction artifacts (or its dataset, for
// the originals) and cached in <run>/tiles/<content id>/, written atomically under the cache's own
// lock (<run>/tiles/lock, not the run's: a run in progress keeps its lock); a finished
// `tiles.json` marks a complete set. The compute engine is loaded only when a tile is missing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import { runLayout } from '../runs/artifacts.js';
import { LockHeldError, withLock } from '../runs/lock.js';
import type { ExperimentPlan } from '../experiment/plan.js';
import type { ImageSet } from '../analysis/images.js';
import { ORIGINAL, RunView, ServeError } from './run-view.js';

/** Target side of a tile in pixels: 256 MNIST digits (32 px), 4 ImageNet crops (224 px). */
export const TILE_SIDE_PX = 512;

/**
 * How images of a given side are laid out in tiles.
 * @param imageSize side of the (square) evaluation images in pixels
 * @example tileLayout(32) // { columns: 16, perTile: 256 }
 */
export function tileLayout(imageSize: number): { columns: number; perTile: number } {
  const columns = Math.max(1, Math.floor(TILE_SIDE_PX / imageSize));
  return { columns, perTile: columns * columns };
}

/** The evaluation set as the viewer needs it: labels, class names and the originals in [0, 1]. */
export interface EvaluationSet {
  /** Identifies the images (dataset, sample count, seed): the originals' cache folder. */
  key: string;
  labels: number[];
  classes: string[];
  size: number;
  channels: number;
  /** Originals [first, first + count) in [0, 1] (read, and for streamed datasets decoded, on request). */
  originals(first: number, count: number): Promise<ImageSet>;
  /** Reconstructions [first, first + count) of an autoencoder (a finished artifact) as displayable [0, 1] pixels. */
  reconstructed(dir: string, output: { file: string }, first: number, count: number): ImageSet;
}

/** Images [first, first + count) of a source, read when a tile needs them. */
type ImageRange = (first: number, count: number) => Promise<ImageSet>;

const loading = new Map<string, Promise<EvaluationSet>>();

/**
 * The run's evaluation images through the data layer (the same code the run used), loaded once
 * per plan on first need: this is what loads the compute engine.
 * @param plan the run's plan
 * @throws whatever loading the dataset throws (a missing image folder, for one)
 * @example (await evaluationSet(plan)).labels.length // evaluation images
 */
export function evaluationSet(plan: ExperimentPlan): Promise<EvaluationSet> {
  const id = JSON.stringify([plan.dataset, plan.evalSamples, plan.seed, plan.trainLimit]);
  let p = loading.get(id);
  if (!p) {
    p = (async () => {
      const [{ experimentData, evaluationSetKey }, { toImageSet }, { openReconstructions }, { tidy }, { readWhole }] = await Promise.all([
        import('../experiment/inputs.js'),
        import('../analysis/images.js'),
        import('../experiment/reconstruction-job.js'),
        import('../engine/index.js'),
        import('../data/index.js'),
      ]);
      const data = await experimentData(plan);
      const pixels = (make: () => import('../engine/index.js').Tensor): ImageSet => {
        const t = tidy(make);
        try {
          return toImageSet(t);
        } finally {
          t.dispose();
        }
      };
      const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);
      return {
        key: evaluationSetKey(plan),
        labels: Array.from(data.eval.labels),
        classes: data.classNames,
        size: data.size,
        channels: data.channels,
        async originals(first, count) {
          const { x, y } = await readWhole(data.eval.subset(range(first, count)));
          y.dispose();
          return pixels(() => data.toPixels(x));
        },
        reconstructed(dir, output, first, count) {
          const recon = openReconstructions(dir, output as never, data);
          try {
            return pixels(() => recon.pixels(first, count));
          } finally {
            recon.close();
          }
        },
      };
    })();
    loading.set(id, p);
    p.catch(() => loading.delete(id));
  }
  return p;
}

/**
 * Images [first, first + count) of a set as one PNG sheet, `columns` images wide, pixels as
 * they are (grayscale stays one channel).
 * @param set images in [0, 1], [N, C, H, W] with C = 1 or 3
 * @example await sheetPng(set, 0, 256, 16)
 */
export async function sheetPng(set: ImageSet, first: number, count: number, columns: number): Promise<Buffer> {
  const [, c, h, w] = set.shape;
  const rows = Math.ceil(count / columns);
  const width = columns * w;
  const raw = Buffer.alloc(width * rows * h * c);
  const plane = h * w;
  for (let k = 0; k < count; k++) {
    const base = (first + k) * c * plane;
    const x0 = (k % columns) * w;
    const y0 = Math.floor(k / columns) * h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = ((y0 + y) * width + x0 + x) * c;
        for (let ch = 0; ch < c; ch++) raw[o + ch] = Math.round(Math.min(1, Math.max(0, set.data[base + ch * plane + y * w + x])) * 255);
      }
    }
  }
  // sharp loads on first need: a server whose tiles are all cached never does.
  const { default: sharp } = await import('sharp');
  return sharp(raw, { raw: { width, height: rows * h, channels: c as 1 | 3 } }).png({ compressionLevel: 6 }).toBuffer();
}

const COMPLETE = 'tiles.json';

/** A source's images and how many there are. */
interface TileSource {
  images: ImageRange;
  total: number;
  size: number;
}
/** How long a request waits for another process that is making the same tiles. */
const LOCK_WAIT_MS = 60_000;

/** Finds or makes the tiles of a run; one generation per source at a time. */
export class TileCache {
  private readonly making = new Map<string, Promise<void>>();
  private readonly counts = new Map<string, number>();

  constructor(private readonly view: RunView) {}

  /**
   * The file of tile `index` of `source` ('original' or an autoencoder's name).
   * @param source 'original' or an autoencoder's name
   * @param index tile number (images [index * perTile, (index + 1) * perTile))
   * @returns null when the source is unknown, not finished yet, or has no such tile
   * @throws ServeError S2SNETS_SERVE_OUTSIDE_RUN when the cache folder leads outside the run directory; S2SNETS_SERVE_BAD_RUN when the reconstructions fail their manifest or its record
   * @example await new TileCache(view).tile('A_S', 0) // <run>/tiles/ae-<sha>/0.png
   */
  async tile(source: string, index: number): Promise<string | null> {
    const snap = this.view.snapshot();
    if (!snap.sources.includes(source)) return null;
    let id: string;
    let images: (set: EvaluationSet) => ImageRange;
    if (source === ORIGINAL) {
      id = `eval-${(await evaluationSet(snap.plan)).key}`;
      images = (set) => (first, count) => set.originals(first, count);
    } else {
      const job = this.view.reconstructionJob(source);
      if (!job) return null;
      // The cache folder is named by the verified manifest's checksum, never by what run.db says.
      const artifact = this.view.verifiedArtifact(job);
      id = `ae-${artifact.manifestSha}`;
      images = (set) => async (first, count) => set.reconstructed(artifact.dir, artifact.manifest.output as { file: string }, first, count);
    }
    const dir = join(runLayout(this.view.runDir).tiles, id);
    // The evaluation set (and with it the compute engine) is loaded only when tiles are missing.
    const count = await this.ensure(id, dir, async () => {
      const set = await evaluationSet(snap.plan);
      return { images: images(set), total: set.labels.length, size: set.size };
    });
    if (!Number.isInteger(index) || index < 0 || index >= count) return null;
    return this.view.inside(join(dir, `${index}.png`));
  }

  /** The tile count of a complete set in dir, or null while it is not complete. */
  private completeCount(dir: string): number | null {
    const marker = this.view.inside(join(dir, COMPLETE));
    return marker ? (JSON.parse(readFileSync(marker, 'utf8')) as { tiles: number }).tiles : null;
  }

  private async ensure(id: string, dir: string, images: () => Promise<TileSource>): Promise<number> {
    const known = this.counts.get(id) ?? this.completeCount(dir);
    if (known !== null) {
      this.counts.set(id, known);
      return known;
    }
    let job = this.making.get(id);
    if (!job) {
      job = this.make(dir, images)
        .then((tiles) => void this.counts.set(id, tiles))
        .finally(() => this.making.delete(id));
      this.making.set(id, job);
    }
    await job;
    return this.counts.get(id)!;
  }

  /** Makes a tile set under the tile cache's lock (another server may be making the same set: then wait for it). */
  private async make(dir: string, images: () => Promise<TileSource>): Promise<number> {
    const root = runLayout(this.view.runDir).tiles;
    // A cache folder that is a link out of the run, or a path that leads out, is refused before anything is written.
    this.view.assertUnder(dir);
    for (const d of [root, dir]) if (existsSync(d)) this.view.inside(d);
    const started = Date.now();
    for (;;) {
      try {
        return await withLock(join(root, 'lock'), 's2snets serve (making tiles)', async () => this.completeCount(dir) ?? this.write(dir, await images()));
      } catch (e) {
        if (!(e instanceof LockHeldError)) throw e;
        if (Date.now() - started > LOCK_WAIT_MS) throw new ServeError('S2SNETS_SERVE_BUSY', `${e.message} (it is making tiles); try again shortly`, 503);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Writes every tile of a source, reading one tile's images at a time (memory holds a tile, not the set). */
  private async write(dir: string, source: TileSource): Promise<number> {
    const n = source.total;
    const { columns, perTile } = tileLayout(source.size);
    const tiles = Math.ceil(n / perTile);
    for (let t = 0; t < tiles; t++) {
      const first = t * perTile;
      const count = Math.min(perTile, n - first);
      writeFileAtomic(join(dir, `${t}.png`), await sheetPng(await source.images(first, count), 0, count, columns));
    }
    writeFileAtomic(join(dir, COMPLETE), JSON.stringify({ tiles, images: n, columns, perTile }));
    return tiles;
  }
}
