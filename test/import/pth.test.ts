// .pth reader against files saved by PyTorch: bit-identical tensors of every dtype and layout,
// nested values, the SegNet and VGG16 weight mappings reproducing PyTorch's outputs, refused
// malicious pickles, typed errors on damaged files, and fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createDeflateRaw, constants as zlibConstants } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { noGrad, tensor, type Tensor } from '../../src/engine/index.js';
import { SMALL_STAGES, SegNet } from '../../src/models/segnet.js';
import { PickleError, UnsafePickleError, unpickle, unpickleAt } from '../../src/import/pickle.js';
import { OpaqueObject, PthError, decodePth, describeSkipped, loadPth, loadStateDict, skippedObjects, stateDictOf, type TorchValue } from '../../src/import/pth.js';
import { SegNetWeightsError, initEncoderFromVgg16, loadSegNetWeights } from '../../src/import/segnet-weights.js';
import { fuzzPickle, seedFiles } from '../fuzz/pickle.fuzz.js';
import { fixtureDir, maxAbsDiff, readFloats } from './pth-fixtures.js';

interface TensorInfo {
  dtype: string;
  shape: number[];
}
interface Manifest {
  marker: string;
  cases: Record<string, { raw?: string; tensors?: Record<string, TensorInfo>; shared?: string[][]; expected?: Record<string, unknown>; stages?: number[][]; input?: number[]; momentum?: number[] }>;
}

const fixtures = fixtureDir('make_pth_fixtures.py');
const skip = fixtures.missing ?? false;
const dir = fixtures.dir ?? '';
const manifest: Manifest = skip ? { marker: '', cases: {} } : JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const scratch = mkdtempSync(join(tmpdir(), 's2snets-pth-'));

/** The contiguous bytes of a tensor, 16-bit floats as their bit patterns (as the script wrote them). */
function bytesOf(t: Tensor): Buffer {
  const c = t.contiguous();
  const bits = c.dtype === 'float16' || c.dtype === 'bfloat16' ? c.viewAs('int16') : c;
  const d = bits.data();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

function assertMatchesRaw(tensors: Map<TorchValue, TorchValue>, raw: string, infos: Record<string, TensorInfo>, file: string): void {
  for (const [name, info] of Object.entries(infos)) {
    const t = tensors.get(name) as Tensor;
    assert.ok(t, `${file}: ${name} missing`);
    assert.equal(t.dtype, info.dtype, `${file}: ${name} dtype`);
    assert.deepEqual(t.shape, info.shape, `${file}: ${name} shape`);
    assert.ok(bytesOf(t).equals(readFileSync(join(dir, 'raw', raw, `${name}.bin`))), `${file}: ${name} bytes differ from PyTorch's`);
  }
}

/** Asserts fn throws one of the reader's typed errors, on one line, naming `file`. */
function assertTypedError(fn: () => unknown, file: string, pattern?: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof PthError || e instanceof PickleError || e instanceof UnsafePickleError, `untyped ${e.name}: ${e.message}`);
    assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
    assert.ok(e.message.includes(file), `message does not name ${file}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test('every dtype, strided views, 0-d and empty tensors are bit-identical to what PyTorch saved (zip, deflated zip, legacy; protocols 1, 2, 4)', { skip }, () => {
  for (const file of ['dtypes_zip.pth', 'dtypes_zip_deflated.pth', 'dtypes_legacy.pth', 'dtypes_zip_p4.pth', 'dtypes_legacy_p1.pth']) {
    const c = manifest.cases[file];
    const value = loadPth(join(dir, file));
    assert.ok(value instanceof Map);
    assert.deepEqual([...value.keys()], Object.keys(c.tensors!), `${file}: key order`);
    assertMatchesRaw(value, c.raw!, c.tensors!, file);
    // Views that shared a storage in Python share one here.
    for (const group of c.shared!) {
      const [first, ...rest] = group.map((n) => value.get(n) as Tensor);
      for (const t of rest) assert.ok(first.handle.sameStorage(t.handle), `${file}: ${group.join(', ')} do not share storage`);
    }
    assert.equal((value.get('param') as Tensor).requiresGrad, true, `${file}: nn.Parameter keeps requires_grad`);
    assert.equal((value.get('float32') as Tensor).requiresGrad, false);
  }
});

test('nested checkpoints keep plain values; loadStateDict finds model_state and strips module.', { skip }, () => {
  for (const file of ['nested_zip.pth', 'nested_legacy.pth']) {
    const c = manifest.cases[file];
    const value = loadPth(join(dir, file)) as Map<TorchValue, TorchValue>;
    const expected = c.expected as { epoch: number; meta: Record<string, unknown> };
    assert.equal(value.get('epoch'), expected.epoch);
    const meta = value.get('meta') as Map<string, TorchValue>;
    const em = expected.meta;
    for (const k of ['name', 'lr', 'neg', 'negbig', 'tuple', 'list']) assert.deepEqual(meta.get(k), em[k], `${file}: meta.${k}`);
    assert.equal(meta.get('big'), BigInt(em.big as string));
    assert.deepEqual([...(meta.get('bytes') as Uint8Array)], em.bytes);
    assert.deepEqual([...(meta.get('set') as Set<TorchValue>)], em.set);
    assert.ok(meta.get('empty') instanceof Map && (meta.get('empty') as Map<TorchValue, TorchValue>).size === 0);

    const sd = loadStateDict(join(dir, file));
    assert.deepEqual([...sd.keys()], Object.keys(c.tensors!));
    assertMatchesRaw(sd as Map<TorchValue, TorchValue>, c.raw!, c.tensors!, file);
  }
});

test('SegNet with the authors names reproduces PyTorch reconstructions (1 and 3 channels, legacy DataParallel and zip without num_batches_tracked)', { skip }, (t) => {
  for (const channels of [1, 3]) {
    const file = join(dir, `segnet${channels}.pth`);
    const c = manifest.cases[`segnet${channels}.pth`];
    const net = new SegNet({ inChannels: channels, stages: SMALL_STAGES });
    loadSegNetWeights(net, file);
    net.eval();
    const recon = noGrad(() => net.forward(tensor(readFloats(join(dir, `segnet${channels}_input.bin`)), c.input!)));
    const diff = maxAbsDiff(recon.toFloat32Array(), readFloats(join(dir, `segnet${channels}_recon.bin`)));
    t.diagnostic(`segnet${channels}: max |ours - PyTorch| = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `segnet${channels}: max abs diff ${diff}`);
  }
  // A checkpoint of another architecture is refused by name.
  const wrong = new SegNet({ inChannels: 1, stages: [[16], [32]] });
  assert.throws(() => loadSegNetWeights(wrong, join(dir, 'segnet1.pth')), SegNetWeightsError);
  assert.throws(() => loadSegNetWeights(new SegNet({ inChannels: 3, stages: SMALL_STAGES }), join(dir, 'segnet1.pth')), /has shape \[32,1,3,3\] but the SegNet expects \[32,3,3,3\]/);
});

