// sRGB (D65) -> linear RGB -> XYZ -> CIELAB, shared by the histograms and the colour-shift measure.

const exactToLinear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
// The power function dominates the per-pixel cost, so values in [0.05, 1) interpolate a table
// (error below 1e-5 in L*, a*, b*, far below a histogram bin); the rest, including the kink of
// the sRGB curve at 0.04045, use the formula.
const LINEAR_STEPS = 16384;
const LINEAR_TABLE = Float64Array.from({ length: LINEAR_STEPS + 1 }, (_, i) => exactToLinear(i / LINEAR_STEPS));
function toLinear(c: number): number {
  if (!(c >= 0.05 && c < 1)) return exactToLinear(c);
  const t = c * LINEAR_STEPS;
  const i = Math.floor(t);
  return LINEAR_TABLE[i] + (t - i) * (LINEAR_TABLE[i + 1] - LINEAR_TABLE[i]);
}
const labF = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
// D65 reference white.
const XN = 0.95047;
const YN = 1.0;
const ZN = 1.08883;

/**
 * Writes CIELAB of an sRGB colour (components in [0, 1]) into out[0..2]; allocation-free for
 * per-pixel use.
 * @param r red in [0, 1] (also g, b)
 * @param out receives L*, a*, b*
 * @example const lab = new Float64Array(3); labInto(1, 0, 0, lab); // lab[0] ~ 53.2
 */
export function labInto(r: number, g: number, b: number, out: Float64Array): void {
  const lr = toLinear(r);
  const lg = toLinear(g);
  const lb = toLinear(b);
  const fx = labF((0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / XN);
  const fy = labF((0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb) / YN);
  const fz = labF((0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / ZN);
  out[0] = 116 * fy - 16;
  out[1] = 500 * (fx - fy);
  out[2] = 200 * (fy - fz);
}

/** CIELAB [L*, a*, b*] of an sRGB colour with components in [0, 1]. */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const lab = new Float64Array(3);
  labInto(r, g, b, lab);
  return [lab[0], lab[1], lab[2]];
}

