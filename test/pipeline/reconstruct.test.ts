// `s2snets reconstruct` on a SegNet saved by PyTorch: the PNGs equal PyTorch's own output of the
// released example's processing (resize to 256x256, ImageNet normalization, de-normalize, clip,
// resize back) to within one 8-bit step, keep each image's size, side by side triple the width,
// a bad file is skipped and counted, and --classifier prints top-5 lines (a classifier with a
// fixed input size of its own sees the images resized to it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { fixtureDir } from '../import/pth-fixtures.js';

const pth = fixtureDir('make_pth_fixtures.py');
const pipeline = fixtureDir('make_pipeline_fixtures.py');
const skip = pth.missing ?? pipeline.missing ?? false;
const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-reconstruct-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function pixels(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

test('reconstruct: PNGs equal PyTorch within one 8-bit step, same size as the input; bad files skipped and counted', { skip }, async (t) => {
  const images = join(tmp, 'images');
  mkdirSync(images);
  for (const name of ['square.png', 'wide.png']) copyFileSync(join(pth.dir!, 'reconstruct', 'images', name), join(images, name));
  writeFileSync(join(images, 'broken.png'), Buffer.from('not an image'));
  const out = join(tmp, 'out');
  const r = spawnSync(process.execPath, [cli, 'reconstruct', '--ae', join(pth.dir!, 'segnet3.pth'), images, '--out', out, '--device', 'cpu', '--batch-size', '2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /skipped .*broken\.png: not a supported image/);
  assert.match(r.stdout, /2 images reconstructed into .*, 1 skipped\n$/);
  for (const name of ['square.png', 'wide.png']) {
    const ours = await pixels(join(out, name));
    const ref = await pixels(join(pth.dir!, 'reconstruct', 'expected', name));
    assert.deepEqual([ours.width, ours.height], [ref.width, ref.height]);
    let worst = 0;
    for (let i = 0; i < ref.data.length; i++) worst = Math.max(worst, Math.abs(ours.data[i] - ref.data[i]));
    t.diagnostic(`${name} (${ref.width}x${ref.height}): max difference from PyTorch ${worst} (8-bit steps)`);
    assert.ok(worst <= 1, `${name}: differs from PyTorch by ${worst} (8-bit steps)`);
  }
});

test('reconstruct --side-by-side --classifier: original | reconstruction | difference, and top-5 on both', { skip }, async () => {
  const out = join(tmp, 'out-side');
  const image = join(pth.dir!, 'reconstruct', 'images', 'wide.png');
  const r = spawnSync(process.execPath, [cli, 'reconstruct', '--ae', join(pth.dir!, 'segnet3.pth'), image, '--out', out, '--side-by-side', '--classifier', join(pipeline.dir!, 'cnn.onnx'), '--device', 'cpu'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wide\.png: top-5 original: (\d \d+\.\d%, ){2}\d \d+\.\d% \| reconstruction: (\d \d+\.\d%, ){2}\d \d+\.\d%\n/);
  const side = await pixels(join(out, 'wide.png'));
  assert.deepEqual([side.width, side.height], [900, 200]);
  const original = await pixels(image);
  // A classifier whose graph only takes 64 px images sees the 256 px working images resized to 64 px.
  const fixed = spawnSync(process.execPath, [cli, 'reconstruct', '--ae', join(pth.dir!, 'segnet3.pth'), image, '--out', join(tmp, 'out-64'), '--classifier', join(pipeline.dir!, 'size64.onnx'), '--device', 'cpu'], { encoding: 'utf8' });
  assert.equal(fixed.status, 0, fixed.stderr);
  assert.match(fixed.stdout, /wide\.png: top-5 original: (\d \d+\.\d%, ){2}\d \d+\.\d% \| reconstruction: /);
  // The left third is the original itself.
  for (let y = 0; y < 200; y += 37) for (let x = 0; x < 300; x += 41) for (let c = 0; c < 3; c++) assert.equal(side.data[(y * 900 + x) * 3 + c], original.data[(y * 300 + x) * 3 + c]);
});
