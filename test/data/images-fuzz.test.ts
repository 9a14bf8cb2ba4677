import { test } from 'node:test';
import { fuzzImageDecoding } from '../fuzz/images.fuzz.js';

test('fuzz: 300 mutated PNG/JPEG/WebP files decode or fail with a one-line ImageFolderError', async () => {
  await fuzzImageDecoding(300);
});
