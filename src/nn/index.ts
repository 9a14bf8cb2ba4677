// Neural-network building blocks: modules, layers, initialisation, optimizers, schedules, weights on disk.
export { Module, StateDictError, inputLayout } from './module.js';
export type { StateDict } from './module.js';
export * from './layers.js';
export * as init from './init.js';
export { Optimizer, SGD, Adam, AdamW } from './optim.js';
export type { SGDOptions, AdamOptions } from './optim.js';
export { stepSchedule, cosineSchedule, constantSchedule } from './schedule.js';
export type { Schedule } from './schedule.js';
export { saveSafetensors, loadSafetensors, encodeSafetensors, decodeSafetensors, readSafetensorsIndex, openRowWriter, openRows, SafetensorsError } from './safetensors.js';
export type { SafetensorsFile, SafetensorsEntry, SafetensorsIndex, SafetensorsRowWriter, SafetensorsRows } from './safetensors.js';
export { foldBatchNorm, inferenceForward, FoldBatchNormError } from './fuse.js';
export type { FoldConvBn, FoldsConvBn, InferenceOptions } from './fuse.js';
export { InputAdapter, InputAdapterError, adaptInput, sameInput, unwrapAdapter } from './input-adapter.js';
export type { ImageInput, ResizeMode } from './input-adapter.js';
