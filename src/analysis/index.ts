// What the reconstructions say: accuracy, cross-evaluation, order, NMI, histograms, grid artifacts, pictures.
export { topKAccuracy, accuracy, crossMatrix, deltaMatrix } from './accuracy.js';
export type { Accuracy, CrossMatrix, Forward } from './accuracy.js';
export { totalOrder, ORDER_RULE } from './order.js';
export type { TotalOrder, OrderViolation } from './order.js';
export { nmiOfLevels, imageNmi, intraNmi, interNmi } from './nmi.js';
export type { ImageSet, NmiOptions, NmiNormalization } from './nmi.js';
export { srgbToLab, channelHistograms } from './histograms.js';
export type { ChannelHistogram } from './histograms.js';
export { gridEnergy } from './artifacts.js';
export { toImageSet, imageAt, differenceMap, reconstructionRows } from './pictures.js';
export type { PlainImage, PictureRow } from './pictures.js';
