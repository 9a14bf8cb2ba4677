// What the reconstructions say: accuracy, cross-evaluation, order, NMI, histograms, grid artifacts, pictures.
export { AnalysisError, toImageSet } from './images.js';
export type { ImageSet, ImageInput } from './images.js';
export { topKAccuracy, evaluateClassifier, predictClassifier, accuracyOf, labelValues, crossMatrix, accuracyGrid, crossMatrixOf, deltaMatrix } from './accuracy.js';
export type { Accuracy, AccuracyGrid, CrossMatrix, EvalOptions, Forward, ImagePredictions } from './accuracy.js';
export { totalOrder, ORDER_RULE } from './order.js';
export type { TotalOrder, OrderViolation } from './order.js';
export { nmiOfLevels, imageNmi, intraNmi, interNmi } from './nmi.js';
export type { NmiOptions, InterNmiOptions, NmiNormalization } from './nmi.js';
export { srgbToLab, channelHistograms, channelHistogramsEach } from './histograms.js';
export type { ChannelHistogram } from './histograms.js';
export { gridEnergy } from './artifacts.js';
export { imageAt, differenceMap, evenlySpacedIndices, reconstructionGrid } from './pictures.js';
export type { PlainImage, PictureRow } from './pictures.js';
