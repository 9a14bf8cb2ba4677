// A throwaway Redis for tests: Debian's redis-server on a free loopback port, no persistence,
// stopped when the test file ends. Setup installs redis-server (npm test); where it could not,
// `startRedis` says why and the tests that need it are skipped with that reason (on CI it throws).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { checkRedis } from '../../src/scheduler/distributed.js';
import { requirement } from '../common/requirements.js';

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
  /** SIGKILLs the server: everything it held is gone, as after a crash without persistence. */
  crash(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  restart(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts redis-server, or returns the reason it cannot (printed, so a skip is never silent). */
export async function startRedis(): Promise<TestRedis | string> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    const why = requirement('redis-server is not installed (setup installs it with apt-get when run as root: node scripts/setup.mjs --with-redis); skipping the Redis tests')!;
    console.log(`# ${why}`);
    return why;
  }
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server = await serve(port, url);
  const stopWith = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (server.exitCode !== null || server.signalCode !== null) return resolve();
      server.once('exit', () => resolve());
      server.kill(signal);
    });
  return {
    url,
    stop: () => stopWith('SIGTERM'),
    crash: () => stopWith('SIGKILL'),
    restart: async () => {
      server = await serve(port, url);
    },
  };
}

/** redis-server on this port without persistence, once it answers. */
async function serve(port: number, url: string): Promise<ChildProcess> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let tries = 0; ; tries++) {
    try {
      await checkRedis(url);
      return server;
    } catch (e) {
      if (tries > 50 || server.exitCode !== null) throw new Error(`redis-server did not start on port ${port}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
