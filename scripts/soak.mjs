#!/usr/bin/env node
// Soak test of crash safety: runs a command once without interruption (the reference), then
// again in a fresh run directory, killing it with SIGKILL at random moments and restarting it,
// until the requested number of kills has hit a running process. Whenever a run completes, its
// results file must equal the reference byte for byte, run.db must pass integrity_check, and
// the run directory must hold no temporary file or unverifiable artifact.
//   node scripts/soak.mjs [--kills 20] [--seed N] [--results results.json] [--keep]
//                         [--cmd "node dist/src/cli/main.js demo --quick --run-dir {runDir}"]
// {runDir} in the command is replaced by the run directory. The script needs a build (dist/).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    cmd: { type: 'string', default: 'node dist/src/cli/main.js demo --quick --run-dir {runDir}' },
    kills: { type: 'string', default: '20' },
    seed: { type: 'string' },
    results: { type: 'string', default: 'results.json' },
    keep: { type: 'boolean', default: false },
  },
});
const wantedKills = Number(values.kills);
if (!values.cmd.includes('{runDir}')) fail('--cmd must contain {runDir}, the placeholder for the run directory');
if (!Number.isInteger(wantedKills) || wantedKills < 1) fail(`--kills must be a positive integer, got '${values.kills}'`);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);

const { verifyRun } = await import(pathToFileURL(join(root, 'dist', 'src', 'commands', 'verify.js')).href).catch(() =>
  fail('dist/src/commands/verify.js not found: compile first (node_modules/.bin/tsc -p .)'),
);

function fail(message) {
  console.error(`soak: ${message}`);
  process.exit(2);
}

// mulberry32: a small seeded generator, so a failing soak can be replayed with --seed.
let state = seed >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Runs the command in runDir; kills its process group after killAfterMs if it is still running. */
function runOnce(runDir, killAfterMs) {
  return new Promise((done) => {
    const started = performance.now();
    // exec: the shell becomes the command, so the signal reaches it; detached: its own process group.
    const child = spawn('sh', ['-c', `exec ${values.cmd.replaceAll('{runDir}', runDir)}`], { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    const timer =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) {
              killed = true;
              process.kill(-child.pid, 'SIGKILL');
            }
          }, killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, killed, stderr, ms: performance.now() - started });
    });
  });
}

const tmp = mkdtempSync(join(tmpdir(), 's2snets-soak-'));
console.log(`soak: seed ${seed}, ${wantedKills} kills, command: ${values.cmd}`);

const refDir = join(tmp, 'reference');
const ref = await runOnce(refDir);
if (ref.code !== 0) fail(`the uninterrupted run failed (exit ${ref.code ?? ref.signal}):\n${ref.stderr}`);
const refResults = join(refDir, values.results);
if (!existsSync(refResults)) fail(`the uninterrupted run wrote no ${values.results} in its run directory`);
const reference = readFileSync(refResults);
console.log(`reference run: ${(ref.ms / 1000).toFixed(1)} s`);

let landed = 0;
let rounds = 0;
let attempts = 0;
const problems = [];
const roundTimes = [];
while (landed < wantedKills) {
  const dir = join(tmp, `round-${++rounds}`);
  let roundMs = 0;
  for (;;) {
    // Uniform over the length of a full run: early kills hit startup, late ones hit commits.
    const r = await runOnce(dir, landed < wantedKills ? random() * ref.ms : undefined);
    attempts++;
    roundMs += r.ms;
    if (r.killed && r.signal === 'SIGKILL') {
      landed++;
      continue;
    }
    if (r.code !== 0) {
      problems.push(`round ${rounds}: a resumed run failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').pop()}`);
      break;
    }
    const results = join(dir, values.results);
    if (!existsSync(results)) problems.push(`round ${rounds}: no ${values.results}`);
    else if (!readFileSync(results).equals(reference)) problems.push(`round ${rounds}: ${values.results} differs from the uninterrupted run`);
    const check = verifyRun(dir);
    if (check.integrity !== 'ok') problems.push(`round ${rounds}: integrity_check: ${check.integrity}`);
    problems.push(...check.problems.map((p) => `round ${rounds}: ${p}`));
    if (existsSync(join(dir, 'lock'))) problems.push(`round ${rounds}: run lock left behind`);
    roundTimes.push(roundMs);
    break;
  }
}

const mean = roundTimes.reduce((a, b) => a + b, 0) / Math.max(1, roundTimes.length);
console.log(`kills survived: ${landed} (in ${attempts} starts over ${rounds} round(s), each resumed to completion)`);
console.log(`time per round including killed work: ${(mean / 1000).toFixed(1)} s vs ${(ref.ms / 1000).toFixed(1)} s uninterrupted`);
if (problems.length) {
  console.log(`LOST OR DAMAGED (${problems.length}):\n  ${problems.join('\n  ')}`);
  console.log(`run directories kept in ${tmp}`);
  process.exit(1);
}
console.log(`nothing lost: every completed round matched the reference ${values.results} byte for byte, integrity_check ok, no temporary files`);
if (values.keep) console.log(`run directories kept in ${tmp}`);
else rmSync(tmp, { recursive: true, force: true });
