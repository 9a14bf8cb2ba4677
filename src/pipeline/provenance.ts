// The engine identity every artifact and results.json records: what decides the numbers beyond
// the configuration (libtorch build, BLAS, oneDNN, CPU vector ISA), plus the thread count.
//
// The identity is not part of job keys. A key names what was asked for (configuration, code,
// inputs); the engine is how it was computed. With the identity in the key an engine change would
// silently orphan every artifact and a run could never knowingly keep them. Instead the runner
// compares the recorded identity when it reuses an artifact: a difference is reported on one line
// and the job is recomputed, unless the user accepts the change (`--accept-engine-change`).
import { engineInfo } from '../engine/index.js';

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

/**
 * The identity of the engine this process computes with.
 * @example
 * currentEngine().blas // 'OpenBLAS 0.3.21 (OpenMP, core Haswell)'
 */
export function currentEngine(): EngineIdentity {
  const i = engineInfo();
  return {
    torchVersion: i.torchVersion,
    buildBlas: i.buildBlas,
    blas: i.blas.description,
    onednn: i.mkldnn && i.mkldnnEnabled,
    cpuCapability: i.cpuCapability,
    cuda: i.cuda,
    cudnn: i.cudnn,
    threads: i.threads,
  };
}

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
