// The error measure every import test compares logits and gradients with.
import assert from 'node:assert/strict';

/** max |ours - ref| / max |ref|, over arrays of the same length. */
export function relativeError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(ours.length, ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}
