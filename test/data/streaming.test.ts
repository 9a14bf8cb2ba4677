// Streamed datasets: the folder index (names as bytes, every left-out entry counted), tar shards
// that read exactly as the same images in a folder, torchvision's crops, decoding failures that
// do not stop the stream, and step batches that a resumed run reads as an uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  indexImageFolder,
  indexTarShards,
  listImageFolder,
  loadImageFolder,
  normalize,
  randomResizedCropBox,
  readWhole,
  Rng,
  saveImageIndex,
  loadImageIndex,
  streamedSplit,
  disposeDataset,
  type ImageIndex,
  type ImageSplit,
  type StreamView,
} from '../../src/data/index.js';
import { splitBatches } from '../../src/train/sampler.js';
import { tidy } from '../../src/engine/index.js';

const root = mkdtempSync(join(tmpdir(), 's2snets-streaming-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A JPEG or PNG whose pixels depend on (class, image): w x h, noise-free so decoders agree. */
async function picture(path: string, w: number, h: number, seed: number, format: 'png' | 'jpeg' = 'png'): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) px[3 * p + c] = (p * (c + 3) + seed * 37) % 256;
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).toFormat(format).toFile(path);
}

/** Three classes of images of mixed sizes, one class in a nested folder. */
async function folder(name: string): Promise<string> {
  const dir = join(root, name);
  const sizes = [
    [40, 30],
    [52, 64],
    [33, 47],
    [64, 40],
  ];
  for (const [c, cls] of ['ant', 'bee', 'cow'].entries()) {
    for (const [i, [w, h]] of sizes.entries()) {
      const sub = c === 2 && i >= 2 ? join(dir, cls, 'nested') : join(dir, cls);
      mkdirSync(sub, { recursive: true });
      await picture(join(sub, `${i}.${i % 2 ? 'jpg' : 'png'}`), w, h, 10 * c + i, i % 2 ? 'jpeg' : 'png');
    }
  }
  return dir;
}

const view = (kind: StreamView['kind'], size = 24): StreamView => ({ kind, size, resize: 28, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD });
const all = (n: number) => Array.from({ length: n }, (_, i) => i);

