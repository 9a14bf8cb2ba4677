// `s2snets reconstruct`: what the authors' released example does, for any SegNet autoencoder (the
// authors' .pth, an A_S or S2S AE of a run) on any image files or folders: each image is resized
// to the AE's working size (the paper's 256x256 by default), normalized with the ImageNet mean and
// std, reconstructed, de-normalized, clipped, resized back to its own size and written as a PNG;
// optionally beside the original and an amplified difference map, and with a classifier's top-5
// on both. Results as data; the CLI prints them.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import sharp from 'sharp';
import { F, cat, noGrad, tensor, tidy, type Tensor } from '../engine/index.js';
import { decodeImage, DEFAULT_IMAGE_EXTENSIONS, ImageFolderError } from '../data/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize } from '../data/transforms.js';
import { loadSafetensors, type Module } from '../nn/index.js';
import { SegNet } from '../models/segnet.js';
import { loadSegNetWeights } from '../import/segnet-weights.js';
import { loadStateDict } from '../import/pth.js';
import { writeFileAtomic } from '../common/atomic.js';
import { S2SNetsError, ioReason } from '../common/errors.js';

/** The paper's working size for the released example (PAPER.md: images resized to 256x256). */
export const RECONSTRUCT_SIZE = 256;

/** An autoencoder or image argument of `reconstruct` that cannot be used. */
export class ReconstructError extends S2SNetsError {
  override name = 'ReconstructError';
  static override readonly codes = ['S2SNETS_RECONSTRUCT_INPUT'] as const;
  static override readonly legacyCodes = { RECONSTRUCT_INPUT: 'S2SNETS_RECONSTRUCT_INPUT' };
}

export interface TopClass {
  index: number;
  probability: number;
}

export interface ReconstructedImage {
  input: string;
  output: string;
  width: number;
  height: number;
  /** The classifier's top-5 on the original and on the reconstruction (when a classifier was given). */
  top5?: { original: TopClass[]; reconstruction: TopClass[] };
}

export interface ReconstructSummary {
  written: ReconstructedImage[];
  /** Files that could not be decoded, with the reason. */
  skipped: { file: string; reason: string }[];
}

export interface ReconstructOptions {
  outDir: string;
  /** Side of the square the AE works at; null keeps each image's own size (rounded to the AE's multiple). */
  size?: number | null;
  /** Write original | reconstruction | |difference| x diffGain side by side instead of the reconstruction alone. */
  sideBySide?: boolean;
  diffGain?: number;
  classifier?: Module;
  batchSize?: number;
  device?: string;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The SegNet stored in a file (the authors' .pth/.pt, or a .safetensors AE of a run), its stages and
 * input channels read from the encoder's convolution shapes.
 * @param file The weights file.
 * @throws ReconstructError when the file holds no SegNet encoder; SegNetWeightsError when the rest does not fit.
 * @example const ae = loadSegNetFile('s2snet_resnet50.pth')
 */
export function loadSegNetFile(file: string): SegNet {
  const state = extname(file).toLowerCase() === '.safetensors' ? loadSafetensors(file, 'cpu').tensors : loadStateDict(file);
  const stages: number[][] = [];
  let inChannels = 0;
  for (const [name, t] of state) {
    const m = /^encoder\.conv(\d)(\d)\.weight$/.exec(name);
    if (!m) continue;
    const [s, l] = [Number(m[1]) - 1, Number(m[2]) - 1];
    (stages[s] ??= [])[l] = t.shape[0];
    if (s === 0 && l === 0) inChannels = t.shape[1];
  }
  if (!inChannels || stages.some((s) => !s || s.some((w) => w === undefined))) {
    for (const t of state.values()) t.dispose();
    throw new ReconstructError(`${file}: not a SegNet autoencoder (no complete encoder.conv11.weight ... layout)`);
  }
  const ae = new SegNet({ inChannels, stages });
  loadSegNetWeights(ae, state);
  for (const t of state.values()) t.dispose();
  return ae.eval();
}

/** Image files named by the arguments (folders searched recursively), with the output name each gets. */
function listImages(args: string[]): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  const walk = (root: string, dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(root, p);
      else if (DEFAULT_IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) out.push({ file: p, name: relative(root, p) });
    }
  };
  for (const a of args) {
    let isDir: boolean;
    try {
      isDir = statSync(a).isDirectory();
    } catch (e) {
      throw new ReconstructError(`${a}: cannot read (${ioReason(e)})`);
    }
    if (isDir) walk(a, a);
    else out.push({ file: a, name: basename(a) });
  }
  // Two inputs with one output name would overwrite each other: number the later ones.
  const used = new Set<string>();
  return out.map(({ file, name }) => {
    const stem = name.slice(0, name.length - extname(name).length);
    let png = `${stem}.png`;
    for (let k = 2; used.has(png); k++) png = `${stem}-${k}.png`;
    used.add(png);
    return { file, name: png };
  });
}

/** Bilinear resize of [1, C, H, W] to [h, w] (antialiased when shrinking, as PIL); the same tensor when already that size. */
function resizeTo(x: Tensor, h: number, w: number): Tensor {
  if (x.shape[2] === h && x.shape[3] === w) return x;
  return F.interpolate(x, [h, w], 'bilinear', false, h < x.shape[2] || w < x.shape[3]);
}

