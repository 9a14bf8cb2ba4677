// Process-wide engine settings and facts: threads, seeds, devices, memory, mixed precision.
import { existsSync, realpathSync } from 'node:fs';
import { native, ompWaitPolicy, type MemoryStats, type NativeInfo } from './native.js';
import { callRaw, hasOperator } from './op.js';
import { S2SNetsError } from '../common/errors.js';

/** The BLAS that serves matrix products in this process. */
export interface BlasIdentity {
  /** 'openblas', 'mkl', 'reference' (netlib: slow) or 'unknown' (none found loaded, e.g. linked statically). */
  kind: 'openblas' | 'mkl' | 'reference' | 'unknown';
  /** One line for people, e.g. "OpenBLAS 0.3.21 (OpenMP, core Haswell)". */
  description: string;
  /** File the sgemm symbol came from, or null when no shared BLAS is loaded. */
  library: string | null;
  version: string | null;
}

export interface EngineInfo {
  torchVersion: string;
  cuda: boolean;
  cudaDevices: number;
  cudnn: boolean;
  /** cuDNN's version as one number (e.g. 91002 for 9.10.2), or null without cuDNN. */
  cudnnVersion: number | null;
  /** Whether float32 convolutions (cuDNN) and matrix products (cuBLAS) may run in TensorFloat-32 on tensor cores. */
  tf32: { convolutions: boolean; matmul: boolean };
  threads: number;
  /** oneDNN compiled in, and enabled for this process. */
  mkldnn: boolean;
  mkldnnEnabled: boolean;
  blas: BlasIdentity;
  /** The vector instruction set libtorch's CPU kernels dispatch to (e.g. AVX2, AVX512, DEFAULT). */
  cpuCapability: string;
  /** libtorch's BLAS as built (BLAS_INFO of its build configuration), e.g. 'open', 'mkl', 'blas'. */
  buildBlas: string;
  /** OMP_WAIT_POLICY as libgomp read it when the engine loaded (s2snets sets PASSIVE unless the user set it or GOMP_SPINCOUNT). */
  ompWaitPolicy: string;
  /**
   * CPU float32 3x3 stride-1 convolutions on oneDNN's Winograd kernels (native/winograd.cc):
   * `built` where the addon has them (libtorch on the system's oneDNN), `cpu` where this CPU
   * has the kernels (oneDNN has them for AVX-512 only), `enabled` when both hold and neither
   * S2SNETS_WINOGRAD=0 nor setWinograd(false) turned them off.
   */
  winograd: { built: boolean; cpu: boolean; enabled: boolean };
}

const OPENBLAS_THREADING = ['sequential', 'pthreads', 'OpenMP'];

/** Names the BLAS from what the addon found loaded; see native/addon.cc BlasInfo. */
export function describeBlas(found: NativeInfo['blas']): BlasIdentity {
  const library = found.library ?? null;
  if (found.openblasConfig) {
    const version = /OpenBLAS\s+([\w.]+)/.exec(found.openblasConfig)?.[1] ?? null;
    const threading = OPENBLAS_THREADING[found.openblasParallel ?? -1] ?? 'unknown threading';
    const core = found.openblasCore ? `, core ${found.openblasCore}` : '';
    return { kind: 'openblas', description: `OpenBLAS ${version ?? '(version unknown)'} (${threading}${core})`, library, version };
  }
  if (library && /mkl/i.test(library)) return { kind: 'mkl', description: `Intel MKL (${library})`, library, version: null };
  // Debian's reference BLAS lives in .../blas/libblas.so.3 (the libblas3 package).
  if (library && /\/blas\/libblas\.so/.test(library)) return { kind: 'reference', description: `reference BLAS (netlib, slow: ${library})`, library, version: null };
  if (library) return { kind: 'unknown', description: `BLAS from ${library}`, library, version: null };
  return { kind: 'unknown', description: 'no shared BLAS loaded (built into libtorch, or none)', library: null, version: null };
}

let cachedInfo: Omit<EngineInfo, 'threads' | 'tf32' | 'winograd'> | undefined;

/** What libtorch this process runs on: version, devices, threads, BLAS, oneDNN, CPU vector ISA. */
export function engineInfo(): EngineInfo {
  const i = native.info();
  cachedInfo ??= {
    torchVersion: i.torchVersion,
    cuda: i.cuda,
    cudaDevices: i.cudaDevices,
    cudnn: i.cudnn,
    cudnnVersion: i.cudnnVersion || null,
    mkldnn: i.mkldnn,
    mkldnnEnabled: i.mkldnnEnabled,
    // libblas.so.3 is an alternatives symlink: the file it resolves to names the implementation.
    blas: describeBlas({ ...i.blas, library: i.blas.library && existsSync(i.blas.library) ? realpathSync(i.blas.library) : i.blas.library }),
    cpuCapability: /CPU capability usage:\s*(\S+)/.exec(i.buildConfig)?.[1] ?? 'unknown',
    buildBlas: /BLAS_INFO=([^,\s]+)/.exec(i.buildConfig)?.[1] ?? 'unknown',
    ompWaitPolicy,
  };
  // Threads, TF32 and Winograd can change during the process; everything else cannot.
  return { ...cachedInfo, threads: i.threads, tf32: { convolutions: i.allowTF32CuDNN, matmul: i.allowTF32CuBLAS }, winograd: { built: winogradBuilt, cpu: winogradCpu, enabled: winogradOn } };
}

