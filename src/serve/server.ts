// `s2snets serve`: a small read-only HTTP server over one run directory. It answers GET only,
// from a fixed set of routes (the viewer's files, vega's browser bundles, a JSON API and PNG
// tiles), so no request names a file: run files are found from the run store, and every one is
// checked to resolve inside the run directory. Bound to loopback unless told otherwise, and
// then it also refuses requests whose Host is not a loopback name (DNS rebinding).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { ResultsError, type Results } from '../report/schema.js';
import type { ApiError, ChartInfo, PredictionsInfo, RunInfo } from './api.js';
import { RunView, ServeError } from './run-view.js';
import { TileCache, evaluationSet, tileLayout } from './tile-cache.js';
import { S2SNetsError } from '../common/errors.js';

/** The port `serve` listens on unless --port says otherwise. */
export const DEFAULT_PORT = 6070;
export const DEFAULT_HOST = '127.0.0.1';

/** Longest request target accepted; the viewer's own URLs stay far below it. */
export const MAX_URL_LENGTH = 2048;
const MAX_QUERY_LENGTH = 256;

export interface ServeOptions {
  /** 0 picks a free port. Default DEFAULT_PORT. */
  port?: number;
  /** Default DEFAULT_HOST (loopback). */
  host?: string;
  /** Called with one line per request that failed on the server's side. */
  onError?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/**
 * Whether `host` names the loopback interface only.
 * @param host a host name or address
 * @example isLoopback('127.0.0.1') // true
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const here = dirname(fileURLToPath(import.meta.url));

function asset(path: string, type: string): Asset {
  const body = readFileSync(path);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 20)}"` };
}

/** The viewer's files (built by setup into dist/web) and vega's browser bundles, read once at start. */
function loadAssets(): Map<string, Asset> {
  const web = join(here, '..', '..', 'web');
  if (!existsSync(join(web, 'viewer.js'))) throw new ServeError('S2SNETS_SERVE_NOT_BUILT', `the viewer is not built (${join(web, 'viewer.js')} is missing); run: npm run build`);
  const icon = asset(join(web, 'icon.svg'), 'image/svg+xml');
  const vendor = (pkg: string, file: string) => join(dirname(fileURLToPath(import.meta.resolve(pkg))), file);
  return new Map([
    ['/', asset(join(web, 'index.html'), 'text/html; charset=utf-8')],
    ['/viewer.js', asset(join(web, 'viewer.js'), 'text/javascript; charset=utf-8')],
    ['/viewer.css', asset(join(web, 'viewer.css'), 'text/css; charset=utf-8')],
    ['/icon.svg', icon],
    // Browsers ask for /favicon.ico whatever the page says.
    ['/favicon.ico', icon],
    ['/vendor/vega.min.js', asset(vendor('vega', 'vega.min.js'), 'text/javascript; charset=utf-8')],
    ['/vendor/vega-lite.min.js', asset(vendor('vega-lite', 'vega-lite.min.js'), 'text/javascript; charset=utf-8')],
  ]);
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  // vega compiles its expressions with Function(), hence 'unsafe-eval'; nothing loads from elsewhere.
  'Content-Security-Policy': "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
};

/** Path of a request target, decoded; throws a ServeError (HTTP 400) on what no viewer URL looks like. */
function parseTarget(target: string): string {
  if (target.length > MAX_URL_LENGTH) throw new ServeError('S2SNETS_SERVE_REQUEST', `request target longer than ${MAX_URL_LENGTH} characters`, 400);
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  if (q >= 0) {
    // The API takes no parameters; a short, well-formed query (a cache buster) is tolerated.
    const query = target.slice(q + 1);
    if (query.length > MAX_QUERY_LENGTH) throw new ServeError('S2SNETS_SERVE_REQUEST', `query longer than ${MAX_QUERY_LENGTH} characters`, 400);
    try {
      for (const part of query.split('&')) decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw new ServeError('S2SNETS_SERVE_REQUEST', 'malformed query (bad percent-encoding)', 400);
    }
  }
  if (!rawPath.startsWith('/')) throw new ServeError('S2SNETS_SERVE_REQUEST', 'request target must be a path', 400);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new ServeError('S2SNETS_SERVE_REQUEST', 'malformed path (bad percent-encoding)', 400);
  }
  if (path.includes('\0') || path.includes('\\') || path.split('/').some((seg) => seg === '..' || seg === '.')) throw new ServeError('S2SNETS_SERVE_REQUEST', 'path leaves the served tree', 403);
  return path;
}

async function runInfo(view: RunView): Promise<RunInfo> {
  const snap = view.snapshot();
  let results: Results | null = null;
  let resultsProblem: string | null = null;
  try {
    results = view.resultsJson();
  } catch (e) {
    if (!(e instanceof ResultsError)) throw e;
    resultsProblem = e.message;
  }
  let predictions: PredictionsInfo | null = null;
  try {
    predictions = view.predictions();
  } catch (e) {
    // A damaged evaluation: /api/predictions says why; the rest of the run still shows.
    if (!(e instanceof ServeError && e.code === 'S2SNETS_SERVE_BAD_RUN')) throw e;
  }
  // A finished run says everything in its results and predictions; otherwise ask the data layer.
  const images =
    results && predictions
      ? { labels: predictions.labels, classes: results.run.classes, size: results.run.imageSize, channels: results.run.channels }
      : await evaluationSet(snap.plan);
  return {
    name: view.name,
    dataset: snap.dataset,
    classes: images.classes,
    labels: images.labels,
    imageSize: images.size,
    channels: images.channels,
    sources: snap.sources.map((name, i) => ({ name, ready: i === 0 || view.reconstructionJob(name) !== undefined })),
    classifiers: snap.plan.classifiers.map((c) => c.name),
    jobs: snap.jobs.map((j) => ({ name: j.name, status: j.status })),
    hasResults: results !== null,
    resultsProblem,
    hasPredictions: predictions !== null,
    tiles: tileLayout(images.size),
  };
}

