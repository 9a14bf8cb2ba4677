// The serve layer: a local, read-only HTTP server that shows one run in the browser (the viewer
// under src/web) through a JSON and PNG API.
export { serveRun, isLoopback, DEFAULT_PORT, DEFAULT_HOST, MAX_URL_LENGTH, type ServeOptions, type RunningServer } from './server.js';
export { RunView, ServeError, ORIGINAL, type ServeErrorCode, type RunSnapshot } from './run-view.js';
export { TileCache, tileLayout, sheetPng, evaluationSet, TILE_SIDE_PX, type EvaluationSet } from './tile-cache.js';
export type { RunInfo, SourceInfo, PredictionsInfo, ChartInfo, ApiError } from './api.js';
