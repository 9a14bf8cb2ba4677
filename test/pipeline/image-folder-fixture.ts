// A tiny ImageNet-style folder for end-to-end runs: one subfolder per class, images of varying
// sizes and aspect ratios in PNG, JPEG and WebP, each class with its own dominant colour.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const CLASSES = ['cat', 'dog', 'fox'];
const FORMATS = [
  ['png', 'png'],
  ['jpeg', 'jpg'],
  ['webp', 'webp'],
] as const;

/** Writes CLASSES.length x perClass images under root; returns root. */
export async function writeImageFolder(root: string, perClass = 8): Promise<string> {
  for (const [c, name] of CLASSES.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const width = 36 + 5 * i;
      const height = 40 + 6 * ((i + c) % 4);
      const pixels = Buffer.alloc(width * height * 3);
      for (let p = 0; p < width * height; p++) {
        pixels[3 * p + c] = 128 + ((p * 7 + i * 13) % 128);
        pixels[3 * p + ((c + 1) % 3)] = (p * 3 + i * 29) % 256;
      }
      const [format, ext] = FORMATS[(i + c) % FORMATS.length];
      await sharp(pixels, { raw: { width, height, channels: 3 } }).toFormat(format).toFile(join(root, name, `${i}.${ext}`));
    }
  }
  return root;
}

/**
 * Writes dir/experiment.json: a few-second run on the folder dir/images at 32 px (small A_S, one
 * pretraining epoch, `steps` fine-tune steps, `samples` evaluation images) into dir/run; returns
 * the config file.
 */
export function tinyFolderRunConfig(dir: string, classifiers: unknown[], o: { steps: number; samples: number }): string {
  const config = {
    dataset: { imageFolder: 'images', imageSize: 32 },
    classifiers,
    ae: { stages: 'small', pretrain: { epochs: 1, minSteps: 0, batchSize: 8 } },
    finetune: { steps: o.steps, batchSize: 8 },
    eval: { samples: o.samples },
    device: 'cpu',
    runDir: 'run',
  };
  const file = join(dir, 'experiment.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/**
 * Writes dir/unreadable.json: a run on dir/unreadable, an image folder whose files have image
 * names but no readable image in them. The checks before a run only list the folder, so the run
 * starts and its first job, the folder's index (index[unreadable]), fails with an ImageFolderError
 * (S2SNETS_IMAGE_FOLDER) within seconds: a job that fails with a typed error, cheaply.
 * Returns the config file.
 */
export function unreadableFolderRunConfig(dir: string): string {
  for (const name of CLASSES) {
    mkdirSync(join(dir, 'unreadable', name), { recursive: true });
    writeFileSync(join(dir, 'unreadable', name, '0.png'), 'not a PNG');
  }
  const file = join(dir, 'unreadable.json');
  writeFileSync(file, JSON.stringify({ dataset: { imageFolder: 'unreadable', imageSize: 32 }, classifiers: ['lenet5'], quick: true, device: 'cpu', runDir: 'unreadable-run' }));
  return file;
}
