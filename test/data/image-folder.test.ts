import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeImage, disposeDataset, ImageFolderError, loadImageFolder, scanImageFolder } from '../../src/data/index.js';

const root = mkdtempSync(join(tmpdir(), 's2snets-images-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

type Raw = { data: Uint8Array | Uint16Array; width: number; height: number; channels: 1 | 2 | 3 | 4 };

function raw(width: number, height: number, channels: Raw['channels'], value: (x: number, y: number, c: number) => number): Raw {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = value(x, y, c);
  return { data, width, height, channels };
}

function image(r: Raw): Sharp {
  return sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });
}

async function write(path: string, pipeline: Sharp): Promise<string> {
  mkdirSync(join(path, '..'), { recursive: true });
  await pipeline.toFile(path);
  return path;
}

/** A pattern whose every pixel says where it is: R = 4x, G = 4y, B = 77. */
const pattern = (w: number, h: number) => raw(w, h, 3, (x, y, c) => [4 * x, 4 * y, 77][c]);

function assertOneLineError(e: unknown, file: string, reason: RegExp): true {
  assert.ok(e instanceof ImageFolderError, `expected ImageFolderError, got ${e}`);
  assert.equal(e.file, file);
  assert.match(e.reason, reason);
  assert.ok(!e.message.includes('\n'), `message spans lines: ${e.message}`);
  assert.ok(e.message.startsWith(file));
  return true;
}

test('decodes PNG, JPEG and WebP in any colour layout to the requested channels, channel-major', async () => {
  const dir = join(root, 'formats');
  const rgb = await write(join(dir, 'rgb.png'), image(pattern(6, 5)).png());
  const d = await decodeImage(rgb);
  assert.deepEqual([d.channels, d.height, d.width], [3, 5, 6]);
  const at = (img: typeof d, c: number, y: number, x: number) => img.pixels[c * img.height * img.width + y * img.width + x];
  assert.deepEqual([at(d, 0, 3, 4), at(d, 1, 3, 4), at(d, 2, 3, 4)], [16, 12, 77]);

  const lossless = await decodeImage(await write(join(dir, 'rgb.webp'), image(pattern(6, 5)).webp({ lossless: true })));
  assert.deepEqual(lossless.pixels, d.pixels);

  const grey = await write(join(dir, 'grey.png'), image(raw(4, 4, 1, () => 128)).toColourspace('b-w').png());
  assert.equal((await sharp(grey).metadata()).channels, 1);
  assert.deepEqual([...(await decodeImage(grey, { channels: 3 })).pixels].slice(0, 3 * 16), new Array(48).fill(128));
  assert.deepEqual([...(await decodeImage(grey, { channels: 1 })).pixels], new Array(16).fill(128));

  // Half-transparent colour: flattening on black halves it, dropping alpha keeps it.
  const rgba = await write(join(dir, 'rgba.png'), image(raw(2, 2, 4, (_x, _y, c) => [200, 100, 50, 128][c])).png());
  const flat = await decodeImage(rgba);
  assert.deepEqual([flat.pixels[0], flat.pixels[4], flat.pixels[8]], [100, 50, 25]);
  const dropped = await decodeImage(rgba, { alpha: 'drop' });
  assert.deepEqual([dropped.pixels[0], dropped.pixels[4], dropped.pixels[8]], [200, 100, 50]);

  const deep = await write(
    join(dir, 'deep.png'),
    sharp(new Uint16Array(2 * 2 * 3).fill(40000), { raw: { width: 2, height: 2, channels: 3 } }).toColourspace('rgb16').png(),
  );
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  const deepPixels = (await decodeImage(deep)).pixels;
  assert.ok(deepPixels.every((v) => Math.abs(v - (40000 / 65535) * 255) <= 1), `16-bit decoded to ${deepPixels}`);

  const cmyk = await write(join(dir, 'cmyk.jpg'), image(raw(8, 8, 3, (_x, _y, c) => [40, 90, 200][c])).toColourspace('cmyk').jpeg({ quality: 95 }));
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  const fromCmyk = await decodeImage(cmyk);
  assert.equal(fromCmyk.channels, 3);
  // The colour-managed CMYK round trip is not exact, but the colour stays a blue.
  const [r, g, b] = [0, 1, 2].map((c) => fromCmyk.pixels[c * 64]);
  assert.ok(b > g + 30 && g > r + 20 && Math.abs(b - 200) <= 50, `CMYK blue decoded to ${[r, g, b]}`);

  const palette = await write(join(dir, 'palette.png'), image(pattern(6, 5)).png({ palette: true, colours: 256, dither: 0 }));
  assert.equal((await decodeImage(palette)).channels, 3);
});

