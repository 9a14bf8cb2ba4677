// The viewer's server over a run that is not finished (only A_S so far): what it shows, tiles
// equal to the reconstructions, and what it refuses: path traversal (plain, encoded, absolute,
// symbolic links out of the run), methods other than GET, huge or malformed queries, foreign
// Host headers; it binds loopback by default. Also `s2snets serve` from the command line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import Database from 'better-sqlite3';
import { isLoopback, serveRun, tileLayout, type RunInfo, type RunningServer } from '../../src/serve/index.js';
import { status } from '../../src/scheduler/runner.js';
import { artifactDir, runLayout } from '../../src/runs/artifacts.js';
import { acquireLock } from '../../src/runs/lock.js';
import { experimentData } from '../../src/experiment/inputs.js';
import { loadReconstructions, type ReconstructionOutput } from '../../src/experiment/reconstruction-job.js';
import type { ExperimentPlan } from '../../src/experiment/plan.js';
import { tidy } from '../../src/engine/index.js';
import { quickPretrain } from './quick-run.js';

const root = mkdtempSync(join(tmpdir(), 's2snets-serve-'));
const runDir = join(root, 'run');
const outside = join(root, 'outside');
let server: RunningServer;

before(async () => {
  quickPretrain(runDir);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.json'), '{"secret": true}');
  server = await serveRun(runDir, { port: 0 });
});

