// Writing a report directory: results.json, the matrices as CSV, figures/*.png and report.html.
// Every file is written atomically, and report.html can be rebuilt from the other files alone.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import type { PictureRow } from '../analysis/pictures.js';
import { matrixCsv } from './csv.js';
import { gridPng } from './grid.js';
import { reportHtml, type EmbeddedFigure } from './html.js';
import { renderFigure, resultFigures, textRenders } from './figures.js';
import { readResultsFile, validateResults, ResultsError, type Results } from './schema.js';

export interface ReportPictures {
  /** Originals, then A_S, then each classifier's S2SNet. */
  grid: PictureRow[];
  /** Amplified |reconstruction - original| per autoencoder; may be empty. */
  differences: PictureRow[];
}

const PICTURE_CAPTIONS = {
  grid: "The same test images: originals (top), the generic AE A_S, and each classifier's S2SNet.",
  differences: 'Absolute difference between each reconstruction and its original, amplified.',
};

const NO_FONT_NOTE = ' [Figure text is missing: no system font was found to draw it; install a TrueType font such as Debian fonts-dejavu-core and rebuild the report.]';

/** results.json (validated first, so that a broken run never leaves a file the report cannot read). */
export function writeResultsJson(dir: string, results: Results): string {
  validateResults(results, 'results to write');
  const path = join(dir, 'results.json');
  writeFileAtomic(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}

/**
 * cross_top1.csv and cross_delta.csv (shares in [0, 1], rows: reconstructions of, columns:
 * classifier, each followed by its 95 % interval as <column>_low and <column>_high).
 */
export function writeMatrixCsvs(dir: string, results: Results): string[] {
  const cx = results.crossEvaluation;
  const files: [string, number[][], [number, number][][]][] = [
    ['cross_top1.csv', cx.top1, cx.ci95.top1],
    ['cross_delta.csv', cx.delta, cx.ci95.delta],
  ];
  return files.map(([name, m, ci]) => {
    const path = join(dir, name);
    writeFileAtomic(path, matrixCsv('reconstructions_of', cx.rows, cx.columns, m, ci));
    return path;
  });
}

/**
 * Writes figures/*.png, results.json (with its figure list filled in), the CSVs and report.html
 * into dir; returns the files written, relative to dir.
 */
export async function writeReport(dir: string, results: Results, pictures: ReportPictures): Promise<string[]> {
  validateResults(results, 'results to report');
  const fontNote = textRenders() ? '' : NO_FONT_NOTE;
  const figures: EmbeddedFigure[] = [];
  for (const f of resultFigures(results)) {
    const { id, caption, png } = await renderFigure(f);
    figures.push({ id, caption: caption + fontNote, png });
  }
  figures.push({ id: 'grid', caption: PICTURE_CAPTIONS.grid, png: await gridPng(pictures.grid) });
  if (pictures.differences.length) figures.push({ id: 'differences', caption: PICTURE_CAPTIONS.differences, png: await gridPng(pictures.differences) });
  const files: string[] = [];
  for (const f of figures) {
    writeFileAtomic(join(dir, 'figures', `${f.id}.png`), f.png);
    files.push(`figures/${f.id}.png`);
  }
  const complete: Results = { ...results, figures: figures.map((f) => ({ id: f.id, file: `figures/${f.id}.png`, caption: f.caption })) };
  writeResultsJson(dir, complete);
  files.push('results.json');
  for (const path of writeMatrixCsvs(dir, complete)) files.push(path.slice(dir.length + 1));
  writeFileAtomic(join(dir, 'report.html'), reportHtml(complete, new Map(figures.map((f) => [f.id, f]))));
  files.push('report.html');
  return files;
}

/** Re-renders report.html from results.json and the figure files in dir alone; returns its path. */
export function rebuildReport(dir: string): string {
  const source = join(dir, 'results.json');
  if (!existsSync(source)) throw new ResultsError(`${source}: not found; a report can only be rebuilt in a directory written by writeReport`);
  const results = readResultsFile(source);
  // A figure whose file is gone is left out of the page rather than failing the whole report.
  const figs = new Map<string, EmbeddedFigure>();
  for (const f of results.figures) {
    const file = join(dir, f.file);
    if (existsSync(file)) figs.set(f.id, { id: f.id, caption: f.caption, png: readFileSync(file) });
  }
  const path = join(dir, 'report.html');
  writeFileAtomic(path, reportHtml(results, figs));
  return path;
}