const winogradBuilt = hasOperator('s2snets::conv2d');
const winogradCpu = winogradBuilt && (callRaw('s2snets::winograd_kernels', '', []) as boolean);
let winogradOn = winogradCpu && process.env.S2SNETS_WINOGRAD !== '0';

/** Thrown by setWinograd(true) where the build or the CPU has no Winograd kernels. */
export class WinogradUnavailableError extends S2SNetsError {
  static override readonly codes = ['S2SNETS_WINOGRAD_UNAVAILABLE'] as const;
  constructor(reason: string) {
    super(`no Winograd convolutions here: ${reason}`);
    this.name = 'WinogradUnavailableError';
  }
}

/**
 * Turns oneDNN's Winograd kernels for CPU float32 3x3 stride-1 convolutions on or off for this
 * process (on by default where built and the CPU has them; S2SNETS_WINOGRAD=0 starts with them
 * off). They run those
 * convolutions 2-2.9x faster than the direct kernels; results differ by rounding (about 1e-6
 * relative per convolution).
 * @param on whether eligible convolutions use Winograd
 * @throws WinogradUnavailableError when turning on in a build or on a CPU without them
 * @example
 * setWinograd(false) // direct convolutions everywhere, as PyTorch runs them
 */
export function setWinograd(on: boolean): void {
  if (on && !winogradBuilt) throw new WinogradUnavailableError("this build has none: they need libtorch on the system's oneDNN and its headers (apt-get install libtorch-dev libdnnl-dev, then npm run build)");
  if (on && !winogradCpu) throw new WinogradUnavailableError("oneDNN has Winograd kernels for AVX-512 CPUs only, and this CPU has no AVX-512");
  winogradOn = on;
}

/**
 * The Winograd state in words, for doctor and benchmark headers.
 * @param w engineInfo().winograd
 * @example describeWinograd(engineInfo().winograd) // 'Winograd kernels off (S2SNETS_WINOGRAD=0)'
 */
export function describeWinograd(w: EngineInfo['winograd']): string {
  if (w.enabled) return 'Winograd kernels for float32 3x3 stride-1 convolutions (S2SNETS_WINOGRAD=0 turns them off)';
  if (w.cpu) return 'Winograd kernels off (S2SNETS_WINOGRAD=0)';
  if (w.built) return 'no Winograd kernels for this CPU (oneDNN has them for AVX-512 only)';
  return "no Winograd kernels (this build's libtorch has no shared oneDNN, or libdnnl-dev is missing)";
}

/** Whether eligible convolutions run on the Winograd kernels now (read per call by F.conv2d). */
export function winogradEnabled(): boolean {
  return winogradOn;
}

/** Seeds libtorch's generators (CPU and CUDA) for reproducible runs. */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** Intra-op threads used by CPU kernels. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`thread count must be a positive integer, got ${n}`);
  native.setNumThreads(n);
}

export type DeviceChoice = 'auto' | 'cpu' | 'cuda';

/** Thrown by resolveDevice for a device name it does not know, or cuda where libtorch has no usable CUDA. */
export class DeviceError extends S2SNetsError {
  override name = 'DeviceError';
  static override readonly codes = ['S2SNETS_DEVICE'] as const;
}

/** Resolves 'auto' to cuda when a GPU is usable, else cpu; refuses cuda without one. */
export function resolveDevice(choice: DeviceChoice | string = 'auto'): string {
  const { cuda } = engineInfo();
  if (choice === 'auto') return cuda ? 'cuda' : 'cpu';
  if (choice.startsWith('cuda') && !cuda) {
    throw new DeviceError(`device '${choice}' was requested but this libtorch has no usable CUDA (build against a CUDA libtorch, see README)`);
  }
  if (choice !== 'cpu' && !choice.startsWith('cuda')) throw new DeviceError(`unknown device '${choice}'; use cpu, cuda, cuda:N or auto`);
  return choice;
}

/** Waits for queued GPU work (no-op on CPU); needed before timing. */
export function synchronize(): void {
  native.synchronize();
}

/** Lets cuDNN pick the fastest convolution algorithms for fixed shapes. */
export function setCudnnBenchmark(on: boolean): void {
  native.setCudnnBenchmark(on);
}

/** Live native tensors held by JavaScript handles and their bytes, and the C allocator's bytes in use. */
export function memoryStats(): MemoryStats {
  return native.memoryStats();
}

/**
 * Runs fn with automatic mixed precision on the given device type (like torch.autocast):
 * convolutions and matmuls run in dtype, precision-sensitive ops stay in float32.
 */
export function autocast<T>(deviceType: 'cpu' | 'cuda', dtype: 'bfloat16' | 'float16', fn: () => T): T {
  native.setAutocast(deviceType, true, dtype);
  try {
    return fn();
  } finally {
    native.setAutocast(deviceType, false, dtype);
  }
}
