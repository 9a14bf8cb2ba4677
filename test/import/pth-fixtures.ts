// Fixture files written by PyTorch (test/fixtures/make_*_fixtures.py), cached under the OS temp
// directory by a hash of the script, so the Python start-up is paid once per script version.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonMissing } from '../nn/python.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const python = process.env.PYTHON ?? '/usr/bin/python3';

/**
 * Runs test/fixtures/<script> once into a cached folder and returns the folder, or the reason
 * it cannot be made here (no Python with torch) as `missing`.
 */
export function fixtureDir(script: string): { dir: string; missing: null } | { dir: null; missing: string } {
  // The scripts share the SegNet of segnet.py: a change there makes new fixtures too.
  const hash = createHash('sha256').update(readFileSync(join(root, 'test', 'fixtures', script))).update(readFileSync(join(root, 'test', 'fixtures', 'segnet.py'))).digest('hex').slice(0, 12);
  const cache = join(tmpdir(), 's2snets-fixtures');
  const dir = join(cache, `${script.replace(/\.py$/, '')}-${hash}`);
  if (existsSync(join(dir, 'manifest.json'))) return { dir, missing: null };
  const missing = pythonMissing(['torch', 'torchvision']);
  if (missing) return { dir: null, missing };
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(cache, '.work-'));
  const r = spawnSync(python, [join(root, 'test', 'fixtures', script), work, dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  }
  try {
    renameSync(work, dir);
  } catch (e) {
    // Another test process made the same folder first: use theirs.
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(join(dir, 'manifest.json'))) throw e;
  }
  return { dir, missing: null };
}

/** Little-endian float32 values of a .bin file written by a fixture script. */
export function readFloats(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
