// The facts about the engine that change every figure a benchmark prints, in one line for its header.
import { engineInfo } from '../src/engine/index.js';

/** E.g. "2 threads, BLAS OpenBLAS 0.3.21 (OpenMP, core Cooperlake), Winograd convolutions on". */
export function engineLine(): string {
  const i = engineInfo();
  const winograd = i.winograd.enabled ? 'on' : i.winograd.cpu ? 'off (S2SNETS_WINOGRAD=0)' : i.winograd.built ? 'none for this CPU' : 'not built';
  return `${i.threads} threads, BLAS ${i.blas.description}, Winograd convolutions ${winograd}`;
}
