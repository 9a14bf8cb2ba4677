// A damaged run.db (a page overwritten, the header overwritten, an empty file, a half-made
// schema) is explained the same way by status, verify, report and a run: what is wrong and what
// to do, with a non-zero exit; the remedy it gives (move run.db away and rerun) adopts every
// finished artifact. A disk that fills up while a job runs names the job and run.db, and the job
// left 'running' by the dead process shows as interrupted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { JobSpec } from '../../src/scheduler/job-graph.js';
import { runJobs, status } from '../../src/scheduler/runner.js';
import { verifyRun } from '../../src/commands/verify.js';
import { renderRunReport } from '../../src/commands/publish.js';
import { RunDbError, RunStore } from '../../src/runs/store.js';
import { runLayout } from '../../src/runs/artifacts.js';
import { formatStatus } from '../../src/cli/status.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-run-db-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = { handleSignals: false };
const cli = resolve('dist/src/cli/main.js');

/** A small graph of real jobs writing real files: data -> train[a], train[b] -> evaluate. */
function graph(evaluate?: JobSpec['run']): JobSpec[] {
  const job = (name: string, deps: JobSpec[], run?: JobSpec['run']): JobSpec => ({
    name,
    deps,
    config: { name },
    run:
      run ??
      (async (ctx) => {
        writeFileSync(join(ctx.dir, 'out.txt'), `${name} ${deps.map((d) => readFileSync(join(ctx.input(d), 'out.txt'), 'utf8')).join('|')}`);
        return { name };
      }),
  });
  const data = job('data', []);
  const a = job('train[a]', [data]);
  const b = job('train[b]', [data]);
  return [job('evaluate', [a, b], evaluate)];
}

/** A finished run with an event log long enough to span several database pages. */
async function finishedRun(name: string): Promise<string> {
  const dir = join(tmp, name);
  await runJobs(dir, graph(), quiet);
  const store = RunStore.open(dir);
  for (let i = 0; i < 300; i++) store.addEvent(null, 'log', `line ${i} ${'x'.repeat(100)}`);
  store.close();
  return dir;
}

const DAMAGED = /run\.db is damaged \(.+\); move it away \(mv \S+run\.db \S+run\.db\.damaged\) and rerun the command that made the run: it adopts every finished job whose artifact verifies, recomputing nothing finished$/;

/** Overwrites database page `page` (1-based) with bytes that are no SQLite page. */
function overwritePage(db: string, page: number): void {
  const size = readFileSync(db).readUInt16BE(16);
  const fd = openSync(db, 'r+');
  writeSync(fd, Buffer.alloc(size, 0x5a), 0, size, (page - 1) * size);
  closeSync(fd);
}

const damages: [string, (db: string) => void][] = [
  ['a page overwritten', (db) => overwritePage(db, statSync(db).size / readFileSync(db).readUInt16BE(16))],
  ['the header page overwritten', (db) => overwritePage(db, 1)],
  ['an empty file', (db) => writeFileSync(db, '')],
  [
    'a half-made schema',
    (db) => {
      rmSync(db);
      const d = new Database(db);
      d.exec('CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE jobs (key TEXT PRIMARY KEY, name TEXT NOT NULL)');
      d.close();
    },
  ],
];

test('a damaged run.db: status, verify, report and the run say what is wrong and what to do', async () => {
  const source = await finishedRun('source');
  for (const [what, damage] of damages) {
    const dir = join(tmp, what.replace(/\W+/g, '-'));
    cpSync(source, dir, { recursive: true });
    damage(runLayout(dir).db);
    const isDamage = (e: unknown) => e instanceof RunDbError && e.code === 'S2SNETS_RUN_DB_DAMAGED' && DAMAGED.test(e.message) && e.message.startsWith(runLayout(dir).db);
    assert.throws(() => status(dir), isDamage, `status: ${what}`);
    const check = verifyRun(dir);
    assert.equal(check.problems.length, 1, `verify: ${what}`);
    assert.match(check.problems[0], DAMAGED, `verify: ${what}`);
    await assert.rejects(renderRunReport(dir), isDamage, `report: ${what}`);
    // An empty run.db is a fresh record to a run (it makes the tables); the others are refused.
    if (what === 'an empty file') assert.deepEqual((await runJobs(dir, graph(), quiet)).ran, [], what);
    else await assert.rejects(runJobs(dir, graph(), quiet), isDamage, `run: ${what}`);
  }
});