async function charts(view: RunView): Promise<ChartInfo[] | null> {
  const results = view.resultsJson();
  if (!results) return null;
  const { resultFigures } = await import('../report/figures.js');
  return resultFigures(results).map((f) => ({ id: f.id, caption: f.caption, spec: f.spec }));
}

const TILE_ROUTE = /^\/api\/tiles\/([^/]{1,200})\/(\d{1,7})\.png$/;

/**
 * Serves the viewer over one run directory.
 * @param runDir a run directory (finished or still running)
 * @param opts port, host, error sink
 * @returns the listening server and its URL
 * @throws ServeError S2SNETS_SERVE_NO_RUN (no run there), S2SNETS_SERVE_NOT_BUILT (viewer not built), S2SNETS_SERVE_LISTEN (port taken, host unknown)
 * @example const s = await serveRun('runs/mnist', { port: 0 }); console.log(s.url); await s.close();
 */
export async function serveRun(runDir: string, opts: ServeOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? DEFAULT_HOST;
  const loopback = isLoopback(host);
  const view = new RunView(runDir);
  const assets = loadAssets();
  const tiles = new TileCache(view);
  const onError = opts.onError ?? ((line: string) => process.stderr.write(`${line}\n`));

  const sendJson = (res: ServerResponse, status: number, value: unknown) => {
    const body = Buffer.from(JSON.stringify(value));
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
    res.end(body);
  };
  const sendBody = (req: IncomingMessage, res: ServerResponse, body: Buffer, type: string, etag: string) => {
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ...SECURITY_HEADERS, ETag: etag, 'Cache-Control': 'no-cache' });
      res.end();
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': body.length, ETag: etag, 'Cache-Control': 'no-cache' });
    res.end(body);
  };

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const fixed = assets.get(path);
    if (fixed) return sendBody(req, res, fixed.body, fixed.type, fixed.etag);
    const notFound = (message: string) => new ServeError('S2SNETS_SERVE_NOT_FOUND', message, 404);
    const found = (value: unknown, what: string) => {
      if (value === null) throw notFound(`${what} not available yet`);
      sendJson(res, 200, value);
    };
    if (path === '/api/run') return sendJson(res, 200, await runInfo(view));
    if (path === '/api/results') return found(view.resultsJson(), 'results (report/results.json)');
    if (path === '/api/predictions') return found(view.predictions(), 'per-image predictions');
    if (path === '/api/charts') return found(await charts(view), 'charts (report/results.json)');
    const m = TILE_ROUTE.exec(path);
    if (m) {
      const file = await tiles.tile(m[1], Number(m[2]));
      if (!file) throw notFound(`no tile ${m[2]} of '${m[1]}' (unknown source, not finished yet, or past the last image)`);
      const body = readFileSync(file);
      return sendBody(req, res, body, 'image/png', `"${createHash('sha256').update(file).update(String(body.length)).digest('hex').slice(0, 20)}"`);
    }
    throw notFound(`nothing at ${path}`);
  }

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (req.method !== 'GET') {
        res.setHeader('Allow', 'GET');
        throw new ServeError('S2SNETS_SERVE_REQUEST', `${req.method} is not allowed: this server is read-only (GET only)`, 405);
      }
      if (loopback && !isLoopback((req.headers.host ?? '').replace(/:\d+$/, ''))) throw new ServeError('S2SNETS_SERVE_REQUEST', `Host '${req.headers.host ?? ''}' is not a loopback name`, 403);
      await route(req, res, parseTarget(req.url ?? ''));
    } catch (e) {
      // A results.json this version cannot read (an older schema) is the run's state, not a server failure.
      const status = e instanceof ServeError ? e.status : e instanceof ResultsError ? 409 : 500;
      const message = (e as Error).message.split('\n')[0];
      // Every error body names a documented code, so a client matches on it, never on the wording.
      const code = e instanceof S2SNetsError ? e.code : 'S2SNETS_SERVE_INTERNAL';
      if (status >= 500) onError(`s2snets serve: ${req.method} ${req.url}: ${message}`);
      if (!res.headersSent) sendJson(res, status, { error: message, code } satisfies ApiError);
      else res.destroy();
    }
  };

  const server: Server = createServer({ maxHeaderSize: 8192, requestTimeout: 30_000 }, (req, res) => void handler(req, res));
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? `port ${opts.port ?? DEFAULT_PORT} is in use; pick another with --port N (0: any free port)` : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' ? `cannot listen on host '${host}' (${e.code})` : e.message;
      reject(new ServeError('S2SNETS_SERVE_LISTEN', why));
    });
    server.listen(opts.port ?? DEFAULT_PORT, host, () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? DEFAULT_PORT);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    host,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
