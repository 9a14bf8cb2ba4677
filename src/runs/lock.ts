// One writer at a time in a directory: a lock file that names its owner (PID, host, boot, process
// start time), for runs, `report` and any on-disk cache. Readers never need it.
//
// Acquisition is atomic: the owner record is written and fsynced under a temporary name first and
// then hard-linked to the lock name, and link(2) fails if that name exists. So the lock file is
// never visible empty or half-written, and two processes can never both create it.
//
// A lock whose owner is dead is taken over without ever deleting it: the contender first links its
// own record to a claim name derived from the stale record's content (`<lock>.takeover-<hash>`),
// which only one contender can create; the winner checks that the lock still holds that stale
// record and renames its claim over the lock, which replaces it in one step. Losers see the claim
// (or the new lock) and retry or give up. A claim whose own owner died is taken over the same way.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { S2SNetsError } from '../common/errors.js';

/** Who holds a lock. */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO 8601 time the lock was taken. */
  startedAt: string;
  /** What the owner is doing, for messages (e.g. 's2snets run', 'report'). */
  purpose: string;
  /** Linux boot id and the process's start time in clock ticks since boot: a reused PID does not pass for the owner. */
  bootId?: string;
  processStart?: number;
  /** Makes every record unique, so that equal content means the same acquisition. */
  nonce: string;
}

