// Content-addressed artifacts and checkpoints: a directory of files committed as a whole.
// Files are written into a staging directory, fsynced, listed with their sha256 and size in
// manifest.json, and the directory is renamed into place: the rename is the commit point, so
// a crash leaves either the complete old state or the complete new one. On load every file is
// checked against the manifest, so a corrupt or truncated artifact is never used.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import type { Json } from '../common/json.js';
import { engineDifferences, type EngineIdentity } from './engine-identity.js';
import { S2SNetsError, ioReason } from '../common/errors.js';

export class ArtifactError extends S2SNetsError {
  override name = 'ArtifactError';
  static override readonly codes = ['S2SNETS_ARTIFACT'] as const;
}

export const MANIFEST = 'manifest.json';
const FORMAT = 's2snets-artifact/1';

/** Where things live inside a run directory. */
export const runLayout = (runDir: string) => ({
  db: join(runDir, 'run.db'),
  artifacts: join(runDir, 'artifacts'),
  staging: join(runDir, 'staging'),
  checkpoints: join(runDir, 'checkpoints'),
  trash: join(runDir, 'trash'),
  /** PNG tiles of evaluation images made by the viewer's server (a cache: safe to delete). */
  tiles: join(runDir, 'tiles'),
});

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: string;
  key: string;
  job: string;
  files: ManifestFile[];
  output: Json;
  metrics: Record<string, Json>;
  /** The engine that computed the files (absent in artifacts of earlier versions). */
  engine?: EngineIdentity;
}

export type Verification = { ok: true; manifest: Manifest; manifestSha: string } | { ok: false; reason: string };

/** sha256 and size of a file, read in chunks (artifacts can be gigabytes). */
export function hashFile(path: string): { sha256: string; size: number } {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; size += n) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), size };
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } catch (e) {
    // Some file systems refuse fsync on directories; the renames stay atomic without it.
    if (!['EINVAL', 'EISDIR', 'EBADF'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    closeSync(fd);
  }
}

/** Regular files under dir (relative paths, '/'-separated, sorted) and the subdirectories. */
function listTree(dir: string): { files: string[]; dirs: string[]; others: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const others: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) {
        dirs.push(r);
        walk(r);
      } else if (st.isFile()) files.push(r);
      else others.push(r);
    }
  };
  walk('');
  return { files, dirs, others };
}

