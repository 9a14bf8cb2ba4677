// A process that contends for locks on command: the parent sends { lockPath, startAt } over IPC;
// this process waits until the wall clock reaches startAt (all contenders of a trial start in the
// same millisecond), tries to take the lock, keeps it if it won, and answers with the outcome.
import { acquireLock, LockHeldError } from '../../src/runs/lock.js';

process.on('message', (m: { lockPath: string; startAt: number }) => {
  const wait = m.startAt - Date.now() - 3;
  setTimeout(() => {
    while (Date.now() < m.startAt) {
      // Spin the last milliseconds so that every contender starts in the same one.
    }
    let outcome: string;
    try {
      acquireLock(m.lockPath, 'contender');
      outcome = 'won';
    } catch (e) {
      outcome = e instanceof LockHeldError ? `lost to ${e.owner.pid}` : `error ${(e as Error).message}`;
    }
    process.send!({ pid: process.pid, outcome, at: Date.now() });
  }, Math.max(0, wait));
});
process.send!({ ready: process.pid });