/** [C, H, W] in 0..1 as interleaved 8-bit RGB/gray for sharp. */
function toInterleaved(x: Tensor): Uint8Array {
  return Uint8Array.from(tidy(() => x.clamp(0, 1).mul(255).round().permute([1, 2, 0]).contiguous()).toArray());
}

function top5(logits: Tensor): TopClass[][] {
  return tidy(() => {
    const k = Math.min(5, logits.shape[1]);
    const [p, i] = F.softmax(logits, 1).topk(k, 1);
    const probs = p.toArray();
    const idx = i.toArray();
    return Array.from({ length: logits.shape[0] }, (_, r) => Array.from({ length: k }, (_, c) => ({ index: idx[r * k + c], probability: probs[r * k + c] })));
  });
}

/**
 * Reconstructs image files with a SegNet autoencoder and writes one PNG per image, the same size
 * as the image, into outDir (atomically). Undecodable files are skipped and listed.
 * @param ae The autoencoder (eval mode).
 * @param images Image files and folders (searched recursively for .png, .jpg, .jpeg, .webp).
 * @param o Output folder, working size, side-by-side output, classifier, batch size, device, progress.
 * @throws ReconstructError when an argument cannot be read.
 * @example await reconstructImages(loadSegNetFile('ae.pth'), ['photos'], { outDir: 'out' })
 */
export async function reconstructImages(ae: SegNet, images: string[], o: ReconstructOptions): Promise<ReconstructSummary> {
  const files = listImages(images);
  const size = o.size === undefined ? RECONSTRUCT_SIZE : o.size;
  const batchSize = o.batchSize ?? 8;
  const device = o.device ?? 'cpu';
  const channels = ae.config.inChannels as 1 | 3;
  const mean = channels === 3 ? IMAGENET_MEAN : [IMAGENET_MEAN[0]];
  const std = channels === 3 ? IMAGENET_STD : [IMAGENET_STD[0]];
  const multiple = ae.sizeMultiple;
  if (size !== null && size % multiple !== 0) throw new ReconstructError(`working size ${size} is not a multiple of ${multiple} (the SegNet halves the image ${Math.log2(multiple)} times)`);
  ae.to({ device }).eval();
  o.classifier?.to({ device }).eval();
  mkdirSync(o.outDir, { recursive: true });
  const summary: ReconstructSummary = { written: [], skipped: [] };
  for (let start = 0; start < files.length; start += batchSize) {
    const batch = files.slice(start, start + batchSize);
    const decoded = [];
    for (const f of batch) {
      try {
        decoded.push({ ...f, image: await decodeImage(f.file, { channels }) });
      } catch (e) {
        if (!(e instanceof ImageFolderError)) throw e;
        summary.skipped.push({ file: f.file, reason: e.reason });
      }
    }
    // Images of one batch share a size only at a fixed working size; otherwise each runs alone.
    const groups = size === null ? decoded.map((d) => [d]) : decoded.length ? [decoded] : [];
    for (const group of groups) {
      const results = noGrad(() =>
        tidy(() => {
          const originals = group.map((d) => tensor(d.image.pixels, [1, channels, d.image.height, d.image.width], { dtype: 'uint8' }).to({ dtype: 'float32' }).div(255));
          const side = (d: (typeof group)[number]) => (size === null ? [Math.round(d.image.height / multiple) * multiple || multiple, Math.round(d.image.width / multiple) * multiple || multiple] : [size, size]);
          const input = normalize(cat(group.map((d, i) => resizeTo(originals[i], side(d)[0], side(d)[1])), 0), mean, std).to({ device });
          const output = ae.forward(input);
          const recon = denormalize(output, mean, std).clamp(0, 1).cpu();
          const tops = o.classifier ? [top5(o.classifier.forward(input).cpu()), top5(o.classifier.forward(output).cpu())] : null;
          return group.map((d, i) => {
            const back = resizeTo(recon.slice(0, i, i + 1), d.image.height, d.image.width).squeeze(0);
            const parts = [back];
            if (o.sideBySide) {
              const original = originals[i].squeeze(0);
              parts.unshift(original);
              parts.push(back.sub(original).abs().mul(o.diffGain ?? 4));
            }
            return { pixels: toInterleaved(cat(parts, 2)), width: d.image.width * parts.length, top5: tops ? { original: tops[0][i], reconstruction: tops[1][i] } : undefined };
          });
        }),
      );
      for (const [i, d] of group.entries()) {
        const r = results[i];
        const out = join(o.outDir, d.name);
        mkdirSync(join(out, '..'), { recursive: true });
        const png = await sharp(r.pixels, { raw: { width: r.width, height: d.image.height, channels } }).png().toBuffer();
        writeFileAtomic(out, png);
        summary.written.push({ input: d.file, output: out, width: d.image.width, height: d.image.height, ...(r.top5 ? { top5: r.top5 } : {}) });
      }
    }
    o.onProgress?.(Math.min(start + batchSize, files.length), files.length);
  }
  return summary;
}