test('the remedy holds: with run.db moved away, a rerun adopts every finished artifact and recomputes nothing', async () => {
  const dir = await finishedRun('moved');
  overwritePage(runLayout(dir).db, 2);
  renameSync(runLayout(dir).db, `${runLayout(dir).db}.damaged`);
  const rerun = await runJobs(dir, graph(), quiet);
  assert.deepEqual(rerun.ran, []);
  assert.deepEqual(rerun.reused.sort(), ['data', 'evaluate', 'train[a]', 'train[b]']);
  assert.deepEqual(verifyRun(dir).problems, []);
  assert.ok(status(dir).jobs.every((j) => j.status === 'done' && j.artifactProblem === null));
});

test('the command line: status and report exit 1 on a damaged run.db, with the remedy on one line', async () => {
  const dir = await finishedRun('cli');
  overwritePage(runLayout(dir).db, statSync(runLayout(dir).db).size / 4096);
  for (const command of ['status', 'report', 'verify']) {
    const r = spawnSync(process.execPath, [cli, command, dir], { encoding: 'utf8' });
    assert.equal(r.status, 1, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`.trim(), DAMAGED, command);
    assert.equal(`${r.stdout}${r.stderr}`.trim().split('\n').length, 1, command);
  }
});

/** A tmpfs of `mib` MiB mounted at dir (needs root); null with the reason when it cannot be made. */
function smallDisk(dir: string, mib: number): string | null {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `cannot mount a small tmpfs here (${(r.stderr || r.error?.message || 'mount failed').trim()}); the disk-full case needs root`;
}

/** Fills the file system of dir to the last byte with the file `path`. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

test('a disk that fills up during evaluate: the error names the job and the file; status then says interrupted, not running', async (t) => {
  const disk = join(tmp, 'small-disk');
  const why = smallDisk(disk, 8);
  if (why) return t.skip(why);
  try {
    const dir = join(disk, 'run');
    const filler = join(disk, 'filler');
    const evaluate: JobSpec['run'] = async (ctx) => {
      fill(filler);
      writeFileSync(join(ctx.dir, 'out.txt'), 'evaluation');
      return null;
    };
    await assert.rejects(runJobs(dir, graph(evaluate), quiet), (e: Error) => {
      assert.ok(e instanceof RunDbError && e.code === 'S2SNETS_RUN_DB_FULL', e.message);
      assert.match(e.message, new RegExp(`^${runLayout(dir).db}: the disk is full \\(recording (job 'evaluate' failed|a failed event of job 'evaluate')\\); free space on it and rerun the command`));
      return true;
    });
    rmSync(filler);
    const evaluateRow = status(dir).jobs.find((j) => j.name === 'evaluate')!;
    assert.equal(evaluateRow.status, 'running', 'the store could not record the failure');
    assert.equal(evaluateRow.interrupted, true);
    assert.match(formatStatus(status(dir)), /^evaluate +interrupted .*its process ended; rerun the command to resume it$/m);
    assert.deepEqual(verifyRun(dir).problems, ["job 'evaluate' is recorded running, but no process runs in this directory: it was interrupted; rerun the command to resume it"]);
    const rerun = await runJobs(dir, graph(), quiet);
    assert.deepEqual(rerun.ran, ['evaluate']);
    assert.ok(existsSync(join(rerun.dir(graph()[0]), 'out.txt')));
  } finally {
    spawnSync('umount', [disk]);
  }
});
