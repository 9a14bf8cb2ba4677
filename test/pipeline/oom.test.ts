// A job process ended by the kernel's out-of-memory killer, for real: the run is started in a
// memory cgroup of its own, and as soon as its job process exists, the cgroup's limit is set to
// what the run uses then, so the job's loading of libtorch, data and model exceeds it (HEADROOM). The job
// process is made the OOM killer's first choice (oom_score_adj 1000), as the process holding
// the data is in practice. The run must say that the OOM killer ended the job (the cgroup's oom_kill
// count rose), give the limit, and what to do.
// Needs a writable memory cgroup (root, cgroup v1 or v2 with the memory controller); without
// one the test says why and is skipped (job-pool.test.ts covers the SIGKILL explanation anywhere).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatBytes } from '../../src/scheduler/memory-pressure.js';

const cli = resolve('dist/src/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 's2snets-oom-'));
const env = { ...process.env, S2SNETS_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' };
/** Room left above the run's use when its job process starts: enough for the main process, not for the job's libtorch, data and model. */
const HEADROOM = 64 * 2 ** 20;

interface Cgroup {
  dir: string;
  limitFile: string;
  usageFile: string;
}

/** A new memory cgroup under this process's, or why there cannot be one here. */
function makeCgroup(): Cgroup | string {
  let lines: string[];
  try {
    lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  } catch {
    return 'no /proc/self/cgroup';
  }
  const v1 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[1].split(',').includes('memory'));
  const v2 = lines.find((l) => l.startsWith('0::'));
  const candidates: Cgroup[] = [];
  if (v1) candidates.push({ dir: join('/sys/fs/cgroup/memory', v1.slice(2).join(':'), `s2snets-oom-${process.pid}`), limitFile: 'memory.limit_in_bytes', usageFile: 'memory.usage_in_bytes' });
  if (v2) candidates.push({ dir: join('/sys/fs/cgroup', v2.slice(3), `s2snets-oom-${process.pid}`), limitFile: 'memory.max', usageFile: 'memory.current' });
  const reasons: string[] = [];
  for (const c of candidates) {
    try {
      mkdirSync(c.dir);
      if (existsSync(join(c.dir, c.limitFile))) return c;
      rmdirSync(c.dir);
      reasons.push(`${c.dir} has no ${c.limitFile}`);
    } catch (e) {
      reasons.push(`${c.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return `no writable memory cgroup (${reasons.join('; ') || 'none listed in /proc/self/cgroup'})`;
}

const cgroup = makeCgroup();
if (typeof cgroup === 'string') console.log(`# ${cgroup}: skipping the real OOM test`);
after(() => {
  if (typeof cgroup !== 'string') rmdirSync(cgroup.dir);
  rmSync(root, { recursive: true, force: true });
});

test('a job process ended by the out-of-memory killer: the run says so, with the cgroup limit and what to do', { skip: typeof cgroup === 'string' ? cgroup : false }, async () => {
  if (typeof cgroup === 'string') return;
  const runDir = join(root, 'run');
  // The shell enters the cgroup and becomes the run, so the run and its job process are in it.
  const child = spawn('sh', ['-c', `echo $$ > ${join(cgroup.dir, 'cgroup.procs')} && exec "$0" "$@"`, process.execPath, cli, 'pretrain', '--quick', '--device', 'cpu', '--jobs', '2', '--run-dir', runDir], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let limit = 0;
  const procs = () => readFileSync(join(cgroup.dir, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean);
  while (child.exitCode === null && limit === 0) {
    const pids = procs();
    // The shell (now the run) first; the job process is the next one in.
    if (pids.length >= 2) {
      for (const pid of pids.filter((p) => Number(p) !== child.pid)) writeFileSync(`/proc/${pid}/oom_score_adj`, '1000');
      limit = Number(readFileSync(join(cgroup.dir, cgroup.usageFile), 'utf8')) + HEADROOM;
      writeFileSync(join(cgroup.dir, cgroup.limitFile), String(limit));
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  assert.ok(limit > 0, `no job process started: ${stderr}`);
  assert.equal(code, 1, `${child.signalCode} ${stderr}`);
  const last = stderr.trim().split('\n').pop()!;
  console.log(`# ${last}`);
  assert.match(last, /job 'pretrain\[A_S\]' failed: JobProcessError: the job process ended \(signal SIGKILL\) before it finished: the kernel's out-of-memory killer ended it \(the memory cgroup's oom_kill count went from 0 to 1\)/);
  // Rounded to a page by the kernel, so compare as the message formats it.
  const set = Number(readFileSync(join(cgroup.dir, cgroup.limitFile), 'utf8'));
  assert.match(last, new RegExp(`memory cgroup limit ${formatBytes(set).replace('.', '\\.')}`));
  assert.match(last, /run fewer at once \(--jobs 1\) or smaller batches/);
});
