// Why a job process may have been SIGKILLed. Nothing in the process can catch SIGKILL, and the
// sender is not recorded; the usual sender is the kernel's out-of-memory killer. What this
// machine can tell is read from /proc/meminfo and the memory cgroup of this process (v2:
// memory.max, memory.current, memory.events; v1: memory.limit_in_bytes, memory.usage_in_bytes,
// memory.oom_control), whose oom_kill counter says for sure when it was the OOM killer.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The memory figures of this machine and of this process's memory cgroup, null where unknown. */
export interface MemoryFigures {
  availableBytes: number | null;
  totalBytes: number | null;
  /** The cgroup's limit; null without a cgroup or when it has none. */
  cgroupLimitBytes: number | null;
  cgroupUsageBytes: number | null;
  /** Processes the OOM killer ended in this cgroup so far. */
  oomKills: number | null;
}

/** Limits at or above this are "no limit" (cgroup v1 writes 2^63 rounded down to a page). */
const UNLIMITED = 2 ** 62;

const readText = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

const toNumber = (text: string | null | undefined): number | null => {
  const n = text === null || text === undefined ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n : null;
};

/** A `name value` line of a flat keyed file (memory.events, memory.oom_control). */
const keyed = (text: string | null, name: string): number | null => toNumber(text?.match(new RegExp(`^${name}\\s+(\\d+)`, 'm'))?.[1]);

/** A `Name: N kB` line of /proc/meminfo, in bytes. */
const meminfo = (text: string | null, name: string): number | null => {
  const kb = toNumber(text?.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1]);
  return kb === null ? null : kb * 1024;
};

/**
 * The directory of this process's memory cgroup and its version, from /proc/self/cgroup; the
 * mount's root when the named directory is not visible (a cgroup namespace hides the path).
 */
function memoryCgroup(procRoot: string, cgroupRoot: string): { dir: string; version: 1 | 2 } | null {
  const lines = (readText(join(procRoot, 'self', 'cgroup')) ?? '').split('\n');
  const v1 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[1].split(',').includes('memory'));
  if (v1) {
    for (const dir of [join(cgroupRoot, 'memory', v1.slice(2).join(':')), join(cgroupRoot, 'memory')]) {
      if (existsSync(join(dir, 'memory.limit_in_bytes'))) return { dir, version: 1 };
    }
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2) {
    for (const dir of [join(cgroupRoot, v2.slice(3)), cgroupRoot]) {
      if (existsSync(join(dir, 'memory.max')) || existsSync(join(dir, 'memory.events'))) return { dir, version: 2 };
    }
  }
  return null;
}

/**
 * Reads the memory figures now.
 * @param procRoot where /proc is (tests may point elsewhere)
 * @param cgroupRoot where the cgroup file systems are mounted
 * @example
 * readMemoryFigures().availableBytes // e.g. 8_123_456_512
 */
export function readMemoryFigures(procRoot = '/proc', cgroupRoot = '/sys/fs/cgroup'): MemoryFigures {
  const info = readText(join(procRoot, 'meminfo'));
  const figures: MemoryFigures = { availableBytes: meminfo(info, 'MemAvailable'), totalBytes: meminfo(info, 'MemTotal'), cgroupLimitBytes: null, cgroupUsageBytes: null, oomKills: null };
  const cgroup = memoryCgroup(procRoot, cgroupRoot);
  if (!cgroup) return figures;
  const file = (v1: string, v2: string) => readText(join(cgroup.dir, cgroup.version === 1 ? v1 : v2));
  const limit = toNumber(file('memory.limit_in_bytes', 'memory.max'));
  figures.cgroupLimitBytes = limit !== null && limit < UNLIMITED ? limit : null;
  figures.cgroupUsageBytes = toNumber(file('memory.usage_in_bytes', 'memory.current'));
  figures.oomKills = keyed(file('memory.oom_control', 'memory.events'), 'oom_kill');
  return figures;
}

/** Bytes as GiB (or MiB below one GiB), one decimal. */
export const formatBytes = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/**
 * One line on a job process that died by SIGKILL: who most likely sent it, the memory figures,
 * the likely reason and what to do.
 * @param before the figures when the job started (their oom_kill count is the baseline)
 * @param now the figures after it died
 * @example
 * explainKill(figuresAtStart, readMemoryFigures())
 * // 'the out-of-memory killer ended it (... oom_kill 0 -> 1); memory: 0.3 GiB available of 23.4 GiB, ...'
 */
export function explainKill(before: MemoryFigures, now: MemoryFigures): string {
  const certain = before.oomKills !== null && now.oomKills !== null && now.oomKills > before.oomKills;
  const who = certain
    ? `the kernel's out-of-memory killer ended it (the memory cgroup's oom_kill count went from ${before.oomKills} to ${now.oomKills})`
    : "most often that is the kernel's out-of-memory killer";
  const figures: string[] = [];
  if (now.availableBytes !== null && now.totalBytes !== null) figures.push(`${formatBytes(now.availableBytes)} available of ${formatBytes(now.totalBytes)}`);
  if (now.cgroupLimitBytes !== null) figures.push(`memory cgroup limit ${formatBytes(now.cgroupLimitBytes)}${now.cgroupUsageBytes !== null ? `, ${formatBytes(now.cgroupUsageBytes)} in use` : ''}`);
  const memory = figures.length ? `; memory now: ${figures.join('; ')}` : '';
  return (
    `${who}${memory}. Each job process holds its own copy of its data and models, so jobs running side by side add up: ` +
    'run fewer at once (--jobs 1) or smaller batches (finetune.batchSize, ae.pretrain.batchSize in the config)'
  );
}
