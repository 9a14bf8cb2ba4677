// Scale-out benchmark: the quick experiment submitted to one private Redis with 1, 2 and 3
// local workers (each with its share of the cores' threads), from an empty queue and run
// directory each time. Prints the wall time of each run and the speed-up against 1 worker.
// Local workers share this machine's cores, so the speed-up is capped by them (on 2 cores, by
// about 2), whatever the worker count: the figure a cluster would show needs more machines.
//   node dist/bench/scale.js [maxWorkers=3]      (npm run bench:scale)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { textTable } from '../src/common/text.js';
import { startRedis } from '../test/pipeline/redis-server.js';

const maxWorkers = Number(process.argv[2] ?? 3);
if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
  console.error('usage: node dist/bench/scale.js [maxWorkers>=1]');
  process.exit(2);
}
const cli = resolve('dist/src/cli/main.js');
const cores = Number(process.env.S2SNETS_THREADS) || availableParallelism();
const redis = await startRedis();
if (typeof redis === 'string') process.exit(1);
const root = mkdtempSync(join(tmpdir(), 's2snets-bench-scale-'));

function start(args: string[], threads: number): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, S2SNETS_THREADS: String(threads) }, stdio: ['ignore', 'ignore', 'ignore'] });
  return { child, exit: new Promise((r) => child.on('exit', (code) => r(code))) };
}

const rows: { workers: number; threads: number; wallS: number }[] = [];
try {
  for (let n = 1; n <= maxWorkers; n++) {
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
    const threads = Math.max(1, Math.floor(cores / n));
    const workers = Array.from({ length: n }, () => start(['worker', '--redis', redis.url], threads));
    const t0 = performance.now();
    const submitter = start(['demo', '--quick', '--device', 'cpu', '--redis', redis.url, '--run-dir', join(root, `workers-${n}`)], threads);
    const code = await submitter.exit;
    const wallS = (performance.now() - t0) / 1000;
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exit));
    if (code !== 0) throw new Error(`the run with ${n} worker(s) failed (exit ${code})`);
    rows.push({ workers: n, threads, wallS });
    console.error(`${n} worker(s): ${wallS.toFixed(1)} s`);
  }
} finally {
  await redis.stop();
  rmSync(root, { recursive: true, force: true });
}
const base = rows[0].wallS;
console.log(`quick experiment (9 jobs) on ${cores} core(s), one Redis, workers on this machine`);
console.log(textTable(['workers', 'threads each', 'wall (s)', 'speed-up'], rows.map((r) => [String(r.workers), String(r.threads), r.wallS.toFixed(1), (base / r.wallS).toFixed(2)])));
