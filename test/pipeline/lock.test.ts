// The lock discipline of run directories (and any other directory one process at a time writes
// in): exactly one owner among processes that start in the same millisecond, over hundreds of
// trials, on a free lock, on a dead owner's lock and on a lock whose PID was reused; a contender
// that died mid-takeover does not block the lock forever; readers see complete records only.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock, readLock, takeoverPath, withLock, LockHeldError, type LockOwner } from '../../src/runs/lock.js';

const CONTENDER = join(dirname(fileURLToPath(import.meta.url)), 'lock-contender.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-lock-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The record a process that took the lock and then died leaves behind. */
function deadOwnersRecord(): string {
  const path = join(tmp, 'dead', 'lock');
  const code = `import(${JSON.stringify(new URL('../../src/runs/lock.js', import.meta.url).href)}).then((m) => { m.acquireLock(${JSON.stringify(path)}, 'died'); process.exit(0); })`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(path, 'utf8');
}

interface Answer {
  pid: number;
  outcome: string;
}

test('exactly one owner among 6 processes starting in the same millisecond, 360 trials (free, dead owner, reused PID)', async () => {
  const dead = deadOwnersRecord();
  // A live PID (this process) whose start time differs: the owner's PID was reused after it died.
  const reused = JSON.stringify({ ...(JSON.parse(dead) as LockOwner), pid: process.pid, processStart: 1 });
  const contenders: ChildProcess[] = [];
  for (let i = 0; i < 6; i++) contenders.push(fork(CONTENDER, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  try {
    await Promise.all(contenders.map((c) => new Promise((ready) => c.once('message', ready))));
    const trials = 360;
    let doubleOwners = 0;
    for (let t = 0; t < trials; t++) {
      const dir = join(tmp, 'race', String(t));
      mkdirSync(dir, { recursive: true });
      const lockPath = join(dir, 'lock');
      const kind = ['free', 'dead owner', 'reused pid'][t % 3];
      if (kind === 'dead owner') writeFileSync(lockPath, dead);
      if (kind === 'reused pid') writeFileSync(lockPath, reused);
      const startAt = Date.now() + 25;
      const answers = contenders.map((c) => new Promise<Answer>((resolve) => c.once('message', resolve)));
      for (const c of contenders) c.send({ lockPath, startAt });
      const got = await Promise.all(answers);
      const winners = got.filter((a) => a.outcome === 'won');
      if (winners.length > 1) doubleOwners++;
      assert.deepEqual(got.filter((a) => a.outcome.startsWith('error')), [], `trial ${t} (${kind})`);
      assert.equal(winners.length, 1, `trial ${t} (${kind}): ${JSON.stringify(got)}`);
      // Every loser names the winner, and the lock file holds the winner's complete record.
      for (const a of got) if (a !== winners[0]) assert.equal(a.outcome, `lost to ${winners[0].pid}`, `trial ${t} (${kind})`);
      assert.equal(readLock(lockPath)?.pid, winners[0].pid);
      // No claim or temporary file is left beside the lock.
      assert.deepEqual(readdirSync(dir), ['lock'], `trial ${t} (${kind})`);
    }
    assert.equal(doubleOwners, 0);
  } finally {
    for (const c of contenders) c.kill();
  }
});

test('a contender that died during a takeover does not block the lock; release removes only our own record', () => {
  const dir = join(tmp, 'takeover');
  mkdirSync(dir);
  const lockPath = join(dir, 'lock');
  const dead = deadOwnersRecord();
  const deadClaimer = JSON.stringify({ ...(JSON.parse(dead) as LockOwner), nonce: 'claimer' });
  writeFileSync(lockPath, dead);
  writeFileSync(takeoverPath(lockPath, dead), deadClaimer);
  // A record file of a contender that died before linking it, and a claim on an older stale record.
  writeFileSync(join(dir, '.lock.123.abc.tmp'), dead);
  writeFileSync(takeoverPath(lockPath, 'an older record'), deadClaimer);
  const lock = acquireLock(lockPath, 'test');
  assert.equal(readLock(lockPath)?.nonce, lock.owner.nonce);
  assert.deepEqual(readdirSync(dir), ['lock']);
  // Taken again in the same process: refused like any other live owner's lock.
  assert.throws(() => acquireLock(lockPath, 'again'), (e: Error) => e instanceof LockHeldError && e.code === 'S2SNETS_LOCK_HELD' && e.message.includes(`in use by process ${process.pid} (test, since `));
  lock.release();
  assert.ok(!existsSync(lockPath));
  // A record of an earlier version (a bare PID) of a dead process is stale too.
  writeFileSync(lockPath, '99999999');
  acquireLock(lockPath, 'test').release();
});

test('a lock held on another host is never taken over, and says which host holds it', async () => {
  const dir = join(tmp, 'remote');
  mkdirSync(dir);
  const lockPath = join(dir, 'lock');
  const remote: LockOwner = { pid: 1, host: `not-${hostname()}`, startedAt: '2026-01-01T00:00:00.000Z', purpose: 'running jobs', nonce: 'x' };
  writeFileSync(lockPath, JSON.stringify(remote));
  await assert.rejects(withLock(lockPath, 'test', () => null), new RegExp(`in use by process 1 on host not-${hostname()} \\(running jobs`));
  rmSync(lockPath);
  assert.equal(await withLock(lockPath, 'test', (l) => l.owner.pid), process.pid);
  assert.ok(!existsSync(lockPath), 'withLock releases');
});