test('torchvision VGG16 and VGG16-BN features initialise the SegNet encoder (paper initialisation)', { skip }, (t) => {
  const c = manifest.cases['vgg_bn.pth'];
  const input = readFloats(join(dir, 'vgg_input.bin'));
  for (const file of ['vgg.pth', 'vgg_bn.pth']) {
    const bn = file === 'vgg_bn.pth';
    const net = new SegNet({ inChannels: 3, stages: c.stages! });
    const mapping = initEncoderFromVgg16(net, join(dir, file));
    assert.equal(mapping.length, 13 * (bn ? 7 : 2));
    const own = net.stateDict();
    const infos = manifest.cases[file].tensors!;
    for (const { from, to } of mapping) assert.ok(bytesOf(own.get(to)!).equals(readFileSync(join(dir, 'raw', file.replace('.pth', ''), `${from}.bin`))), `${from} -> ${to}`);
    assert.ok(Object.keys(infos).length > mapping.length, 'the classifier weights are not mapped');
    if (bn) {
      // Conv -> BN -> ReLU -> pool per stage is exactly VGG16-BN's features.
      net.eval();
      const code = noGrad(() => net.encoder.encode(tensor(input, [2, 3, 32, 32])).code);
      const diff = maxAbsDiff(code.toFloat32Array(), readFloats(join(dir, 'vgg_bn_features.bin')));
      t.diagnostic(`vgg_bn: encoder code vs torchvision features, max abs diff ${diff.toExponential(2)}`);
      assert.ok(diff <= 1e-4, `max abs diff ${diff}`);
    }
  }
  assert.throws(() => initEncoderFromVgg16(new SegNet({ inChannels: 3, stages: SMALL_STAGES }), join(dir, 'vgg.pth')), /conv layers per stage \[2,2,3,3,3\] do not match the SegNet encoder's \[2,2\]/);
});

test('research checkpoints (zip and legacy): argparse.Namespace kept inert and reported, numpy arrays and scalars read as data, nested optimizer state; a state dict inside a custom object is refused', { skip }, () => {
  for (const format of ['zip', 'legacy']) {
    const file = join(dir, `research_${format}.pth`);
    const value = loadPth(file) as Map<TorchValue, TorchValue>;
    assertMatchesRaw(stateDictOf(value, file) as Map<TorchValue, TorchValue>, 'research', manifest.cases[`research_${format}.pth`].tensors!, file);
    const args = value.get('args');
    assert.ok(args instanceof OpaqueObject && args.type === 'argparse.Namespace', `${format}: args is ${String(args)}`);
    assert.equal((args.state as Map<string, unknown>).get('arch'), 'resnet');
    assert.equal(value.get('best_acc'), 0.9312);
    assert.equal(value.get('epoch_np'), 12);
    const confusion = value.get('confusion') as Tensor;
    assert.equal(confusion.dtype, 'float32');
    assert.deepEqual(confusion.shape, [2, 3]);
    assert.deepEqual(confusion.toArray(), [0, 1, 2, 3, 4, 5]);
    const fortran = value.get('fortran') as Tensor;
    assert.equal(fortran.dtype, 'int64');
    assert.deepEqual(fortran.shape, [2, 3]);
    assert.deepEqual(fortran.toArray(), [0, 1, 2, 3, 4, 5]);
    const optimizer = value.get('optimizer') as Map<TorchValue, TorchValue>;
    const momentum = ((optimizer.get('state') as Map<TorchValue, TorchValue>).get(0) as Map<TorchValue, TorchValue>).get('momentum_buffer') as Tensor;
    assert.deepEqual(momentum.toArray(), Array.from(Float32Array.from(manifest.cases[`research_${format}.pth`].momentum!)));
    assert.deepEqual(skippedObjects(value), [{ path: 'args', type: 'argparse.Namespace', tensors: 0 }]);
    const warnings: string[] = [];
    assert.equal(loadStateDict(file, { warn: (line) => warnings.push(line) }).size, 7);
    assert.deepEqual(warnings, [`${file}: kept 1 object as an inert placeholder (its class was not run): args (argparse.Namespace)`]);

    const custom = join(dir, `custom_${format}.pth`);
    const holder = loadPth(custom) as Map<TorchValue, TorchValue>;
    assert.ok(holder.get('trainer') instanceof OpaqueObject);
    assert.equal(describeSkipped(skippedObjects(holder)), 'kept 1 object as an inert placeholder (its class was not run): trainer (__main__.Trainer, 7 tensors)');
    assertTypedError(() => loadStateDict(custom), custom, /the tensors are inside an object of class __main__\.Trainer at 'trainer' \(7 tensors\); .* save model\.state_dict\(\)/);
  }
});

test('malicious pickles (os.system in REDUCE) are refused and run nothing', { skip }, () => {
  const evil = join(dir, 'evil.pkl');
  assert.throws(() => unpickle(readFileSync(evil), { source: evil }), (e: Error) => {
    assert.ok(e instanceof UnsafePickleError);
    assert.match(e.message, /^refusing to load global posix\.system \(pickle opcode at byte \d+ of .*evil\.pkl\); only tensors, storages/);
    return true;
  });
  for (const file of ['evil_zip.pth', 'evil_legacy.pth']) {
    assert.throws(() => loadPth(join(dir, file)), (e: Error) => e instanceof UnsafePickleError && /^refusing to call posix\.system \(pickle opcode at byte \d+ of .*: loading would run that function/.test(e.message) && e.message.includes(file));
    assert.throws(() => loadStateDict(join(dir, file)), UnsafePickleError);
  }
  assert.equal(existsSync(manifest.marker), false, 'the payload ran');
});

test('truncated files, oversized lengths and crafted offsets give typed one-line errors', { skip }, () => {
  const zip = readFileSync(join(dir, 'segnet3.pth'));
  const legacy = readFileSync(join(dir, 'segnet1.pth'));
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(scratch, name);
    writeFileSync(p, bytes);
    return p;
  };
  for (const cut of [10, 1000, zip.length / 2, zip.length - 10]) {
    const p = write(`zip-cut-${cut}.pth`, zip.subarray(0, Math.floor(cut)));
    assertTypedError(() => loadPth(p), p);
  }
  for (const cut of [5, 300, legacy.length / 2, legacy.length - 1]) {
    const p = write(`legacy-cut-${cut}.pth`, legacy.subarray(0, Math.floor(cut)));
    assertTypedError(() => loadPth(p), p);
  }
  // The central directory's offset moved past the end of the file.
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const badCd = Buffer.from(zip);
  badCd.writeUInt32LE(zip.length + 100, eocd + 16);
  const p1 = write('bad-cd.pth', badCd);
  assertTypedError(() => loadPth(p1), p1, /central directory .* lies outside/);
  // An entry's local header offset pointing into another entry.
  const cd = zip.readUInt32LE(eocd + 16);
  const badLocal = Buffer.from(zip);
  badLocal.writeUInt32LE(zip.length - 40, cd + 42);
  const p2 = write('bad-local.pth', badLocal);
  assertTypedError(() => loadPth(p2), p2, /local header/);
  // A legacy storage whose 8-byte size prefix claims more than the file holds.
  const bad = Buffer.from(legacy);
  const firstStorage = findLegacyStorageStart(legacy);
  bad.writeBigInt64LE(2n ** 40n, firstStorage);
  const p3 = write('legacy-size.pth', bad);
  assertTypedError(() => loadPth(p3), p3, /holds 1099511627776 elements/);
  // A pickle string that declares 2 GB.
  const huge = Buffer.from([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61, 0x2e]);
  assertTypedError(() => unpickle(huge, { source: 'huge.pkl' }), 'huge.pkl', /needs 2147483647 bytes but only 2 remain/);
  // A zip storage record smaller than the pickle says (numel patched inside data.pkl).
  const text = Buffer.from(zip);
  const at = text.indexOf('cpu') + 3; // BINPUT n, then the numel (BININT1/BININT2)
  const numelAt = text[at] === 0x71 ? at + 2 : at;
  assert.ok(text[numelAt] === 0x4b || text[numelAt] === 0x4d);
  text[numelAt + 1] ^= 0x01;
  const p4 = write('numel.pth', text);
  assertTypedError(() => loadPth(p4), p4, /holds \d+ bytes, the pickle declares \d+/);
  // Not a checkpoint; a TorchScript archive.
  const p5 = write('text.pth', Buffer.from('hello world\n'));
  assertTypedError(() => loadPth(p5), p5, /not a PyTorch checkpoint/);
  assertTypedError(() => loadPth(join(scratch, 'absent.pth')), 'absent.pth', /cannot read \(ENOENT\)/);
});

/** Offset of the first legacy storage record: just after the fifth pickle (the storage keys). */
function findLegacyStorageStart(buf: Buffer): number {
  const referencedOnly = { call: () => null };
  const globals = { 'torch._utils._rebuild_tensor_v2': referencedOnly, 'torch.FloatStorage': {}, 'torch.LongStorage': {} };
  let at = 0;
  for (let i = 0; i < 5; i++) at = unpickleAt(buf, at, { source: 'probe', globals, persistentLoad: () => null }).end;
  return at;
}

test('fuzzing: mutated pickles and checkpoints (a research checkpoint with numpy values and a Namespace among the seeds), random bytes (3000 cases)', () => {
  const research = decodePth(seedFiles().research, 'seed.pth') as Map<TorchValue, TorchValue>;
  assert.deepEqual((research.get('arr') as Tensor).toArray(), [0, 0.5, 1, 1.5, 2, 2.5]);
  assert.equal(research.get('acc'), 0.93);
  assert.deepEqual(skippedObjects(research), [{ path: 'args', type: 'argparse.Namespace', tensors: 0 }]);
  assert.equal(stateDictOf(research).size, 4);
  fuzzPickle(3000);
});

interface ZipMember {
  name: string;
  /** The member's bytes as stored (deflated when method is 8). */
  data: Buffer;
  /** The inflated size the directory declares (zip64 when over 32 bits). */
  size: bigint;
  method: 0 | 8;
}

/** A zip archive of the members, local headers then the central directory (CRCs left 0: the reader does not read them). */
function zipOf(members: ZipMember[]): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const zip64 = m.size >= 0xffffffffn;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(m.method, 8);
    local.writeUInt32LE(m.data.length, 18);
    local.writeUInt16LE(name.length, 26);
    const extra = Buffer.alloc(zip64 ? 12 : 0);
    if (zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(8, 2);
      extra.writeBigUInt64LE(m.size, 4);
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(m.method, 10);
    central.writeUInt32LE(m.data.length, 20);
    central.writeUInt32LE(zip64 ? 0xffffffff : Number(m.size), 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(offset, 42);
    directory.push(central, name, extra);
    parts.push(local, name, m.data);
    offset += local.length + name.length + m.data.length;
  }
  const cd = Buffer.concat(directory);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, eocd]);
}

