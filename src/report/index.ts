// The report layer: results.json, CSVs, PNG figures and a self-contained report.html, written
// from plain data (results and picture rows). Nothing here touches tensors.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import type { PictureRow } from '../analysis/pictures.js';
import { matrixCsv } from './csv.js';
import { gridPng } from './grid.js';
import { reportHtml, type EmbeddedFigure } from './html.js';
import { renderPng, resultFigures } from './figures.js';
import { validateResults, type Results } from './results.js';

export { validateResults, ResultsSchema, ResultsError, RESULTS_SCHEMA_VERSION } from './results.js';
export type { Results } from './results.js';
export { formatSummary, textTable } from './summary.js';
export { resultFigures, renderPng } from './figures.js';
export { gridPng } from './grid.js';
export { matrixCsv } from './csv.js';
export { escapeXml } from './escape.js';

export interface ReportPictures {
  grid: PictureRow[];
  differences: PictureRow[];
}

const PICTURE_CAPTIONS = {
  grid: 'The same test images: originals (top), the generic AE A_S, and each classifier\'s S2SNet.',
  differences: 'Absolute difference between each reconstruction and its original, amplified.',
};

/** Writes results.json, the CSVs, figures/*.png and report.html into dir; returns the files written. */
export async function writeReport(dir: string, results: Results, pictures: ReportPictures): Promise<string[]> {
  const figures: EmbeddedFigure[] = [];
  for (const f of resultFigures(results)) figures.push({ id: f.id, caption: f.caption, png: await renderPng(f.spec) });
  figures.push({ id: 'grid', caption: PICTURE_CAPTIONS.grid, png: await gridPng(pictures.grid) });
  if (pictures.differences.length) figures.push({ id: 'differences', caption: PICTURE_CAPTIONS.differences, png: await gridPng(pictures.differences) });
  const files: string[] = [];
  const write = (name: string, data: string | Uint8Array) => {
    writeFileAtomic(join(dir, name), data);
    files.push(name);
  };
  for (const f of figures) write(`figures/${f.id}.png`, f.png);
  const complete: Results = { ...results, figures: figures.map((f) => ({ id: f.id, file: `figures/${f.id}.png`, caption: f.caption })) };
  validateResults(complete);
  const cx = complete.crossEvaluation;
  write('cross_top1.csv', matrixCsv('reconstructions_of', cx.rows, cx.columns, cx.top1));
  write('cross_delta.csv', matrixCsv('reconstructions_of', cx.rows, cx.columns, cx.delta));
  write('results.json', `${JSON.stringify(complete, null, 2)}\n`);
  write('report.html', reportHtml(complete, new Map(figures.map((f) => [f.id, f]))));
  return files;
}

/** Re-renders report.html from results.json and the figure files in dir alone. */
export function rebuildReport(dir: string): string {
  const results = validateResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')), join(dir, 'results.json'));
  const present = new Set(readdirSync(join(dir, 'figures')));
  const figs = new Map<string, EmbeddedFigure>();
  for (const f of results.figures) {
    if (present.has(f.file.replace(/^figures\//, ''))) figs.set(f.id, { id: f.id, caption: f.caption, png: readFileSync(join(dir, f.file)) });
  }
  const path = join(dir, 'report.html');
  writeFileAtomic(path, reportHtml(results, figs));
  return path;
}
