// The viewer's JSON API: what `s2snets serve` answers and the browser code reads. Types only,
// so that the browser bundle can share them without pulling any server code.

/** One picture source of the gallery: the originals, A_S or one classifier's S2SNet. */
export interface SourceInfo {
  name: string;
  /** Whether its images exist yet (a reconstruction job still running or pending: false). */
  ready: boolean;
}

/** GET /api/run: what the run holds now (it may still be running). */
export interface RunInfo {
  /** The run directory's own name (never its full path). */
  name: string;
  dataset: string;
  classes: string[];
  /** Label (class index) of every evaluation image, in evaluation order. */
  labels: number[];
  imageSize: number;
  channels: number;
  /** 'original' first, then A_S, then one S2SNet per classifier. */
  sources: SourceInfo[];
  classifiers: string[];
  jobs: { name: string; status: 'pending' | 'running' | 'done' | 'failed' }[];
  /** GET /api/results and /api/charts answer (the report was written). */
  hasResults: boolean;
  /** Why report/results.json exists but cannot be read (an older schema, say), or null. */
  resultsProblem: string | null;
  /** GET /api/predictions answers (the evaluation wrote per-image predictions). */
  hasPredictions: boolean;
  /** Tile layout: GET /api/tiles/<source>/<t>.png holds images [t * perTile, (t + 1) * perTile), row-major in `columns` columns. */
  tiles: { perTile: number; columns: number };
}

/** GET /api/predictions: top-1 class per image, per picture row ('original', 'A_S', 'S2S-...') and classifier (predictions.json of the evaluation; the server checks the two types agree). */
export interface PredictionsInfo {
  labels: number[];
  rows: Record<string, Record<string, { top1: number[]; top5Hit: (0 | 1)[] | null }>>;
}

/** GET /api/charts: the report's vega-lite specs. */
export interface ChartInfo {
  id: string;
  caption: string;
  spec: Record<string, unknown>;
}

/** The error body of every non-2xx answer. */
export interface ApiError {
  /** What was refused and why, in words (its first line). */
  error: string;
  /** The stable code of docs/errors.md: match on it, never on `error`. */
  code: string;
}
