// `s2snets serve RUN`: starts the viewer's server, prints its address, optionally opens a
// browser, and stops cleanly on Ctrl-C.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT, isLoopback, serveRun } from '../serve/index.js';

interface ServeFlags {
  port: number;
  host: string;
  open?: boolean;
}

/**
 * Opens `url` in the desktop's default browser; says how to open it by hand when that fails.
 * @param url the address to open
 */
function openInBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args as string[], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`could not start a browser (${cmd}); open ${url} yourself\n`));
  child.unref();
}

/**
 * Serves a run until SIGINT/SIGTERM.
 * @param dir the run directory
 * @param f port, host, whether to open a browser
 * @throws ServeError when the run or the viewer is missing, or the port cannot be used
 */
async function serveCommand(dir: string, f: ServeFlags): Promise<void> {
  const started = performance.now();
  const server = await serveRun(resolve(dir), { port: f.port, host: f.host });
  if (!isLoopback(f.host)) {
    process.stderr.write(`warning: listening on ${f.host}, not loopback: anyone who can reach this machine on port ${server.port} can read this run's images and results (read-only)\n`);
  }
  process.stdout.write(`s2snets viewer of ${resolve(dir)}: ${server.url} (ready in ${Math.round(performance.now() - started)} ms; Ctrl-C to stop)\n`);
  if (f.open) openInBrowser(server.url);
  await new Promise<void>((done) => {
    const stop = () => void server.close().then(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function portNumber(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535 (0: any free port)');
  return n;
}

/**
 * Adds `serve RUN [--port N] [--host H] [--open]` to a program. Nothing here loads the compute
 * engine, so the main entry can run this command alone and start fast.
 * @param program the command set to extend
 */
export function addServeCommand(program: Command): Command {
  program
    .command('serve')
    .description('look at a run in the browser: gallery, compare, cross matrix and charts (a local, read-only server)')
    .argument('<run-dir>')
    .option('--port <n>', 'port to listen on (0: any free port)', portNumber, DEFAULT_PORT)
    .option('--host <host>', 'address to listen on; anything but loopback exposes the run to the network', DEFAULT_HOST)
    .option('--open', 'open the viewer in the default browser')
    .action((dir: string, f: ServeFlags) => serveCommand(dir, f));
  return program;
}