test('the folder index keeps names as bytes and counts every entry it leaves out, with the reason', async () => {
  const dir = await folder('odd');
  // A name that is not UTF-8 is kept and read by its bytes.
  const oddName = Buffer.concat([Buffer.from(join(dir, 'ant') + '/'), Buffer.from([0x78, 0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67])]);
  await sharp(await sharp({ create: { width: 20, height: 30, channels: 3, background: '#204060' } }).png().toBuffer()).toFile(join(root, 'tmp.png'));
  writeFileSync(oddName, await sharp(join(root, 'tmp.png')).toBuffer());
  writeFileSync(join(dir, 'bee', 'empty.png'), '');
  writeFileSync(join(dir, 'bee', 'notes.txt'), 'hello');
  writeFileSync(join(dir, 'bee', 'garbage.jpg'), Buffer.from('not a jpeg at all'));
  spawnSync('mkfifo', [join(dir, 'cow', 'pipe.png')]);
  symlinkSync('/dev/zero', join(dir, 'cow', 'zero.png'));
  symlinkSync(join(dir, 'cow'), join(dir, 'cow', 'nested', 'loop'));
  mkdirSync(join(dir, 'dog'));
  writeFileSync(join(dir, 'dog', 'broken.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));

  const index = await indexImageFolder(dir);
  assert.deepEqual(index.classNames, ['ant', 'bee', 'cow'], 'a class with no readable image is left out');
  assert.equal(index.paths.length, 13);
  const reasons = Object.fromEntries(index.skipped.map((s) => [s.file.slice(dir.length + 1), s.reason]));
  assert.match(reasons['bee/empty.png'], /empty file/);
  assert.match(reasons['bee/notes.txt'], /not an image file \(extension '\.txt'/);
  assert.match(reasons['bee/garbage.jpg'], /cannot read the image header/);
  assert.match(reasons['cow/pipe.png'], /not a regular file/);
  assert.match(reasons['cow/zero.png'], /not a regular file/);
  assert.match(reasons['cow/nested/loop'], /symbolic link cycle/);
  assert.match(reasons['dog/broken.png'], /cannot read the image header/);
  assert.match(reasons.dog, /no readable images; the class is left out/);
  assert.equal(index.skipped.length, 8);

  // The odd name is indexed by its bytes, with its size, and decodes.
  const odd = index.base64Paths[0];
  assert.deepEqual(Buffer.from(index.paths[odd], 'base64'), Buffer.concat([Buffer.from('ant/'), Buffer.from([0x78, 0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67])]));
  assert.deepEqual([index.heights[odd], index.widths[odd], index.labels[odd]], [30, 20, 0]);
  const split = streamedSplit(index, [odd], view('eval'), 'odd');
  assert.equal((await split.read([0])).pixels!.length, 24 * 24 * 3);

  // Stored and read back unchanged; a file changed or added changes the listing's fingerprint.
  saveImageIndex(join(root, 'index.json'), index);
  assert.deepEqual(loadImageIndex(join(root, 'index.json')), { format: 1, ...index });
  const before = listImageFolder(dir).fingerprint;
  await picture(join(dir, 'ant', 'new.png'), 30, 30, 99);
  assert.notEqual(listImageFolder(dir).fingerprint, before);
  writeFileSync(join(root, 'not-an-index.json'), '{"format": 1, "labels": [1]}');
  assert.throws(() => loadImageIndex(join(root, 'not-an-index.json')), /not an image index of format 1; delete it and rerun/);
});

test('evaluation images stream exactly as the in-memory loader decodes them (resize, centre crop)', async () => {
  const dir = await folder('eval');
  const index = await indexImageFolder(dir);
  assert.deepEqual([index.heights.slice(0, 4), index.widths.slice(0, 4)], [[30, 64, 47, 40], [40, 52, 33, 64]]);
  const streamed = await readWhole(streamedSplit(index, all(index.paths.length), view('eval'), 'eval'));
  const { dataset } = await loadImageFolder(dir, { resize: 28, crop: 24 });
  const expected = normalize(dataset.images, IMAGENET_MEAN, IMAGENET_STD);
  assert.deepEqual(streamed.x.shape, expected.shape);
  assert.equal(tidy(() => streamed.x.sub(expected).abs().max().item()), 0);
  assert.deepEqual(streamed.y.toArray(), dataset.labels.toArray());
  for (const t of [streamed.x, streamed.y, expected]) t.dispose();
  disposeDataset(dataset);
});

/** Packs the folder's images, in index order, into tar shards of `perShard` samples (key.png|jpg + key.cls). */
function writeShards(index: ImageIndex & { kind: 'folder' }, dir: string, perShard: number): string {
  const staging = join(dir, 'staging');
  mkdirSync(staging, { recursive: true });
  const shards = Math.ceil(index.paths.length / perShard);
  for (let s = 0; s < shards; s++) {
    const members: string[] = [];
    for (let i = s * perShard; i < Math.min(index.paths.length, (s + 1) * perShard); i++) {
      const key = `sample${String(i).padStart(4, '0')}`;
      const ext = index.paths[i].split('.').pop();
      spawnSync('cp', [join(index.root, index.paths[i]), join(staging, `${key}.${ext}`)]);
      writeFileSync(join(staging, `${key}.cls`), `${index.labels[i]}\n`);
      members.push(`${key}.${ext}`, `${key}.cls`);
    }
    const r = spawnSync('tar', ['-cf', join(dir, `shard-${String(s).padStart(3, '0')}.tar`), '-C', staging, ...members]);
    assert.equal(r.status, 0, r.stderr?.toString());
  }
  writeFileSync(join(dir, 'classes.txt'), index.classNames.join('\n'));
  return join(dir, `shard-{000..${String(shards - 1).padStart(3, '0')}}.tar`);
}

test('tar shards read exactly as the same images in a folder, in training and evaluation views', async () => {
  const dir = await folder('shards-src');
  const folderIndex = await indexImageFolder(dir);
  const shardDir = join(root, 'shards');
  mkdirSync(shardDir);
  const shardIndex = await indexTarShards(writeShards(folderIndex as ImageIndex & { kind: 'folder' }, shardDir, 5));
  assert.equal(shardIndex.shards.length, 3);
  assert.deepEqual(shardIndex.classNames, folderIndex.classNames);
  assert.deepEqual([shardIndex.labels, shardIndex.heights, shardIndex.widths], [folderIndex.labels, folderIndex.heights, folderIndex.widths]);
  for (const kind of ['train', 'eval'] as const) {
    const [a, b] = [folderIndex, shardIndex].map((index) => streamedSplit(index, all(12), view(kind), kind));
    const [ha, hb] = [await a.read(all(12), 1234), await b.read(all(12), 1234)];
    assert.deepEqual(ha.pixels, hb.pixels, kind);
  }
  // A truncated shard is refused when indexed, naming it.
  writeFileSync(join(shardDir, 'cut.tar'), Buffer.alloc(700, 1));
  await assert.rejects(indexTarShards(join(shardDir, 'cut.tar')), /cut\.tar: not a tar archive/);
});

test("training crops follow torchvision's RandomResizedCrop, drawn per image and epoch", async () => {
  for (let k = 0; k < 2000; k++) {
    const [h, w] = [20 + (k % 300), 20 + ((k * 7) % 500)];
    const box = randomResizedCropBox(h, w, new Rng(k));
    assert.ok(box.top >= 0 && box.left >= 0 && box.top + box.height <= h && box.left + box.width <= w, `box inside ${h}x${w}`);
    const share = (box.height * box.width) / (h * w);
    const ratio = box.width / box.height;
    // Rounding to whole pixels moves share and ratio a little past the drawn ranges on small images.
    const fallback = box.height === h || box.width === w;
    assert.ok(fallback || (share >= 0.08 * 0.8 && share <= 1 && ratio >= (3 / 4) * 0.85 && ratio <= (4 / 3) * 1.15), `share ${share} ratio ${ratio} in ${h}x${w}`);
  }
  // A very wide image takes the fallback: the centred window clamped to ratio 4/3.
  const wide = randomResizedCropBox(10, 1000, { uniform: () => 1, next: () => 0.5, int: () => 0 } as unknown as Rng);
  assert.deepEqual(wide, { top: 0, left: 493, height: 10, width: 13 });

  const dir = await folder('train');
  const index = await indexImageFolder(dir);
  const train = streamedSplit(index, all(12), view('train'), 'train');
  const once = await train.read([0, 1, 2], 7);
  assert.deepEqual((await train.read([0, 1, 2], 7)).pixels, once.pixels, 'the same draws give the same crops');
  assert.notDeepEqual((await train.read([0, 1, 2], 8)).pixels, once.pixels, 'another epoch, other crops');
  const evalView = streamedSplit(index, all(12), view('eval'), 'eval');
  assert.deepEqual((await evalView.read([0, 1], 7)).pixels, (await evalView.read([0, 1], 8)).pixels, 'evaluation images do not depend on the draws');
});

test('an image that fails to decode is replaced by the next readable one and counted, without stopping the stream', async () => {
  const dir = await folder('truncated');
  const index = await indexImageFolder(dir);
  // The header survives (the index reads it), the pixel data does not.
  const victim = index.paths.findIndex((p) => p.endsWith('.jpg'));
  const bytes = await sharp(join(dir, index.paths[victim])).toBuffer();
  writeFileSync(join(dir, index.paths[victim]), bytes.subarray(0, 200));
  const split = streamedSplit(index, all(12), view('eval'), 'eval');
  const host = await split.read([victim, victim + 1]);
  const px = 24 * 24 * 3;
  assert.deepEqual(host.pixels!.subarray(0, px), host.pixels!.subarray(px), 'the next image stands in');
  assert.deepEqual(split.failures().map((f) => f.file), [join(dir, index.paths[victim])]);
});

test('step batches of a streamed split read ahead, and a resumed sampler reads what an uninterrupted one did', async () => {
  const dir = await folder('steps');
  const index = await indexImageFolder(dir);
  const train = streamedSplit(index, all(12), view('train'), 'train');
  const batchesOf = async (from: number, to: number) => {
    const s = splitBatches(train, { batchSize: 4, seed: 3, prefetch: 2 });
    const out: number[][] = [];
    for (let step = from; step < to; step++) {
      await s.ready(step);
      const b = s.batch(step);
      out.push(Array.from(b.x.toFloat32Array().subarray(0, 64)), b.y.toArray());
      b.x.dispose();
      b.y.dispose();
    }
    return out;
  };
  const straight = await batchesOf(0, 7);
  const resumed = await batchesOf(4, 7);
  assert.deepEqual(resumed, straight.slice(8));
  const s = splitBatches(train, { batchSize: 4, seed: 3 });
  assert.throws(() => s.batch(0), /asked for before ready\(0\) resolved/);

  // Read ahead up to the caller's last step, never past it: the batches of steps 0-4 of a 5-step loop.
  const reads: number[][] = [];
  const counted: ImageSplit = { ...train, read: (positions, draws) => (reads.push(Array.from(positions)), train.read(positions, draws)) };
  const loop = splitBatches(counted, { batchSize: 4, seed: 3 });
  for (let step = 0; step < 5; step++) await loop.ready(step, 5);
  assert.deepEqual(reads, [0, 1, 2, 3, 4].map((step) => Array.from(loop.positions(step))));
});
