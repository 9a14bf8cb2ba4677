// The job processes (job-child.js) that given processes started, found in /proc: tests and the
// soak script kill them as the OOM killer would.
import { readdirSync, readFileSync } from 'node:fs';

/**
 * PIDs of the live job processes whose parent is one of `parents`.
 * @param parents PIDs of the processes that fork job processes (a run, workers)
 * @example
 * for (const pid of jobProcessesOf([process.pid])) process.kill(pid, 'SIGKILL');
 */
export function jobProcessesOf(parents: number[]): number[] {
  const wanted = new Set(parents);
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      if (wanted.has(ppid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('job-child.js')) pids.push(Number(pid));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}
