// Loads the Node-API addon (native/addon.cc, built by scripts/build-native.mjs).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { S2SNetsError } from '../common/errors.js';

/** A libtorch tensor reference owned by JavaScript. */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: string;
  readonly device: string;
  readonly disposed: boolean;
  readonly isLeaf: boolean;
  requiresGrad: boolean;
  dispose(): void;
  grad(): NativeTensor | null;
  setGrad(g: NativeTensor | null): void;
  toBuffer(): ArrayBuffer;
  sameStorage(other: NativeTensor): boolean;
}

export interface NativeScriptModule {
  forward(inputs: NativeTensor[]): unknown;
  namedParameters(): Record<string, NativeTensor>;
  namedBuffers(): Record<string, NativeTensor>;
  train(on: boolean): void;
  to(device: string): void;
}

export interface NativeInfo {
  torchVersion: string;
  cuda: boolean;
  cudaDevices: number;
  cudnn: boolean;
  cudnnVersion: number;
  allowTF32CuDNN: boolean;
  allowTF32CuBLAS: boolean;
  threads: number;
  interopThreads: number;
  parallelInfo: string;
  mkldnn: boolean;
  mkldnnEnabled: boolean;
  /** libtorch's own build summary (at::show_config): compiler, BLAS_INFO, CPU capability, flags. */
  buildConfig: string;
  /** The BLAS library serving sgemm in this process, as found at run time (empty when none is loaded). */
  blas: { library?: string; openblasConfig?: string; openblasCore?: string; openblasParallel?: number };
}

export interface MemoryStats {
  /** Native tensors held by JavaScript handles, and their bytes. */
  liveTensors: number;
  liveBytes: number;
  /** Bytes the C allocator has handed out and not got back (glibc >= 2.33 only). */
  mallocBytes?: number;
}

export interface NativeAddon {
  opHandle(name: string, overload: string): number;
  opSchema(id: number): string;
  callOp(id: number, args: unknown[]): unknown;
  callOpVoid(id: number, args: unknown[]): void;
  fromBuffer(data: ArrayBufferView | ArrayBuffer, shape: number[], dtype: string, device?: string): NativeTensor;
  backward(outputs: NativeTensor[], grads: (NativeTensor | null)[] | null, retainGraph: boolean): void;
  grad(outputs: NativeTensor[], inputs: NativeTensor[], grads: (NativeTensor | null)[] | null, retainGraph: boolean, createGraph: boolean): (NativeTensor | null)[];
  setGradEnabled(on: boolean): void;
  isGradEnabled(): boolean;
  setAutocast(deviceType: 'cpu' | 'cuda', enabled: boolean, dtype: string): void;
  loadScriptModule(path: string): NativeScriptModule;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  setCudnnBenchmark(on: boolean): void;
  synchronize(): void;
  info(): NativeInfo;
  memoryStats(): MemoryStats;
  jpegInfo(bytes: Uint8Array): JpegHeader;
  decodeJpeg(bytes: Uint8Array, sampling: number[], out: Uint8Array): Promise<void>;
  decodeJpegFile(path: Buffer, offset: number, length: number, size: [number, number], sampling: number[], out: Uint8Array): Promise<Buffer | undefined>;
}

/** What a JPEG's header says (native/jpeg.cc). */
export interface JpegHeader {
  height: number;
  width: number;
  components: number;
  /** Whether libjpeg converts its colour space to RGB and gray (grayscale, YCbCr, RGB: yes; CMYK, YCCK: no). */
  convertible: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
const addonPath = join(here, '..', '..', '..', 'build', 's2snets.node');

/** The native addon (build/s2snets.node) is missing: the project was not built. */
export class NativeAddonError extends S2SNetsError {
  override name = 'NativeAddonError';
  static override readonly codes = ['S2SNETS_NATIVE_ADDON'] as const;
}

function load(): NativeAddon {
  if (!existsSync(addonPath)) {
    throw new NativeAddonError(`the native addon is not built (${addonPath} is missing); run: npm run build`);
  }
  return createRequire(import.meta.url)(addonPath) as NativeAddon;
}

// libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when libtorch loads it. By default
// idle OpenMP threads spin between parallel regions; beside other CPU-heavy processes the
// spinning takes the cores the working threads need, and steps run several times slower
// (bench/contention.ts). Unless the user set either variable, threads wait passively.
if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';
/** The OpenMP wait policy libtorch's threads run with (read by libgomp when the addon loads). */
export const ompWaitPolicy = process.env.OMP_WAIT_POLICY ?? `OpenMP default (GOMP_SPINCOUNT=${process.env.GOMP_SPINCOUNT})`;

export const native: NativeAddon = load();

// libtorch's OpenMP default can be one thread; use every core unless S2SNETS_THREADS says otherwise.
native.setNumThreads(Number(process.env.S2SNETS_THREADS) || availableParallelism());
