// Measures the walk of a plan through runExperiment: a tiny real run whose plan is wrapped in a
// recording proxy; every property read is attributed to the source file that made it.
// Usage: node scripts/plan-walk.mjs [--keep-run-dir]   (after `tsc`; run from the repository root)
// Jobs run one at a time in this process (the default), so the proxy sees every read of the
// plan object itself; a JSON copy of the plan (job payloads) is not followed: that is the boundary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve('.');
const api = await import(pathToFileURL(join(root, 'dist/src/index.js')).href);
const reads = [];
const here = new URL(import.meta.url).pathname;

/** The repository source file of the nearest stack frame outside this script and node internals. */
function caller() {
  const lines = new Error().stack.split('\n').slice(1);
  for (const line of lines) {
    const m = /(?:file:\/\/)?(\/[^():]+\.m?js):\d+:\d+/.exec(line);
    if (!m || m[1] === here || !m[1].startsWith(root) || m[1].includes('node_modules')) continue;
    return relative(root, m[1]).replace(/^dist\//, '').replace(/\.js$/, '.ts');
  }
  return null;
}

const proxies = new WeakMap();
function record(value) {
  if (value === null || typeof value !== 'object') return value;
  if (proxies.has(value)) return proxies.get(value);
  const p = new Proxy(value, {
    get(target, key, receiver) {
      const file = caller();
      if (file) reads.push(file);
      return record(Reflect.get(target, key, receiver));
    },
  });
  proxies.set(value, p);
  return p;
}

const plan = api.quickPlan({ dataset: 'planted-shape' });
const small = { ...plan, classifiers: plan.classifiers.slice(0, 1), trainLimit: 200, evalSamples: 100 };
const runDir = mkdtempSync(join(tmpdir(), 'plan-walk-'));
const sink = { update() {}, log() {} };
try {
  await api.runExperiment(record(small), runDir, 'report', sink);
} finally {
  if (!process.argv.includes('--keep-run-dir')) rmSync(runDir, { recursive: true, force: true });
}

// Stops: consecutive reads in the same file; a re-entry enters a file already left before.
const stops = [];
for (const f of reads) if (stops.at(-1) !== f) stops.push(f);
const entries = new Map();
let reentries = 0;
for (const f of stops) {
  if (entries.has(f)) reentries++;
  entries.set(f, (entries.get(f) ?? 0) + 1);
}
console.log(`reads ${reads.length}, stops ${stops.length}, files ${entries.size}, re-entries ${reentries}`);
console.log('file | entries');
for (const [f, n] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${f} | ${n}`);
