// A grid-artifact measure beyond the paper: how much of the reconstruction error is a
// period-2 pattern (checkerboard or stripes), the signature of strided sampling (AlexNet,
// ResNet's strided 1x1 convolutions).
//
// For each 2x2 block of the error e = reconstruction - original, the polyphase differences
// (e00 - e01 + e10 - e11, e00 + e01 - e10 - e11, e00 - e01 - e10 + e11) are the block's
// components at the horizontal, vertical and diagonal Nyquist frequencies. gridEnergy is their
// energy over the error's total energy: 0.75 for white noise, near 1 for a pure checkerboard,
// near 0 for smooth errors (exactly 0 for a constant offset such as a brightness shift). The
// differences are local, so a checkerboard whose strength varies across the image still counts.
// An odd last row or column is left out. Identical sets (no error at all) give 0.
import { AnalysisError, assertSameShape, toImageSet, type ImageInput } from './images.js';

/** Share of the energy of (reconstructions - originals) in period-2 patterns, pooled over all images and channels. */
export function gridEnergy(originals: ImageInput, reconstructions: ImageInput): number {
  const orig = toImageSet(originals, 'originals');
  const recon = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(orig, recon, 'originals', 'reconstructions');
  const [n, c, h, w] = orig.shape;
  if (h < 2 || w < 2) throw new AnalysisError(`grid energy needs images of at least 2x2 pixels, got ${h}x${w}`);
  let nyquist = 0;
  let total = 0;
  for (let i = 0; i < n * c; i++) {
    const base = i * h * w;
    for (let y = 0; y + 1 < h; y += 2) {
      for (let x = 0; x + 1 < w; x += 2) {
        const e = (dy: number, dx: number) => recon.data[base + (y + dy) * w + x + dx] - orig.data[base + (y + dy) * w + x + dx];
        const [a, b, cc, d] = [e(0, 0), e(0, 1), e(1, 0), e(1, 1)];
        const horizontal = a - b + cc - d;
        const vertical = a + b - cc - d;
        const diagonal = a - b - cc + d;
        // The four orthogonal 2x2 components share the block's energy (Parseval, factor 4).
        nyquist += (horizontal * horizontal + vertical * vertical + diagonal * diagonal) / 4;
        total += a * a + b * b + cc * cc + d * d;
      }
    }
  }
  return total === 0 ? 0 : nyquist / total;
}
