// The compute engine: tensors, operators, autograd and device control over libtorch.
export { Tensor, tensor, scalar, zeros, ones, full, empty, arange, eye, randn, rand, randint, randperm, zerosLike, onesLike, cat, stack, allclose } from './tensor.js';
export type { Device, Shape, MemoryFormat, CreateOptions } from './tensor.js';
export type { DType, AnyTypedArray } from './dtype.js';
export { DTYPES, isFloating, BYTES_PER_ELEMENT, viewBuffer } from './dtype.js';
export { tidy, keep, dispose } from './scope.js';
export { noGrad, enableGrad, isGradEnabled, grad, backward } from './autograd.js';
export * as F from './functional.js';
export { engineInfo, manualSeed, setNumThreads, resolveDevice, synchronize, setCudnnBenchmark, memoryStats, autocast, setWinograd, describeWinograd, WinogradUnavailableError, DeviceError } from './runtime.js';
export type { EngineInfo, BlasIdentity, DeviceChoice } from './runtime.js';
export type { MemoryStats } from './native.js';
export { NativeAddonError } from './native.js';
export { schemaOf } from './op.js';
export { isJpeg, jpegHeader, decodeJpeg, decodeJpegFile } from './jpeg.js';
export type { JpegHeader, JpegSampling, JpegFileSpan } from './jpeg.js';
