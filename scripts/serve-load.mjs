#!/usr/bin/env node
// Load check of `s2snets serve`: starts it on a loopback port over a run, then N concurrent
// clients fetch random tiles (every source, every tile) for a bounded time. Prints the request
// count, errors, latency percentiles and the server's resident memory over the run (it should
// stay flat once every tile is cached). Exits non-zero on any failed request.
//   node scripts/serve-load.mjs RUN_DIR [--clients 50] [--seconds 30]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { clients: { type: 'string', default: '50' }, seconds: { type: 'string', default: '30' } } });
if (positionals.length !== 1) {
  console.error('usage: node scripts/serve-load.mjs RUN_DIR [--clients 50] [--seconds 30]');
  process.exit(2);
}
const clients = Number(values.clients);
const seconds = Number(values.seconds);

const server = spawn(process.execPath, [join(root, 'dist/src/cli/main.js'), 'serve', resolve(positionals[0]), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((done, fail) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
    if (m) done(m[1]);
  });
  server.on('exit', (code) => fail(new Error(`serve exited with ${code}`)));
});

const agent = new Agent({ keepAlive: true, maxSockets: clients });
function fetchOnce(path) {
  return new Promise((done) => {
    const t0 = performance.now();
    get(`${base}${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => done({ ok: res.statusCode === 200, ms: performance.now() - t0, status: res.statusCode }));
    }).on('error', (e) => done({ ok: false, ms: performance.now() - t0, status: e.code }));
  });
}

/** Resident memory of the server process, MB (Linux /proc). */
function rssMb() {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

try {
  const run = await (await fetch(`${base}/api/run`)).json();
  const perSource = Math.ceil(run.labels.length / run.tiles.perTile);
  const paths = run.sources.filter((s) => s.ready).flatMap((s) => Array.from({ length: perSource }, (_, t) => `/api/tiles/${encodeURIComponent(s.name)}/${t}.png`));
  const cold = performance.now();
  for (const p of paths) {
    const r = await fetchOnce(p);
    if (!r.ok) throw new Error(`warm-up ${p}: ${r.status}`);
  }
  console.log(`${paths.length} tiles (${run.sources.length} sources x ${perSource}), made or found in ${((performance.now() - cold) / 1000).toFixed(1)} s`);

  const latencies = [];
  const errors = [];
  const memory = [rssMb()];
  const sampler = setInterval(() => memory.push(rssMb()), 1000);
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const r = await fetchOnce(paths[Math.floor(Math.random() * paths.length)]);
        latencies.push(r.ms);
        if (!r.ok) errors.push(r.status);
      }
    }),
  );
  clearInterval(sampler);
  memory.push(rssMb());
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  const thirds = [memory[0], memory[Math.floor(memory.length / 2)], memory[memory.length - 1]].map((m) => m.toFixed(1));
  console.log(`${clients} clients, ${seconds} s: ${latencies.length} requests (${(latencies.length / seconds).toFixed(0)}/s), ${errors.length} errors`);
  console.log(`latency ms: p50 ${q(0.5)}  p95 ${q(0.95)}  p99 ${q(0.99)}  max ${latencies[latencies.length - 1].toFixed(1)}`);
  console.log(`server RSS MB: start ${thirds[0]}, middle ${thirds[1]}, end ${thirds[2]}, max ${Math.max(...memory).toFixed(1)}`);
  if (errors.length) {
    console.error(`failed requests: ${[...new Set(errors)].join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  agent.destroy();
  server.kill('SIGINT');
}