/** A one-entry zip archive whose deflated entry `archive/data.pkl` declares `declared` inflated bytes. */
const zipDeclaring = (declared: bigint) => zipOf([{ name: 'archive/data.pkl', data: Buffer.from([0x03, 0x00]), size: declared, method: 8 }]);

/**
 * A raw deflate stream of `mib` MiB of zeros, about 1 KB per MiB (a real zip bomb's payload):
 * after a full flush deflate emits the same bytes for every further MiB of zeros, so one such
 * block is repeated rather than deflating the whole size.
 */
async function zerosDeflated(mib: number): Promise<Buffer> {
  const d = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  d.on('data', (c: Buffer) => out.push(c));
  const zeros = Buffer.alloc(1 << 20);
  const block = async () => {
    d.write(zeros);
    await new Promise<void>((done) => d.flush(zlibConstants.Z_FULL_FLUSH, () => done()));
    return Buffer.concat(out.splice(0));
  };
  const first = await block();
  const repeated = await block();
  d.end();
  await new Promise((done) => d.on('end', done));
  return Buffer.concat([first, ...Array<Buffer>(mib - 1).fill(repeated), ...out]);
}

/** Peak resident memory of a child process that loads `file` with loadPth, and the error it got. */
function loadInChild(file: string): { message: string | null; maxRssBytes: number } {
  const script = `
    const { loadPth } = await import(${JSON.stringify(pathToFileURL(resolve('dist/src/import/pth.js')).href)});
    let message = null;
    try { loadPth(process.argv[1]); } catch (e) { message = e.message; }
    console.log(JSON.stringify({ message, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a 1 MB zip bomb within deflate ratio is refused before inflating: the process stays small', async () => {
  const payload = await zerosDeflated(1022);
  const declared = 1022n << 20n;
  const bomb = join(scratch, 'bomb-1mb.pth');
  writeFileSync(bomb, zipOf([{ name: 'archive/data.pkl', data: payload, size: declared, method: 8 }]));
  const bytes = statSync(bomb).size;
  assert.ok(bytes < 1.1e6, `${bytes} bytes`);
  const notCheckpoint = join(scratch, 'not-a-checkpoint.pth');
  writeFileSync(notCheckpoint, 'not a checkpoint');
  const baseline = loadInChild(notCheckpoint);
  const refused = loadInChild(bomb);
  assert.equal(
    refused.message,
    `${bomb}: its zip entries declare ${declared} inflated bytes in all from a ${bytes}-byte file, more than a checkpoint may inflate to (8 times its size plus 16 MiB, at most 32 GiB): a zip bomb or a corrupt file`,
  );
  // Reading the 1 MB file is all the refusal costs (inflating it took over 1 GiB).
  const extra = refused.maxRssBytes - baseline.maxRssBytes;
  assert.ok(extra < 64 << 20, `the bomb cost ${(extra / 2 ** 20).toFixed(0)} MiB of resident memory`);
  rmSync(bomb);
});

test('a pickle member larger than a pickle may be is refused before inflating, though the file is large enough', async () => {
  const weights = Buffer.alloc(48 << 20);
  const file = join(scratch, 'big-pickle.pth');
  writeFileSync(file, zipOf([
    { name: 'archive/data.pkl', data: await zerosDeflated(300), size: 300n << 20n, method: 8 },
    { name: 'archive/data/0', data: weights, size: BigInt(weights.length), method: 0 },
  ]));
  assert.throws(() => loadPth(file), { name: 'PthError', message: `${file}: zip entry archive/data.pkl declares ${300 << 20} inflated bytes, more than a checkpoint's pickle may hold (256 MiB): a zip bomb or a corrupt file` });
  rmSync(file);
});

test('a zip bomb (an entry declaring far more bytes than deflate can produce) is refused by name, before inflating', () => {
  for (const [declared, shown] of [[4_000_000_000n, '4000000000'], [1n << 40n, '1099511627776']] as const) {
    const p = join(scratch, `bomb-${shown}.pth`);
    writeFileSync(p, zipDeclaring(declared));
    assert.throws(
      () => loadPth(p),
      (e: Error) => e instanceof PthError && e.message === `${p}: zip entry archive/data.pkl declares ${shown} bytes inflated from 2 compressed bytes, more than deflate can produce (1032:1): a corrupt file or a zip bomb`,
    );
  }
});
