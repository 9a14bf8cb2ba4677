// Files are never left half-written: write a temp file beside the target, fsync, then rename
// (atomic on POSIX file systems), so a crash or a full disk leaves the previous version intact.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** A file being written: nothing appears at its path until commit(). */
export interface AtomicFile {
  /** Appends bytes (or a string as UTF-8). */
  write(chunk: string | Uint8Array): void;
  /** fsyncs and renames the temp file into place. */
  commit(): void;
  /** Deletes the temp file; the path keeps what it held before. */
  abort(): void;
}

/**
 * Opens a temp file beside `path` to be written in pieces (for outputs too large to assemble in
 * memory), renamed into place by commit().
 * @param path the target
 * @example const f = openAtomic(out); try { f.write(header); f.write(rows); f.commit(); } catch (e) { f.abort(); throw e; }
 */
export function openAtomic(path: string): AtomicFile {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  let fd: number | null = openSync(tmp, 'w');
  const close = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  return {
    write(chunk) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      let off = 0;
      try {
        while (off < bytes.byteLength) off += writeSync(fd!, bytes, off, bytes.byteLength - off);
      } catch (e) {
        throw named(e, path);
      }
    },
    commit() {
      try {
        fsyncSync(fd!);
      } catch (e) {
        throw named(e, path);
      }
      close();
      try {
        renameSync(tmp, path);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
      syncDirectory(dir);
    },
    abort() {
      close();
      rmSync(tmp, { force: true });
    },
  };
}

/** Node's message names no file ("ENOSPC: no space left on device, write"): name it. */
function named(e: unknown, path: string): unknown {
  if (e instanceof Error && !e.message.startsWith(path)) e.message = `${path}: ${e.message}`;
  return e;
}

/** Makes a rename in dir durable. */
function syncDirectory(dir: string): void {
  try {
    const dfd = openSync(dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  }
}

/** Writes the chunks to path atomically. */
export function writeFileAtomic(path: string, data: string | Uint8Array | (string | Uint8Array)[]): void {
  const file = openAtomic(path);
  try {
    for (const chunk of Array.isArray(data) ? data : [data]) file.write(chunk);
    file.commit();
  } catch (e) {
    file.abort();
    throw e;
  }
}
