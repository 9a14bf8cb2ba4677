// The data layer: built-in and folder datasets, decoding, transforms, batching, generated data.
export { DatasetError, datasetSize, labelArray, classCounts, disposeDataset, selectExamples, subsetDataset, stratifiedSplit, stratifiedSample, limitDataset } from './dataset.js';
export type { Dataset } from './dataset.js';
export { loadBuiltinDataset, builtinClassNames, defaultCacheDir, BUILTIN_DATASETS, SPLIT_SEED } from './builtin.js';
export type { BuiltinDatasetName, BuiltinLoadOptions, BuiltinDataset } from './builtin.js';
export { decodeImage, ImageFolderError } from './decode.js';
export type { DecodeOptions, DecodedImage } from './decode.js';
export { loadImageFolder, scanImageFolder, scanFingerprint, DEFAULT_IMAGE_EXTENSIONS } from './image-folder.js';
export type { ImageFolderOptions, ImageFolderResult, ImageFolderScan, SkippedFile } from './image-folder.js';
export {
  normalize,
  denormalize,
  centerCrop,
  padTo,
  resizeShorter,
  resizedSize,
  randomTranslate,
  centerCropBox,
  TransformError,
  IMAGENET_MEAN,
  IMAGENET_STD,
  MNIST_MEAN,
  MNIST_STD,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
} from './transforms.js';
export type { Size, Triple } from './transforms.js';
export { BatchOrder, batches, batchAt, selectBatch } from './batching.js';
export type { Batch, BatchOptions } from './batching.js';
export { generatePlantedDataset, PLANTED_SHAPES, PLANTED_COLOURS } from './planted.js';
export type { PlantedOptions, PlantedDataset, PlantedCarrier } from './planted.js';
export { Rng, permutation, deriveSeed } from './random.js';