test('loads a class-per-folder tree: sorted classes, labels, values in [0, 1], resize and centre crop', async () => {
  const dir = join(root, 'tree');
  // 40x60 (HxW) images whose pixel values encode position.
  for (const [cls, n] of [['cat', 2], ['ant', 3]] as const) {
    for (let i = 0; i < n; i++) await write(join(dir, cls, `${i}.png`), image(pattern(60, 40)).png());
  }
  await write(join(dir, 'cat', 'nested', 'x.jpg'), image(pattern(60, 40)).jpeg());
  writeFileSync(join(dir, 'README.md'), 'files directly under the root are not examples');
  const { dataset, files, skipped } = await loadImageFolder(dir, { crop: [20, 30], concurrency: 2 });
  assert.deepEqual(dataset.classNames, ['ant', 'cat']);
  assert.deepEqual(dataset.labels.toArray(), [0, 0, 0, 1, 1, 1]);
  assert.equal(files[5], join(dir, 'cat', 'nested', 'x.jpg'));
  assert.deepEqual(skipped, []);
  assert.deepEqual(dataset.images.shape, [6, 3, 20, 30]);
  // The 20x30 centre of 40x60 starts at row 10, column 15: R = 4 * 15, G = 4 * 10.
  const v = dataset.images.toFloat32Array();
  assert.equal(v[0], Math.fround(60 / 255));
  assert.equal(v[600], Math.fround(40 / 255));
  assert.equal(v[1200], Math.fround(77 / 255));
  disposeDataset(dataset);

  // Resize the shorter side to 20 (40x60 -> 20x30), then crop 20x20: columns 5..24 of the
  // half-size image, whose red value at column j is about 4 * (2j + 0.5).
  const small = await loadImageFolder(dir, { resize: 20, crop: 20, channels: 1 });
  assert.deepEqual(small.dataset.images.shape, [6, 1, 20, 20]);
  const grey = await loadImageFolder(dir, { resize: 20, crop: 20 });
  const red = grey.dataset.images.toFloat32Array();
  assert.ok(Math.abs(red[10 * 20 + 0] * 255 - 4 * (2 * 5 + 0.5)) <= 3, `red at column 0: ${red[200] * 255}`);
  assert.ok(Math.abs(red[10 * 20 + 19] * 255 - 4 * (2 * 24 + 0.5)) <= 3, `red at column 19: ${red[219] * 255}`);
  disposeDataset(small.dataset);
  disposeDataset(grey.dataset);
});

test('bad input: each case is a one-line ImageFolderError naming the file and the reason', async () => {
  const good = await image(pattern(16, 16)).png().toBuffer();
  const jpeg = await image(pattern(16, 16)).jpeg().toBuffer();
  const base = join(root, 'bad');
  const make = async (name: string, extra: (dir: string) => Promise<string> | string): Promise<{ dir: string; file: string }> => {
    const dir = join(base, name);
    for (const cls of ['a', 'b']) {
      mkdirSync(join(dir, cls), { recursive: true });
      writeFileSync(join(dir, cls, 'good.png'), good);
    }
    return { dir, file: await extra(dir) };
  };
  const cases: [string, (dir: string) => string | Promise<string>, RegExp][] = [
    // libvips reports a truncated JPEG as a premature end, now and then as a corrupt header (once in a full test run).
    ['truncated-jpeg', (d) => (writeFileSync(join(d, 'a', 'cut.jpg'), jpeg.subarray(0, jpeg.length >> 1)), join(d, 'a', 'cut.jpg')), /cannot decode: .*(premature end|corrupt header)/i],
    ['random-bytes', (d) => (writeFileSync(join(d, 'b', 'noise.png'), Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) % 251)), join(d, 'b', 'noise.png')), /not a supported image/],
    ['empty-file', (d) => (writeFileSync(join(d, 'b', 'empty.webp'), ''), join(d, 'b', 'empty.webp')), /empty file/],
    ['text-file', (d) => (writeFileSync(join(d, 'a', 'notes.txt'), 'hello'), join(d, 'a', 'notes.txt')), /not an image file \(extension '\.txt'/],
    ['empty-class', (d) => (mkdirSync(join(d, 'c')), join(d, 'c')), /empty class folder/],
    ['too-small', async (d) => write(join(d, 'b', 'tiny.png'), image(pattern(8, 12)).png()), /image is 12x8 \(HxW\), smaller than the 16x16 crop/],
  ];
  for (const [name, extra, reason] of cases) {
    const { dir, file } = await make(name, extra);
    await assert.rejects(loadImageFolder(dir, { crop: 16 }), (e) => assertOneLineError(e, file, reason), name);
    const { dataset, skipped } = await loadImageFolder(dir, { crop: 16, onBadImage: 'skip' });
    assert.deepEqual(skipped.map((s) => s.file), [file], name);
    assert.match(skipped[0].reason, reason);
    assert.equal(dataset.labels.shape[0], 2, name);
    disposeDataset(dataset);
  }

  // Everything at once in skip mode: every bad entry is listed, the good images remain.
  const all = join(base, 'all');
  const { dir } = await make('all', () => '');
  for (const [, extra] of cases) await extra(dir);
  const mixed = await loadImageFolder(all, { crop: 16, onBadImage: 'skip' });
  assert.equal(mixed.skipped.length, cases.length);
  assert.deepEqual(mixed.dataset.classNames, ['a', 'b']);
  assert.equal(mixed.dataset.labels.shape[0], 2);
  disposeDataset(mixed.dataset);
});

test('refuses fewer than two classes, mixed sizes without a crop, and a missing root', async () => {
  const one = join(root, 'one-class');
  await write(join(one, 'only', 'x.png'), image(pattern(4, 4)).png());
  await assert.rejects(loadImageFolder(one), (e) => assertOneLineError(e, one, /only class 'only'; an image folder needs at least 2 classes/));
  assert.throws(() => scanImageFolder(one), ImageFolderError);

  const mixed = join(root, 'mixed');
  await write(join(mixed, 'a', 'x.png'), image(pattern(4, 4)).png());
  const odd = await write(join(mixed, 'b', 'y.png'), image(pattern(5, 4)).png());
  await assert.rejects(loadImageFolder(mixed), (e) => assertOneLineError(e, odd, /is 4x5 \(HxW\) but earlier images are 4x4; set crop/));

  const missing = join(root, 'does-not-exist');
  await assert.rejects(loadImageFolder(missing), (e) => assertOneLineError(e, missing, /cannot open \(ENOENT\)/));
  await assert.rejects(loadImageFolder(mixed, { resize: 8, crop: 9 }), /crop 9x9 is larger than resize 8/);
});
