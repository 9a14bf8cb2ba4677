// The native JPEG path against torchvision's own transforms on PIL images (the reference recipe's
// loader): the evaluation view (Resize 256, CenterCrop 224) and the training view's crop, resize
// and flip give the same bytes up to rounding. Damage anywhere in a file is refused wherever the
// crop lies, and a JPEG libjpeg cannot convert (CMYK) still decodes, through sharp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePlanned, decodeStoredInto, ImageFolderError, viewPlan, type CropPlan } from '../../src/data/index.js';
import { isJpeg, jpegHeader } from '../../src/engine/index.js';
import { pythonMissing, runPython } from '../nn/python.js';

const skip = pythonMissing(['torchvision', 'PIL']) ?? false;

interface Case {
  file: string;
  height: number;
  width: number;
  /** Training crop (torchvision's resized_crop then hflip); absent: the evaluation view. */
  crop?: { top: number; left: number; height: number; width: number };
}

// Writes photograph-like JPEGs (smooth gradients plus noise) and torchvision's output for each case.
const REFERENCE = `
import base64, json, sys
import numpy as np
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F
spec = json.load(sys.stdin)
out = []
rng = np.random.default_rng(0)
for c in spec['cases']:
    h, w = c['height'], c['width']
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 100 * np.sin(xx / 17.0), 128 + 100 * np.cos(yy / 11.0), (xx + yy) % 256], -1)
    pixels = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(c['file'], quality=90)
    img = Image.open(c['file']).convert('RGB')
    if 'crop' in c:
        b = c['crop']
        img = F.hflip(F.resized_crop(img, b['top'], b['left'], b['height'], b['width'], [224, 224]))
    else:
        img = T.CenterCrop(224)(T.Resize(256)(img))
    out.append(base64.b64encode(np.asarray(img).tobytes()).decode())
cmyk = spec['cmyk']
Image.fromarray(np.full((40, 30, 3), 90, np.uint8)).convert('CMYK').save(cmyk, quality=95)
print(json.dumps(out))
`;

function planOf(c: Case): CropPlan {
  if (!c.crop) return viewPlan({ kind: 'eval', size: 224, resize: 256 }, c.height, c.width, null);
  return { extract: c.crop, output: [224, 224], flip: true };
}

test('native JPEG decoding equals torchvision on PIL up to rounding, in both views', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2snets-jpeg-'));
  try {
    const cases: Case[] = [
      { file: join(dir, 'landscape.jpg'), height: 375, width: 500 },
      { file: join(dir, 'portrait.jpg'), height: 480, width: 300 },
      { file: join(dir, 'small.jpg'), height: 240, width: 260 },
      { file: join(dir, 'crop-shrink.jpg'), height: 375, width: 500, crop: { top: 37, left: 101, height: 301, width: 260 } },
      { file: join(dir, 'crop-enlarge.jpg'), height: 300, width: 400, crop: { top: 150, left: 9, height: 120, width: 97 } },
    ];
    const reference = runPython<string[]>(REFERENCE, { cases, cmyk: join(dir, 'cmyk.jpg') });
    for (const [k, c] of cases.entries()) {
      const bytes = readFileSync(c.file);
      assert.ok(isJpeg(bytes));
      assert.deepEqual([jpegHeader(bytes).height, jpegHeader(bytes).width], [c.height, c.width]);
      const ours = await decodePlanned(bytes, c.file, { channels: 3 }, () => planOf(c));
      const theirs = Buffer.from(reference[k], 'base64');
      assert.equal(ours.pixels.length, theirs.length, c.file);
      let worst = 0;
      let total = 0;
      for (let i = 0; i < theirs.length; i++) {
        const d = Math.abs(ours.pixels[i] - theirs[i]);
        worst = Math.max(worst, d);
        total += d;
      }
      // PIL resamples in fixed point and rounds between its two passes; the native path in float.
      assert.ok(worst <= 2 && total / theirs.length < 0.2, `${c.file}: largest difference ${worst}, mean ${(total / theirs.length).toFixed(3)}`);
    }
    const cmyk = readFileSync(join(dir, 'cmyk.jpg'));
    assert.equal(jpegHeader(cmyk).convertible, false);
    const decoded = await decodePlanned(cmyk, 'cmyk.jpg', { channels: 3 }, () => ({}));
    assert.deepEqual([decoded.channels, decoded.height, decoded.width, decoded.pixels.length], [3, 40, 30, 3600]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a JPEG cut short is refused even when the crop lies above the cut, and a crop outside the image is refused', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2snets-jpeg-'));
  try {
    const file = join(dir, 'whole.jpg');
    runPython<string[]>(REFERENCE, { cases: [{ file, height: 400, width: 300 }], cmyk: join(dir, 'cmyk.jpg') });
    const whole = readFileSync(file);
    const top: CropPlan = { extract: { top: 0, left: 0, height: 40, width: 300 }, output: [20, 150] };
    assert.equal((await decodePlanned(whole, 'whole.jpg', { channels: 3 }, () => top)).pixels.length, 20 * 150 * 3);
    const cut = whole.subarray(0, Math.floor(whole.length * 0.8));
    await assert.rejects(decodePlanned(cut, 'cut.jpg', { channels: 3 }, () => top), (e: unknown) => e instanceof ImageFolderError && /premature end/i.test(e.reason));
    const outside: CropPlan = { extract: { top: 390, left: 0, height: 40, width: 300 }, output: [20, 20] };
    await assert.rejects(decodePlanned(whole, 'whole.jpg', { channels: 3 }, () => outside), /does not lie inside the 400x300/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stored image read and decoded in one trip equals decodePlanned on its bytes; another size, a tar-like span and a missing file are handled', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2snets-jpeg-'));
  try {
    const file = join(dir, 'a.jpg');
    runPython<string[]>(REFERENCE, { cases: [{ file, height: 300, width: 260 }], cmyk: join(dir, 'cmyk.jpg') });
    const bytes = readFileSync(file);
    const plan: CropPlan = { extract: { top: 30, left: 20, height: 200, width: 180 }, output: [64, 64], flip: true };
    const expected = (await decodePlanned(bytes, 'a.jpg', { channels: 3 }, () => plan)).pixels;
    const decodeSpan = async (span: { path: string; offset: number; length: number; height: number; width: number }) => {
      const out = new Uint8Array(64 * 64 * 3);
      await decodeStoredInto({ ...span, path: Buffer.from(span.path) }, 'a.jpg', { channels: 3 }, () => plan, out);
      return out;
    };
    assert.deepEqual(await decodeSpan({ path: file, offset: 0, length: -1, height: 300, width: 260 }), expected);
    // An index whose size is stale: the general path decodes the bytes read.
    assert.deepEqual(await decodeSpan({ path: file, offset: 0, length: -1, height: 299, width: 260 }), expected);
    // A member inside a larger file, as in a tar shard; and one whose file is shorter than the index says.
    const shard = join(dir, 'shard.bin');
    writeFileSync(shard, Buffer.concat([Buffer.alloc(512, 7), bytes, Buffer.alloc(100, 9)]));
    assert.deepEqual(await decodeSpan({ path: shard, offset: 512, length: bytes.length, height: 300, width: 260 }), expected);
    await assert.rejects(decodeSpan({ path: shard, offset: 512, length: bytes.length + 200, height: 300, width: 260 }), (e: unknown) => e instanceof ImageFolderError && /shorter than its index says/.test(e.reason));
    await assert.rejects(decodeSpan({ path: join(dir, 'gone.jpg'), offset: 0, length: -1, height: 300, width: 260 }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
