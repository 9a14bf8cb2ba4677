// Process-wide engine settings and facts: threads, seeds, devices, memory, mixed precision.
import { native, type MemoryStats } from './native.js';

export interface EngineInfo {
  torchVersion: string;
  cuda: boolean;
  cudaDevices: number;
  cudnn: boolean;
  threads: number;
  mkldnn: boolean;
}

/** What libtorch this process runs on. */
export function engineInfo(): EngineInfo {
  const i = native.info();
  return { torchVersion: i.torchVersion, cuda: i.cuda, cudaDevices: i.cudaDevices, cudnn: i.cudnn, threads: i.threads, mkldnn: i.mkldnn };
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

/** Resolves 'auto' to cuda when a GPU is usable, else cpu; refuses cuda without one. */
export function resolveDevice(choice: DeviceChoice | string = 'auto'): string {
  const { cuda } = engineInfo();
  if (choice === 'auto') return cuda ? 'cuda' : 'cpu';
  if (choice.startsWith('cuda') && !cuda) {
    throw new Error(`device '${choice}' was requested but this libtorch has no usable CUDA (build against a CUDA libtorch, see README)`);
  }
  if (choice !== 'cpu' && !choice.startsWith('cuda')) throw new Error(`unknown device '${choice}'; use cpu, cuda, cuda:N or auto`);
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