/** The lock is held by a live process (or one on another host, whose liveness cannot be checked). */
export class LockHeldError extends S2SNetsError {
  override name = 'LockHeldError';
  static override readonly codes = ['S2SNETS_LOCK_HELD'] as const;
  static override readonly legacyCodes = { S2S_LOCK_HELD: 'S2SNETS_LOCK_HELD' };
  constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {
    const where = owner.host === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on host ${owner.host}`;
    super(`${dirname(path)} is in use by ${where} (${owner.purpose}, since ${owner.startedAt}); wait for it to finish or stop it`);
  }
}

/** A held lock. release() is idempotent; it removes the lock only while it still holds our record. */
export interface Lock {
  readonly path: string;
  readonly owner: LockOwner;
  release(): void;
}

const procStat = (pid: number | 'self'): number | undefined => {
  try {
    // Field 22 (starttime); the command name (field 2) may hold spaces, so count after its ')'.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
};

const bootId = (): string | undefined => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
};

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the owner of a record may still hold the lock. Records from other hosts count as live:
 * their process cannot be checked from here.
 * @param owner a lock record (see readLock)
 * @example
 * ownerAlive(readLock(path)!) // false once the owner died (or its PID now names another process)
 */
export function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  const boot = bootId();
  if (owner.bootId && boot && owner.bootId !== boot) return false;
  if (!isAlive(owner.pid)) return false;
  const start = owner.processStart === undefined ? undefined : procStat(owner.pid);
  return start === undefined || start === owner.processStart;
}

/** Parses a lock file's text; a bare PID (the format of earlier versions) counts as a record from this host. */
function parseOwner(text: string): LockOwner | null {
  if (/^\d+$/.test(text.trim())) return { pid: Number(text), host: hostname(), startedAt: 'unknown', purpose: 'an earlier s2snets', nonce: text };
  try {
    const o = JSON.parse(text) as LockOwner;
    return Number.isInteger(o?.pid) && typeof o.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

/**
 * The current owner of the lock at path, or null when it is free or its file is unreadable. Needs no lock.
 * @param path the lock file
 * @example
 * const owner = readLock(join(runDir, 'lock')); if (owner && ownerAlive(owner)) console.log(`busy: ${owner.pid}`);
 */
export function readLock(path: string): LockOwner | null {
  try {
    return parseOwner(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

const readText = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
};

/** Where a contender claims the right to replace the stale record `staleText` of the lock at lockPath. */
export const takeoverPath = (lockPath: string, staleText: string) => `${lockPath}.takeover-${createHash('sha256').update(staleText).digest('hex').slice(0, 16)}`;

type Outcome = { taken: true } | { taken: false; owner: LockOwner };

/**
 * Makes `name` a link to our record file `mine`: by exclusive creation when free, or by replacing
 * a dead owner's record through a claim (see the file comment). Claims live beside `lockPath`.
 */
function take(name: string, mine: string, lockPath: string, depth: number): Outcome {
  for (;;) {
    try {
      linkSync(mine, name);
      return { taken: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = readText(name);
    if (text === null) continue; // Released or renamed away meanwhile: try again.
    const owner = parseOwner(text);
    // Unparsable content cannot come from a live owner: records are complete before they are visible.
    if (owner && ownerAlive(owner)) return { taken: false, owner };
    // Each level handles a contender that died mid-takeover; more levels than that are not plausible.
    if (depth > 8) throw new Error(`${lockPath}: too many dead takeover attempts; remove ${lockPath}* by hand`);
    const claim = takeoverPath(lockPath, text);
    const got = take(claim, mine, lockPath, depth + 1);
    if (!got.taken) {
      // A live claimant replaces the stale record, unless it came late and the lock has moved on
      // already (then it drops its claim): only while the lock still holds that record is the
      // claimant the next owner. Otherwise look again, so a loser names the real owner.
      if (readText(name) === text) return got;
      continue;
    }
    if (readText(name) === text) {
      renameSync(claim, name);
      return { taken: true };
    }
    // Someone else replaced the stale record first; our claim is ours alone to drop.
    rmSync(claim, { force: true });
  }
}

/**
 * Record files and claims of contenders that died before cleaning up (a crash between writing
 * their record and unlinking it); live contenders' files are theirs to remove. A record still
 * being written is empty: only one that stayed unreadable for a minute counts as abandoned.
 */
const ageMs = (path: string) => {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

function removeDeadLeftovers(abs: string): void {
  const prefix = basename(abs);
  for (const name of readdirSync(dirname(abs))) {
    const isRecord = name.startsWith(`.${prefix}.`) && name.endsWith('.tmp');
    if (!isRecord && !name.startsWith(`${prefix}.takeover-`)) continue;
    const path = join(dirname(abs), name);
    const owner = readLock(path);
    const abandoned = owner ? !ownerAlive(owner) : ageMs(path) > 60_000;
    if (abandoned) rmSync(path, { force: true });
  }
}

/**
 * Takes the lock file at path (creating its directory), or throws LockHeldError naming the
 * live owner. Not re-entrant: a second acquisition in the same process fails too (two concurrent
 * tasks of one process must not write at once either); pass the Lock down instead.
 * @param path the lock file, e.g. `<runDir>/lock`
 * @param purpose what the owner does, shown to anyone who finds the lock taken
 * @throws LockHeldError when a live process holds it; file system errors (EROFS, EACCES) as they are
 * @example
 * const lock = acquireLock(join(cacheDir, 'lock'), 'tile cache');
 * try { writeTiles(); } finally { lock.release(); }
 */
export function acquireLock(path: string, purpose: string): Lock {
  const abs = resolve(path);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    purpose,
    bootId: bootId(),
    processStart: procStat('self'),
    nonce: randomBytes(8).toString('hex'),
  };
  const text = `${JSON.stringify(owner)}\n`;
  mkdirSync(dirname(abs), { recursive: true });
  const mine = join(dirname(abs), `.${basename(abs)}.${process.pid}.${owner.nonce}.tmp`);
  const fd = openSync(mine, 'wx');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  let outcome: Outcome;
  try {
    outcome = take(abs, mine, abs, 0);
  } finally {
    rmSync(mine, { force: true });
  }
  if (!outcome.taken) throw new LockHeldError(abs, outcome.owner);
  removeDeadLeftovers(abs);
  let released = false;
  return {
    path: abs,
    owner,
    release() {
      if (released) return;
      released = true;
      // Remove only our own record: a lock taken over meanwhile (we were wrongly judged dead) stays.
      if (readLock(abs)?.nonce === owner.nonce) rmSync(abs, { force: true });
    },
  };
}

/**
 * Runs fn while holding the lock at path, or with `held` when the caller already holds that lock;
 * a lock taken here is released when fn settles.
 * @param path the lock file
 * @param purpose shown to processes that find the lock taken
 * @param fn the work that writes in the locked directory; gets the lock to pass on
 * @param held a lock the caller holds (must be the one at path)
 * @throws LockHeldError when another owner holds the lock
 * @example
 * await withLock(join(runDir, 'lock'), 'report', () => renderInto(runDir));
 */
export async function withLock<T>(path: string, purpose: string, fn: (lock: Lock) => T | Promise<T>, held?: Lock): Promise<T> {
  if (held) {
    if (held.path !== resolve(path)) throw new Error(`the lock held is ${held.path}, not ${resolve(path)}`);
    return fn(held);
  }
  const lock = acquireLock(path, purpose);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}
