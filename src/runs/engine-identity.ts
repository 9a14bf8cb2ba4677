// The engine identity's fields and how two identities differ, without the compute engine itself
// (readers of a run, such as the viewer's server, check manifests without loading libtorch).
// scheduler/current-engine.ts takes the identity of the running engine.

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
  /** cuDNN's version (91900 for 9.19.0); null without CUDA. Absent from records made before it was recorded. */
  cudnnVersion?: number | null;
  /** Whether float32 convolutions and matrix products may run in TensorFloat-32 on CUDA; null without CUDA. Absent from older records. */
  tf32?: { convolutions: boolean; matmul: boolean } | null;
  /** Whether CPU float32 3x3 convolutions ran on oneDNN's Winograd kernels (rounding differs from direct ones). Absent from older records. */
  winograd?: boolean;
  /** Recorded, not compared: thread count is an everyday tuning knob (S2SNETS_THREADS). */
  threads: number;
}

/** Fields whose change may change results; threads only reorder some float reductions. */
const COMPARED: (keyof EngineIdentity)[] = ['torchVersion', 'buildBlas', 'blas', 'onednn', 'cpuCapability', 'cuda', 'cudnn'];
/** Compared only when the older record has them, so that records from before them still match. */
const COMPARED_WHEN_RECORDED: (keyof EngineIdentity)[] = ['cudnnVersion', 'tf32', 'winograd'];

const show = (v: unknown) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));

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
  const fields = [...COMPARED, ...COMPARED_WHEN_RECORDED.filter((k) => k in then)];
  return fields.filter((k) => show(then[k]) !== show(now[k])).map((k) => `${k}: ${show(then[k])} -> ${show(now[k])}`);
}
