// The data layer: built-in and folder datasets, decoding, transforms, batching, generated data.
export { DatasetError, datasetSize, labelArray, classCounts, disposeDataset, selectExamples, subsetDataset, stratifiedSplit, stratifiedSample, limitDataset } from './dataset.js';
export type { Dataset } from './dataset.js';
export { loadBuiltinDataset, builtinClassNames, defaultCacheDir, BUILTIN_DATASETS, BUILTIN_INFO, SPLIT_SEED, PLANTED_TRAIN, PLANTED_TEST } from './builtin.js';
export type { BuiltinDatasetName, BuiltinLoadOptions, BuiltinDataset, BuiltinInfo } from './builtin.js';
export { decodeImage, ImageFolderError } from './decode.js';
export type { DecodeOptions, DecodedImage } from './decode.js';
export { loadImageFolder, scanImageFolder, DEFAULT_IMAGE_EXTENSIONS } from './image-folder.js';
export { indexImageFolder, listImageFolder, imagePath } from './folder-index.js';
export type { FolderIndex, FolderListing, IndexProgress, FolderIndexOptions } from './folder-index.js';
export { saveImageIndex, loadImageIndex, IMAGE_INDEX_FORMAT } from './image-index.js';
export type { ImageIndex, IndexColumns } from './image-index.js';
export { indexTarShards, expandShardPattern, shardClassNames } from './tar-shards.js';
export type { ShardIndex } from './tar-shards.js';
export { memorySplit, remapped, checkPositions, labelTensor, inOrder, readWhole, quietly } from './split.js';
export type { ImageSplit, HostBatch } from './split.js';
export { streamedSplit, viewPlan, DECODES_IN_FLIGHT } from './streamed-split.js';
export type { StreamView } from './streamed-split.js';
export { decodePlanned, decodeStoredInto } from './decode.js';
export type { CropPlan } from './decode.js';
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
  randomResizedCropBox,
  RANDOM_CROP_SCALE,
  RANDOM_CROP_RATIO,
  normalizedFromBytes,
  TransformError,
  IMAGENET_MEAN,
  IMAGENET_STD,
  MNIST_MEAN,
  MNIST_STD,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
} from './transforms.js';
export type { Size, Triple, CropBox } from './transforms.js';
export { BatchOrder, batches, batchAt, selectBatch } from './batching.js';
export type { Batch, BatchOptions } from './batching.js';
export { generatePlantedDataset, subsetTruth, shapeCoverage, inMask, PLANTED_SHAPES, PLANTED_COLOURS, PLANTED_PALETTE } from './planted.js';
export type { PlantedOptions, PlantedDataset, PlantedCarrier, PlantedTruth } from './planted.js';
export { EMOJI_CATEGORIES, EMOJI_SIDE, EMOJI_VENDORS } from './emoji.js';
export { Rng, permutation, deriveSeed } from './random.js';
