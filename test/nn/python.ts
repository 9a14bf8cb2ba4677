// Runs a Python snippet (PyTorch's own implementations serve as references) with JSON in and out.
import { spawnSync } from 'node:child_process';
import { requirement } from '../common/requirements.js';

const python = process.env.PYTHON ?? '/usr/bin/python3';

/** Why a Python with the given modules cannot run here, or null when it can (on CI, a missing one throws: see requirement). */
export function pythonMissing(modules: string[]): string | null {
  const r = spawnSync(python, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  if (r.error) return requirement(`${python} not found (set PYTHON to a Python with ${modules.join(', ')})`);
  if (r.status !== 0) return requirement(`${python} lacks ${modules.join(', ')} (${r.stderr.trim().split('\n').pop()})`);
  return null;
}

/** Runs script with `input` as JSON on stdin and returns the JSON it prints. */
export function runPython<T>(script: string, input: unknown): T {
  const r = spawnSync(python, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
