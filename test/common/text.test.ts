import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable, textTable } from '../../src/common/text.js';
import { PthError } from '../../src/import/pth.js';
import { PickleError, UnsafePickleError } from '../../src/import/pickle.js';
import { OnnxParseError } from '../../src/import/onnx/index.js';
import { SafetensorsError } from '../../src/nn/index.js';

test('control characters from file content become \\xNN escapes; other text is unchanged', () => {
  assert.equal(printable('entry a\nb\u0000c\u007f'), 'entry a\\x0ab\\x00c\\x7f');
  assert.equal(printable('ünïcödé name [0] ok'), 'ünïcödé name [0] ok');
});

test('every parser error is one printable line, even for names with newlines (a fuzz finding)', () => {
  for (const E of [PthError, PickleError, UnsafePickleError, OnnxParseError, SafetensorsError]) {
    const e = new E('f.bin: zip local header of arch\n\u0001ive/data.pkl is missing');
    assert.doesNotMatch(e.message, /[\u0000-\u001f]/, E.name);
    assert.match(e.message, /arch\\x0a\\x01ive/);
  }
});

test('textTable: numeric columns right-aligned, text columns left-aligned, under a rule as wide as each column', () => {
  const t = textTable(['name', 'family', 'top-1 %'], [['lenet5', 'LeNet-5', '98.10'], ['vgg-bn', 'VGG-like (BN)', '-'], ['a', 'b', '7']]);
  assert.equal(
    t,
    ['name    family         top-1 %', '------  -------------  -------', 'lenet5  LeNet-5          98.10', 'vgg-bn  VGG-like (BN)        -', 'a       b                    7'].join('\n'),
  );
});
