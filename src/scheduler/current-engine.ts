// The engine identity every artifact and results.json records: what decides the numbers beyond
// the configuration (libtorch build, BLAS, oneDNN and its Winograd convolutions, CPU vector ISA, and
// on CUDA cuDNN's version and TensorFloat-32), plus the thread count.
//
// The identity is not part of job keys. A key names what was asked for (configuration, code,
// inputs); the engine is how it was computed. With the identity in the key an engine change would
// silently orphan every artifact and a run could never knowingly keep them. Instead the runner
// compares the recorded identity when it reuses an artifact: a difference is reported on one line
// and the job is recomputed, unless the user accepts the change (`--accept-engine-change`).
import { engineInfo } from '../engine/index.js';
import type { EngineIdentity } from '../runs/engine-identity.js';

export { engineDifferences, type EngineIdentity } from '../runs/engine-identity.js';

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
    cudnnVersion: i.cuda ? i.cudnnVersion : null,
    tf32: i.cuda ? i.tf32 : null,
    winograd: i.winograd.enabled,
    threads: i.threads,
  };
}
