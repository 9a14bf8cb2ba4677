// The engine identity's fields and how two identities differ, without the compute engine itself
// (readers of a run, such as the viewer's server, check manifests without loading libtorch).
// provenance.ts takes the identity of the running engine.

export interface EngineIdentity {
  torchVersion: string;
  /** BLAS libtorch was built against (its BLAS_INFO) and the BLAS found loaded. */
  buildBlas: string;
  blas: string;
  onednn: boolean;
  /** The vector instruction set libtorch's CPU kernels dispatch to (AVX2, AVX512, ...). */
  cpuCapability: string;
  cuda: boolean;
  cudnn: boolean;
  /** Recorded, not compared: thread count is an everyday tuning knob (S2SNETS_THREADS). */
  threads: number;
}

/** Fields whose change may change results; threads only reorder some float reductions. */
const COMPARED: (keyof EngineIdentity)[] = ['torchVersion', 'buildBlas', 'blas', 'onednn', 'cpuCapability', 'cuda', 'cudnn'];

const show = (v: unknown) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));

/**
 * How `now` differs from `then` in the fields that can change results, as short phrases
 * ("blas: reference BLAS -> OpenBLAS 0.3.21"); empty when they match. A missing record (an
 * artifact from before identities were recorded) is one difference.
 * @param then the identity an artifact was made with, if recorded
 * @param now the identity of this process
 * @example
 * engineDifferences(manifest.engine, currentEngine()) // [] when the same engine made it
 */
export function engineDifferences(then: EngineIdentity | undefined, now: EngineIdentity): string[] {
  if (!then) return ['made before engine identities were recorded'];
  return COMPARED.filter((k) => then[k] !== now[k]).map((k) => `${k}: ${show(then[k])} -> ${show(now[k])}`);
}
