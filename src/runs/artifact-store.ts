// Where jobs put their outputs, behind a small interface so that more than one kind of store can
// exist. The one built here is a directory (a run directory's artifacts/ on a local disk, or on a
// file system every worker mounts, as a cluster's shared file system); an object store would be
// another implementation of the same interface.
import { copyFileSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArtifactError, artifactDir, commitDir, runLayout, verifyArtifact, type Manifest, type Verification } from './artifacts.js';
import type { Json } from '../common/json.js';
import type { EngineIdentity } from './engine-identity.js';

export interface ArtifactStore {
  /** Where the store lives, as other processes name it (here: an absolute directory). */
  readonly location: string;
  /** Checks the artifact of a job key file by file against its manifest. */
  verify(key: string): Verification;
  /** A fresh, empty directory for one attempt at a job, private to the calling process. */
  stagingDir(key: string): string;
  /** The job's checkpoint directory: shared by every attempt, so a retry resumes. */
  checkpointDir(key: string): string;
  /** Where half-deleted directories go (emptied by the run). */
  readonly trashDir: string;
  /** Seals a staging directory as the artifact of meta.key, replacing any older one. */
  commit(stagingDir: string, meta: { key: string; job: string; output: Json; metrics: Record<string, Json>; engine?: EngineIdentity }): { manifest: Manifest; manifestSha: string };
  /** Copies a verified artifact from another store into this one (a no-op when it is the same store). */
  adopt(key: string, from: ArtifactStore): Verification;
  /** The directory holding the artifact's files, for readers on this machine. */
  localDir(key: string): string;
}

/**
 * The artifacts of a run directory (artifacts/<key>/ with a checksummed manifest). Every process
 * that writes here (job processes, workers on other machines) must see the same directory: on a
 * cluster, a shared file system mounted at the same path on every machine.
 * @param runDir the run directory
 * @example
 * const store = directoryStore('runs/mnist');
 * store.verify(key).ok // the job's artifact is there and intact
 */
export function directoryStore(runDir: string): ArtifactStore {
  const root = resolve(runDir);
  const layout = runLayout(root);
  const store: ArtifactStore = {
    location: root,
    trashDir: layout.trash,
    verify: (key) => verifyArtifact(root, key),
    stagingDir(key) {
      const dir = join(layout.staging, `${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    checkpointDir(key) {
      const dir = join(layout.checkpoints, key);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    commit: (stagingDir, meta) => commitDir(stagingDir, artifactDir(root, meta.key), layout.trash, meta),
    localDir: (key) => artifactDir(root, key),
    adopt(key, from) {
      if (from.location === root) return store.verify(key);
      const source = from.verify(key);
      if (!source.ok) throw new ArtifactError(`artifact ${key.slice(0, 12)} in ${from.location} is unusable: ${source.reason}`);
      const staging = store.stagingDir(key);
      try {
        // Hard links cost nothing on the same file system; artifacts are never modified in place.
        for (const f of source.manifest.files) linkOrCopy(join(from.localDir(key), f.path), join(staging, f.path));
        const { job, output, metrics, engine } = source.manifest;
        const adopted = store.commit(staging, { key, job, output, metrics, engine });
        if (adopted.manifestSha !== source.manifestSha) throw new ArtifactError(`artifact ${key.slice(0, 12)} changed while it was copied from ${from.location}`);
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
      return store.verify(key);
    },
  };
  return store;
}

function linkOrCopy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}