after(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A raw GET (or other method) with the request target sent exactly as given. */
function raw(target: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, method: opts.method ?? 'GET', path: target, headers: { Host: opts.host ?? `127.0.0.1:${server.port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

const json = async (target: string) => JSON.parse((await raw(target)).body.toString());

test('a run in progress: the finished sources show, the rest is announced as pending', async () => {
  const info = (await json('/api/run')) as RunInfo;
  assert.deepEqual(
    info.sources.map((s) => [s.name, s.ready]),
    [
      ['original', true],
      ['A_S', true],
      ['S2S-lenet5', false],
      ['S2S-resnet', false],
    ],
  );
  assert.equal(info.hasResults, false);
  assert.equal(info.hasPredictions, false);
  assert.equal(info.labels.length, 200);
  assert.deepEqual(info.tiles, tileLayout(32));
  assert.equal(info.name, 'run');
  assert.ok(!JSON.stringify(info).includes(root), 'the run directory path is not disclosed');
  for (const target of ['/api/results', '/api/predictions', '/api/charts', '/api/tiles/S2S-lenet5/0.png']) assert.equal((await raw(target)).status, 404, target);
});

test('tiles hold the reconstructions as 8-bit pixels, in order, and are cached in the run', async () => {
  const { columns, perTile } = tileLayout(32);
  const res = await raw('/api/tiles/A_S/0.png');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'image/png');
  const { data, info } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, columns * 32);
  assert.equal(info.height, Math.ceil(Math.min(perTile, 200) / columns) * 32);
  // The same pixels straight from the reconstruction artifact.
  const job = status(runDir).jobs.find((j) => j.name === 'reconstruct[A_S]')!;
  const plan = status(runDir).meta!.config as unknown as ExperimentPlan;
  const data0 = await experimentData(plan);
  const recon = loadReconstructions(artifactDir(runDir, job.key), { file: 'reconstructions.safetensors' } as ReconstructionOutput, data0);
  const pixels = tidy(() => data0.toPixels(recon)).toFloat32Array();
  recon.dispose();
  for (const k of [0, 1, columns, 137, 199]) {
    for (const [y, x] of [[5, 7], [16, 16], [31, 0]]) {
      const fromTile = data[((Math.floor(k / columns) * 32 + y) * info.width + (k % columns) * 32 + x) * info.channels];
      assert.equal(fromTile, Math.round(pixels[k * 1024 + y * 32 + x] * 255), `image ${k} pixel (${y}, ${x})`);
    }
  }
  assert.ok(readdirSync(runLayout(runDir).tiles).some((d) => d.startsWith('ae-') && existsSync(join(runLayout(runDir).tiles, d, 'tiles.json'))));
  assert.equal((await raw('/api/tiles/A_S/1.png')).status, 404, 'past the last image');
  assert.equal((await raw('/api/tiles/original/0.png')).status, 200);
});

test('path traversal and paths outside the routes get 403 or 404', async () => {
  const targets = [
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    '/api/tiles/..%2F..%2Frun.db/0.png',
    '/api/tiles/%2e%2e/0.png',
    '/api/..%5c..%5crun.db',
    '//etc/passwd',
    '/etc/passwd',
    `/${join(runDir, 'run.db')}`,
    '/run.db',
    '/report/results.json',
    '/artifacts',
    '/api/tiles/A_S/0.png%00.txt',
  ];
  for (const t of targets) {
    const r = await raw(t);
    assert.ok([403, 404].includes(r.status), `${t}: ${r.status}`);
    assert.ok(!r.body.toString().includes('root:'), t);
  }
  assert.equal((await raw('http://example.com/etc/passwd')).status, 400, 'absolute-form target');
});

test('symbolic links out of the run directory are refused', async () => {
  // results.json that is a link to a file elsewhere.
  mkdirSync(join(runDir, 'report'), { recursive: true });
  symlinkSync(join(outside, 'secret.json'), join(runDir, 'report', 'results.json'));
  const r = await raw('/api/results');
  assert.equal(r.status, 403);
  assert.ok(!r.body.toString().includes('secret'));
  rmSync(join(runDir, 'report'), { recursive: true });
  // A tile cache that is a link to a folder elsewhere: nothing is read from or written to it.
  const tiles = runLayout(runDir).tiles;
  renameSync(tiles, join(root, 'tiles-moved'));
  symlinkSync(outside, tiles);
  const fresh = await serveRun(runDir, { port: 0 });
  try {
    const res = await fetch(`${fresh.url}api/tiles/original/0.png`);
    assert.equal(res.status, 403);
    assert.deepEqual(readdirSync(outside), ['secret.json']);
  } finally {
    await fresh.close();
    rmSync(tiles);
    renameSync(join(root, 'tiles-moved'), tiles);
  }
});

test('an edited run.db cannot lead the server out of the run: artifacts are found only through their verified manifests', async () => {
  const db = new Database(runLayout(runDir).db);
  const row = db.prepare(`SELECT key, artifact_sha AS sha FROM jobs WHERE name = 'reconstruct[A_S]'`).get() as { key: string; sha: string };
  const forgeries: [string, string, string][] = [
    ['artifact_sha', `/../../../../../../../../..${outside}/pwned_tiles`, 'a path as the manifest checksum'],
    ['artifact_sha', 'f'.repeat(64), "another artifact's checksum"],
    ['key', `../../../../../../../..${outside}`, 'a path as the job key'],
  ];
  try {
    for (const [column, value, what] of forgeries) {
      db.prepare(`UPDATE jobs SET ${column} = ? WHERE key = ? OR key = ?`).run(value, row.key, value);
      const fresh = await serveRun(runDir, { port: 0 });
      try {
        const res = await fetch(`${fresh.url}api/tiles/A_S/0.png`);
        assert.equal(res.status, 409, what);
        const body = (await res.json()) as { error: string; code: string };
        assert.match(body.error, /artifact of job 'reconstruct\[A_S\]' is damaged/, what);
        assert.equal(body.code, 'S2SNETS_SERVE_BAD_RUN', what);
        assert.deepEqual(readdirSync(outside), ['secret.json'], `${what}: nothing is written outside the run`);
      } finally {
        await fresh.close();
        db.prepare(`UPDATE jobs SET key = ?, artifact_sha = ? WHERE name = 'reconstruct[A_S]'`).run(row.key, row.sha);
      }
    }
  } finally {
    db.close();
  }
  assert.equal((await raw('/api/tiles/A_S/0.png')).status, 200, 'the restored record serves again');
});

test('tiles are made under the tile cache lock: a server waits while another process holds it', async () => {
  const tiles = runLayout(runDir).tiles;
  rmSync(tiles, { recursive: true, force: true });
  const other = acquireLock(join(tiles, 'lock'), 'test: another server making tiles');
  const fresh = await serveRun(runDir, { port: 0 });
  try {
    const answer = fetch(`${fresh.url}api/tiles/A_S/0.png`);
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual(readdirSync(tiles), ['lock'], 'nothing is written while another process holds the lock');
    other.release();
    assert.equal((await answer).status, 200);
    assert.ok(!existsSync(join(tiles, 'lock')), 'the lock is released after the tiles are made');
  } finally {
    other.release();
    await fresh.close();
  }
});

test('a results.json this version cannot read is reported, and the rest of the run still shows', async () => {
  mkdirSync(join(runDir, 'report'), { recursive: true });
  writeFileSync(join(runDir, 'report', 'results.json'), JSON.stringify({ schemaVersion: 0 }));
  try {
    const info = (await json('/api/run')) as RunInfo;
    assert.equal(info.hasResults, false);
    assert.match(info.resultsProblem ?? '', /results\.json/);
    assert.equal(info.sources.filter((s) => s.ready).length, 2);
    const r = await raw('/api/results');
    assert.equal(r.status, 409);
    assert.deepEqual(JSON.parse(r.body.toString()), { error: info.resultsProblem, code: 'S2SNETS_RESULTS' });
  } finally {
    rmSync(join(runDir, 'report'), { recursive: true });
  }
});

test('only GET: every other method gets 405', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) {
    const r = await raw('/api/run', { method });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'GET');
  }
});

/** The codes docs/errors.md lists in its table. */
function documentedCodes(): Set<string> {
  const docs = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/errors.md'), 'utf8');
  return new Set([...docs.matchAll(/^\| `(S2SNETS_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
}

test('every JSON error body names a documented code, the one the refusal belongs to', async () => {
  const documented = documentedCodes();
  const cases: [string, { method?: string; host?: string }, number, string][] = [
    ['/api/results', {}, 404, 'S2SNETS_SERVE_NOT_FOUND'],
    ['/api/tiles/S2S-lenet5/0.png', {}, 404, 'S2SNETS_SERVE_NOT_FOUND'],
    ['/nothing/here', {}, 404, 'S2SNETS_SERVE_NOT_FOUND'],
    ['/api/%zz', {}, 400, 'S2SNETS_SERVE_REQUEST'],
    ['/api/run', { method: 'POST' }, 405, 'S2SNETS_SERVE_REQUEST'],
    ['/api/run', { host: 'evil.example' }, 403, 'S2SNETS_SERVE_REQUEST'],
  ];
  for (const [target, opts, status, code] of cases) {
    const r = await raw(target, opts);
    const what = `${opts.method ?? 'GET'} ${target}`;
    assert.equal(r.status, status, what);
    const body = JSON.parse(r.body.toString()) as { error: string; code: string };
    assert.equal(body.code, code, what);
    assert.ok(documented.has(body.code), `${what}: ${body.code} is not in docs/errors.md`);
    assert.ok(body.error.length > 0, what);
  }
});

test('huge or malformed requests get 400', async () => {
  assert.equal((await raw(`/api/run?${'a'.repeat(5000)}`)).status, 400);
  assert.equal((await raw(`/api/tiles/${'x'.repeat(3000)}/0.png`)).status, 400);
  assert.equal((await raw('/api/run?q=%E0%A4%A')).status, 400);
  assert.equal((await raw('/api/run?%')).status, 400);
  assert.equal((await raw('/api/%zz')).status, 400);
  assert.equal((await raw('/api/run?t=1')).status, 200, 'a short, well-formed query is fine');
});

test('loopback by default; foreign Host headers are refused (DNS rebinding)', async () => {
  assert.equal(server.host, '127.0.0.1');
  assert.ok(isLoopback('127.0.0.1') && isLoopback('localhost') && isLoopback('[::1]') && !isLoopback('0.0.0.0') && !isLoopback('192.168.1.2'));
  assert.equal((await raw('/api/run', { host: 'evil.example' })).status, 403);
  assert.equal((await raw('/api/run', { host: `localhost:${server.port}` })).status, 200);
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!external) {
    console.log('no non-loopback IPv4 interface here: the unreachable-from-outside check is skipped');
    return;
  }
  const reached = await new Promise<boolean>((done) => {
    const sock = connect({ host: external.address, port: server.port }, () => {
      sock.destroy();
      done(true);
    });
    sock.on('error', () => done(false));
  });
  assert.equal(reached, false, `the server answers on ${external.address}`);
});

test('starting serve and answering from cached tiles does not load libtorch (what keeps serve fast to start)', () => {
  // The modules `s2snets serve` runs, a started server and a JSON answer; then the shared libraries loaded.
  const script = `
    const { pathToFileURL } = await import('node:url');
    const load = (p) => import(pathToFileURL(p).href);
    await load('dist/src/cli/run-program.js');
    await load('dist/src/cli/serve.js');
    const { serveRun } = await load('dist/src/serve/index.js');
    const s = await serveRun(process.argv[1], { port: 0 });
    const res = await fetch(s.url + 'api/tiles/A_S/0.png');
    await s.close();
    console.log(JSON.stringify({ status: res.status, libs: process.report.getReport().sharedObjects.filter((l) => /torch|s2snets\\.node/.test(l)) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, runDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { status: 200, libs: [] });
});

test('s2snets serve: prints its address, serves, stops on Ctrl-C; a missing run is an error', async () => {
  const cli = resolve('dist/src/cli/main.js');
  const child = spawn(process.execPath, [cli, 'serve', runDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) done(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`serve exited with ${code}`)));
  });
  const res = await fetch(`${url}api/run`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as RunInfo).sources.length, 4);
  const code = await new Promise<number | null>((done) => {
    child.on('exit', (c) => done(c));
    child.kill('SIGINT');
  });
  assert.equal(code, 0);
  const missing = spawnSync(process.execPath, [cli, 'serve', join(root, 'nothing')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no run here/);
  const badPort = spawnSync(process.execPath, [cli, 'serve', runDir, '--port', '70000'], { encoding: 'utf8' });
  assert.equal(badPort.status, 2);
});