/** Moves a directory out of the way and deletes it; a crash midway leaves only trash behind. */
export function discardDir(dir: string, trashDir: string): void {
  if (!existsSync(dir)) return;
  mkdirSync(trashDir, { recursive: true });
  const target = join(trashDir, `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  renameSync(dir, target);
  rmSync(target, { recursive: true, force: true });
}

/**
 * Seals the staging directory (fsync every file, write the manifest) and renames it to
 * finalDir, replacing whatever was there. Returns the manifest and the sha256 of its bytes.
 */
export function commitDir(
  stagingDir: string,
  finalDir: string,
  trashDir: string,
  meta: { key: string; job: string; output: Json; metrics: Record<string, Json>; engine?: EngineIdentity },
): { manifest: Manifest; manifestSha: string } {
  const tree = listTree(stagingDir);
  if (tree.others.length) throw new ArtifactError(`job '${meta.job}' wrote ${tree.others[0]}, which is not a regular file (artifacts hold files and folders only)`);
  if (tree.files.includes(MANIFEST)) throw new ArtifactError(`job '${meta.job}' wrote ${MANIFEST}, a name reserved for the artifact manifest`);
  const files = tree.files.map((path) => {
    const abs = join(stagingDir, path);
    fsyncPath(abs);
    return { path, ...hashFile(abs) };
  });
  const manifest: Manifest = { format: FORMAT, key: meta.key, job: meta.job, files, output: meta.output ?? null, metrics: meta.metrics, engine: meta.engine };
  const text = JSON.stringify(manifest, null, 1) + '\n';
  writeFileAtomic(join(stagingDir, MANIFEST), text);
  for (const d of tree.dirs) fsyncPath(join(stagingDir, d));
  fsyncPath(stagingDir);
  discardDir(finalDir, trashDir);
  mkdirSync(dirname(finalDir), { recursive: true });
  renameSync(stagingDir, finalDir);
  fsyncPath(dirname(finalDir));
  return { manifest, manifestSha: createHash('sha256').update(text).digest('hex') };
}

function parseManifest(text: string): Manifest | string {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return `${MANIFEST} is not valid JSON (${(e as Error).message})`;
  }
  const obj = m as Partial<Manifest> | null;
  if (!obj || typeof obj !== 'object' || obj.format !== FORMAT) return `${MANIFEST} is not a ${FORMAT} manifest`;
  if (typeof obj.key !== 'string' || typeof obj.job !== 'string' || !Array.isArray(obj.files) || typeof obj.metrics !== 'object') {
    return `${MANIFEST} lacks key, job, files or metrics`;
  }
  for (const f of obj.files) {
    if (!f || typeof f.path !== 'string' || typeof f.sha256 !== 'string' || !Number.isInteger(f.size)) return `${MANIFEST} has a malformed file entry`;
  }
  return obj as Manifest;
}

/**
 * The manifest of a committed directory, read without checking its files; null when absent or malformed.
 * @param dir an artifact or checkpoint directory
 * @example
 * readManifest(artifactDir(runDir, key))?.engine
 */
export function readManifest(dir: string): Manifest | null {
  try {
    const m = parseManifest(readFileSync(join(dir, MANIFEST), 'utf8'));
    return typeof m === 'string' ? null : m;
  } catch {
    return null;
  }
}

/**
 * Checks every file of a committed directory against its manifest; the first problem is the reason.
 * With `contents: false` only each file's presence and size are checked, not its bytes (for
 * readers that must not hash gigabytes of artifacts; `verify` and the runner hash them).
 */
export function verifyDir(dir: string, expectedKey?: string, opts: { contents?: boolean } = {}): Verification {
  if (!existsSync(dir)) return { ok: false, reason: 'missing' };
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST), 'utf8');
  } catch (e) {
    return { ok: false, reason: `${MANIFEST} unreadable (${ioReason(e)})` };
  }
  const manifest = parseManifest(text);
  if (typeof manifest === 'string') return { ok: false, reason: manifest };
  if (expectedKey !== undefined && manifest.key !== expectedKey) return { ok: false, reason: `${MANIFEST} belongs to key ${manifest.key}` };
  let tree: ReturnType<typeof listTree>;
  try {
    tree = listTree(dir);
  } catch (e) {
    return { ok: false, reason: `cannot list files (${ioReason(e)})` };
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  const extra = [...tree.files, ...tree.others].find((p) => p !== MANIFEST && !listed.has(p));
  if (extra) return { ok: false, reason: `unexpected file ${extra}` };
  for (const f of manifest.files) {
    if (!tree.files.includes(f.path)) return { ok: false, reason: `file ${f.path} missing` };
    let actual: { sha256: string; size: number };
    try {
      actual = opts.contents === false ? { sha256: f.sha256, size: statSync(join(dir, f.path)).size } : hashFile(join(dir, f.path));
    } catch (e) {
      return { ok: false, reason: `file ${f.path} unreadable (${ioReason(e)})` };
    }
    if (actual.size !== f.size) return { ok: false, reason: `file ${f.path} has ${actual.size} bytes, manifest says ${f.size}` };
    if (actual.sha256 !== f.sha256) return { ok: false, reason: `file ${f.path} content changed (sha256 mismatch)` };
  }
  return { ok: true, manifest, manifestSha: createHash('sha256').update(text).digest('hex') };
}

export const artifactDir = (runDir: string, key: string) => join(runLayout(runDir).artifacts, key);

/**
 * What a job key and a manifest's sha256 look like: 64 lowercase hex digits (anything else read from run.db is forged or damaged).
 * @param id a key or checksum as read from run.db
 * @example isArtifactId('../../etc') // false
 */
export const isArtifactId = (id: string | null): boolean => id !== null && /^[0-9a-f]{64}$/.test(id);

/** Verifies the artifact of a job key (see verifyDir); a key that is no artifact id is refused unread. */
export function verifyArtifact(runDir: string, key: string, opts: { contents?: boolean } = {}): Verification {
  if (!isArtifactId(key)) return { ok: false, reason: `'${key.slice(0, 80)}' is not an artifact id (64 hex digits)` };
  return verifyDir(artifactDir(runDir, key), key, opts);
}

const LATEST = 'latest.json';

/** Files of a checkpoint: name -> contents (chunks allowed, e.g. encodeSafetensors output). */
export type CheckpointFiles = Record<string, string | Uint8Array | Uint8Array[]>;

/** The latest committed checkpoint of a job: its name and the directory holding its files. */
export interface Checkpoint {
  name: string;
  dir: string;
}

export interface Checkpointer {
  /** Commits the files as one checkpoint (all or nothing) and drops older ones. */
  save(name: string, files: CheckpointFiles): void;
  /** The latest intact checkpoint, or null when there is none (start from scratch). */
  load(): Checkpoint | null;
}

/**
 * Checkpoints of one job in dir: each is a committed directory (ckpt-N), and latest.json names
 * the current one. It is replaced atomically only after the new checkpoint is in place, so a
 * crash at any moment leaves a complete checkpoint to resume from. With `engine`, each
 * checkpoint records the engine identity, and one made by another engine is not resumed from
 * (the job starts over) unless `engine.accept`.
 * @param dir the job's checkpoint directory
 * @param trashDir where replaced directories go before deletion
 * @param job the job's name, for messages
 * @param warn receives one line when a checkpoint is unusable
 * @param engine this process's engine identity, and whether another one's checkpoints are accepted
 * @example
 * const ck = createCheckpointer(join(runDir, 'checkpoints', key), join(runDir, 'trash'), 'train', console.warn);
 */
export function createCheckpointer(
  dir: string,
  trashDir: string,
  job: string,
  warn: (message: string) => void,
  engine?: { identity: EngineIdentity; accept: boolean },
): Checkpointer {
  const readLatest = (): { name: string; dir: string; seq: number } | null => {
    try {
      return JSON.parse(readFileSync(join(dir, LATEST), 'utf8'));
    } catch {
      return null;
    }
  };
  // Staging leftovers and checkpoints that never became latest (a crash before the pointer moved).
  const removeStale = (keep: string | undefined) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) if (name !== LATEST && name !== keep) rmSync(join(dir, name), { recursive: true, force: true });
  };
  return {
    save(name: string, files: CheckpointFiles): void {
      const latest = readLatest();
      removeStale(latest?.dir);
      const seq = (latest?.seq ?? 0) + 1;
      const entry = `ckpt-${String(seq).padStart(6, '0')}`;
      const staging = join(dir, `.staging-${entry}`);
      mkdirSync(staging, { recursive: true });
      for (const [file, data] of Object.entries(files)) writeFileAtomic(join(staging, file), data);
      commitDir(staging, join(dir, entry), trashDir, { key: entry, job, output: name, metrics: {}, engine: engine?.identity });
      writeFileAtomic(join(dir, LATEST), JSON.stringify({ name, dir: entry, seq }));
      removeStale(entry);
    },
    load(): Checkpoint | null {
      const latest = readLatest();
      if (!latest) return null;
      const path = join(dir, latest.dir);
      const v = verifyDir(path, latest.dir);
      if (!v.ok) {
        warn(`checkpoint '${latest.name}' of job '${job}' is unusable (${v.reason}); starting the job over`);
        return null;
      }
      const changed = engine && !engine.accept ? engineDifferences(v.manifest.engine, engine.identity) : [];
      if (changed.length) {
        warn(`checkpoint '${latest.name}' of job '${job}' was made by another engine (${changed.join('; ')}); starting the job over (--accept-engine-change resumes from it)`);
        return null;
      }
      return { name: latest.name, dir: path };
    },
  };
}
