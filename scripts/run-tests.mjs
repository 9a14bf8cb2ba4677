#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node:test, two files at a time: on
// the 2-core machine one file at a time kept the CPUs 60 % busy (much of the suite waits on child
// processes, Redis, a browser, the disk), and two at a time cut the suite's wall time (NOTES.md).
// S2SNETS_TEST_CONCURRENCY=1 runs one file at a time.
// Arguments filter files by substring: `node scripts/run-tests.mjs engine nn/optim`.
// The closing line counts passed, failed and skipped tests, after one line per skip with its
// reason (scripts/test-tally.mjs), so a skip is never lost in the log.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'dist', 'test');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk(testDir)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(testDir, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = Number(process.env.S2SNETS_TEST_CONCURRENCY ?? 2);
const work = mkdtempSync(join(tmpdir(), 's2snets-tests-'));
const tallyFile = join(work, 'tally.json');
// node:test's own default reporter stays on stdout (spec on a terminal, TAP otherwise).
const reporters = ['--test-reporter', process.stdout.isTTY ? 'spec' : 'tap', '--test-reporter-destination', 'stdout', '--test-reporter', join(root, 'scripts', 'test-tally.mjs'), '--test-reporter-destination', tallyFile];
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...reporters, ...files], { stdio: 'inherit', cwd: root });
let tally = null;
try {
  tally = JSON.parse(readFileSync(tallyFile, 'utf8'));
} catch {
  // The run died before the reporter finished: its exit status says so below.
}
rmSync(work, { recursive: true, force: true });
if (tally) {
  for (const s of tally.skips) console.log(`skipped: ${relative(testDir, s.file) || s.file}: ${s.name}${s.reason ? ` (${s.reason})` : ''}`);
  console.log(`tests: ${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped, ${tally.todo} todo, in ${files.length} file(s)`);
}
process.exit(r.status ?? 1);
