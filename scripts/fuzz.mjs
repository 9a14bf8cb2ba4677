#!/usr/bin/env node
// Long fuzzing run: imports every compiled fuzz module (dist/test/fuzz/*.fuzz.js) and calls each
// exported `fuzzX(numRuns)` target, printing cases and time per target.
//   node scripts/fuzz.mjs [numRuns=1000000] [name-filter ...]
// A failing target prints its counterexample (from fast-check) and the script exits 1.
import { readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fuzzDir = join(root, 'dist', 'test', 'fuzz');

const [runsArg, ...filters] = process.argv.slice(2);
const numRuns = runsArg === undefined ? 1_000_000 : Number(runsArg);
if (!Number.isInteger(numRuns) || numRuns < 1) {
  console.error(`numRuns must be a positive integer, got '${runsArg}' (usage: node scripts/fuzz.mjs [numRuns] [filter ...])`);
  process.exit(2);
}

let files;
try {
  files = readdirSync(fuzzDir).filter((f) => f.endsWith('.fuzz.js')).sort();
} catch {
  console.error(`${fuzzDir} not found: compile first (node_modules/.bin/tsc -p .)`);
  process.exit(2);
}

const targets = [];
for (const file of files) {
  const mod = await import(pathToFileURL(join(fuzzDir, file)).href);
  for (const [name, fn] of Object.entries(mod)) {
    if (/^fuzz[A-Z]/.test(name) && typeof fn === 'function' && (filters.length === 0 || filters.some((s) => name.includes(s) || file.includes(s)))) {
      targets.push({ file, name, fn });
    }
  }
}
if (targets.length === 0) {
  console.error('no fuzz targets matched');
  process.exit(2);
}

let failed = 0;
console.log(`${targets.length} target(s), ${numRuns.toLocaleString('en')} cases each`);
for (const { file, name, fn } of targets) {
  const start = performance.now();
  try {
    await fn(numRuns);
    const s = (performance.now() - start) / 1000;
    console.log(`ok   ${name} (${file}): ${numRuns.toLocaleString('en')} cases in ${s.toFixed(1)} s (${Math.round(numRuns / s).toLocaleString('en')}/s)`);
  } catch (e) {
    failed++;
    const s = (performance.now() - start) / 1000;
    console.log(`FAIL ${name} (${file}) after ${s.toFixed(1)} s:\n${e instanceof Error ? e.message : String(e)}`);
  }
}
process.exit(failed ? 1 : 0);
