// torchvision classifiers exported to ONNX once (random weights from a fixed seed, opset 17,
// dynamic batch), shared by the benchmarks; PyTorch builds the same models from the same seed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const python = process.env.PYTHON ?? '/usr/bin/python3';
/** The PyTorch side of the paper-shape and imported-model benchmarks. */
export const paperReference = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'torch_paper_reference.py');
/** Where exports are cached between benchmark runs. */
export const DEFAULT_ONNX_DIR = join(tmpdir(), 's2snets-bench-onnx');

/**
 * Makes sure `dir` holds `<name>.onnx` for every name, exporting the missing ones with PyTorch.
 * @param dir where the exports are cached
 * @param names torchvision model names among the reference's exported ones (vgg16, resnet50, alexnet, mobilenet_v2, inception_v3)
 * @throws Error when PyTorch is missing or the export fails.
 * @example ensureExports(DEFAULT_ONNX_DIR, ['resnet50']);
 */
export function ensureExports(dir: string, names: string[]): void {
  const missing = names.filter((m) => !existsSync(join(dir, `${m}.onnx`)));
  if (missing.length === 0) return;
  mkdirSync(dir, { recursive: true });
  console.error(`exporting torchvision ${missing.join(', ')} to ${dir} (once)...`);
  const r = spawnSync(python, [paperReference, 'export', dir, missing.join(',')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`the ONNX export failed (exit ${r.status}); npm run bench installs PyTorch`);
}
