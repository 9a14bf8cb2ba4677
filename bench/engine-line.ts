// The facts about the engine that change every figure a benchmark prints, in one line for its header.
import { describeWinograd, engineInfo } from '../src/engine/index.js';

/** E.g. "2 threads, BLAS OpenBLAS 0.3.21 (OpenMP, core Cooperlake), Winograd kernels off (S2SNETS_WINOGRAD=0)". */
export function engineLine(): string {
  const i = engineInfo();
  return `${i.threads} threads, BLAS ${i.blas.description}, ${describeWinograd(i.winograd)}`;
}
