// Fuzz target for image decoding: valid PNG, JPEG and WebP files, mutated (bytes overwritten,
// inserted or cut, PNG chunks altered with their checksum fixed so the damage reaches the
// decoder), must either decode to an image of the declared shape or fail with a one-line
// ImageFolderError naming the source. Anything else (another error type, a crash, a decode
// that never settles) fails the run.
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, ImageFolderError, type DecodeOptions } from '../../src/data/index.js';

const SETTLE_MS = 10_000;

async function seeds(): Promise<Buffer[]> {
  const side = 16;
  const pixels = Buffer.from(Array.from({ length: side * side * 3 }, (_, i) => (i * 37) % 256));
  const image = () => sharp(pixels, { raw: { width: side, height: side, channels: 3 } });
  return Promise.all([image().png().toBuffer(), image().png({ palette: true }).toBuffer(), image().jpeg().toBuffer(), image().webp().toBuffer()]);
}

/** Chunk boundaries of a PNG (after the 8-byte signature): [start of length field, data length]. */
function pngChunks(png: Buffer): [number, number][] {
  const chunks: [number, number][] = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const len = png.readUInt32BE(at);
    if (at + 12 + len > png.length) break;
    chunks.push([at, len]);
    at += 12 + len;
  }
  return chunks;
}

type Mutation =
  | { kind: 'overwrite'; at: number; bytes: number[] }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'cut'; at: number }
  | { kind: 'png-chunk'; chunk: number; at: number; bytes: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('png-chunk' as const), chunk: fc.nat(), at: fc.nat(), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 4 }) }),
);

function mutate(file: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(file);
  if (file.length === 0) return out;
  const at = m.kind === 'png-chunk' ? 0 : m.at % file.length;
  switch (m.kind) {
    case 'overwrite':
      m.bytes.forEach((b, i) => at + i < out.length && (out[at + i] = b));
      return out;
    case 'insert':
      return Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
    case 'cut':
      return out.subarray(0, at);
    case 'png-chunk': {
      const chunks = out.length < 8 ? [] : pngChunks(out);
      if (out.length < 8 || out.readUInt32BE(0) !== 0x89504e47 || chunks.length === 0) return out;
      const [start, len] = chunks[m.chunk % chunks.length];
      if (len === 0) return out;
      m.bytes.forEach((b, i) => (out[start + 8 + ((m.at + i) % len)] = b));
      // Fix the checksum so the decoder gets past it and meets the damaged content.
      out.writeUInt32BE(crc32(out.subarray(start + 4, start + 8 + len)), start + 8 + len);
      return out;
    }
  }
}

const options: fc.Arbitrary<DecodeOptions> = fc.record(
  { channels: fc.constantFrom(1 as const, 3 as const), alpha: fc.constantFrom('flatten' as const, 'drop' as const), resize: fc.integer({ min: 8, max: 24 }), crop: fc.integer({ min: 4, max: 8 }) },
  { requiredKeys: [] },
);

async function settles<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${SETTLE_MS} ms`)), SETTLE_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function fuzzImageDecoding(numRuns: number): Promise<void> {
  const files = await seeds();
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: files.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), options, async (seed, mutations, opts) => {
      const bytes = mutations.reduce(mutate, files[seed]);
      const source = `fuzz-${seed}.img`;
      let image;
      try {
        // A damaged header may claim a huge image: the pixel limit keeps each case small.
        image = await settles(decodeImage(bytes, { ...opts, maxPixels: 4_000_000 }, source), source);
      } catch (e) {
        if (!(e instanceof ImageFolderError)) throw e;
        if (e.message.includes('\n') || e.file !== source) throw new Error(`bad error message: ${JSON.stringify(e.message)}`);
        return;
      }
      const channels = opts.channels ?? 3;
      if (image.channels !== channels || image.pixels.length !== channels * image.height * image.width) {
        throw new Error(`decoded ${image.pixels.length} bytes for ${channels}x${image.height}x${image.width}`);
      }
      if (opts.crop !== undefined && (image.height !== opts.crop || image.width !== opts.crop)) throw new Error(`crop ${opts.crop} gave ${image.height}x${image.width}`);
    }),
    { numRuns },
  );
}
