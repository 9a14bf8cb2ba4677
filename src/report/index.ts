// The report layer: results.json, CSVs, PNG figures and a self-contained report.html, written
// from plain data (results and picture rows). Nothing here touches tensors.
export { validateResults, readResultsFile, ResultsSchema, ResultsError, RESULTS_SCHEMA_VERSION } from './schema.js';
export type { Results, ClassifierResult, AutoencoderResult, CrossEvaluation, ChannelHistogram, LossCurve, Interval, KendallResult, ClaimResults, NoiseResults, ReplicateResults } from './schema.js';
export { withInterval, claimSentence, percent } from './format.js';
export { writeReport, rebuildReport, writeResultsJson, writeMatrixCsvs, type ReportPictures } from './writers.js';
export { formatSummary, orderSummary, replicateSummary } from './summary.js';
export {
  resultFigures,
  renderPng,
  renderFigure,
  textRenders,
  accuracyChart,
  noiseChart,
  matrixHeatmap,
  crossHeatmap,
  deltaHeatmap,
  nmiChart,
  histogramChart,
  lossCurvesChart,
  type FigureSpec,
  type RenderedFigure,
  type VegaLiteSpec,
  type LabelledMatrix,
} from './figures.js';
export { gridPng, labelWidth, PictureGridError, GRID_GAP } from './grid.js';
export { reportHtml, flattenConfig, type EmbeddedFigure } from './html.js';
export { matrixCsv } from './csv.js';
export { escapeXml } from './escape.js';
export { runWarnings, MAX_BASELINE_LOSS, type RunWarning, type RunWarningCode } from './diagnostics.js';
export { colourRows, periodicRows, finetuneRows, plantedRows } from './measures.js';
