// Winograd convolutions (native/winograd.cc): for every convolution they take, the output and
// the gradients equal the direct convolution's up to rounding; every other convolution is
// aten's own, bit for bit; and a training run on them follows one on direct convolutions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { F, autocast, engineInfo, grad, keep, manualSeed, randn, setWinograd, tidy, type Tensor } from '../../src/engine/index.js';
import { Adam } from '../../src/nn/index.js';
import { SegNet, SMALL_STAGES } from '../../src/models/segnet.js';

// The build script (plain JavaScript, outside the compiled tree) decides whether the addon gets them.
const buildScript = new URL('../../../scripts/build-native.mjs', import.meta.url).href;
const { findLibtorch, linksSystemOnednn } = (await import(buildScript)) as { findLibtorch: () => { lib: string }; linksSystemOnednn: (lib: string) => boolean };

const { built, cpu, enabled: initially } = engineInfo().winograd;
const skip = initially ? false : cpu ? 'S2SNETS_WINOGRAD=0 turned them off' : built ? 'this CPU has no Winograd kernels (oneDNN has them for AVX-512 only)' : 'this build has no Winograd convolutions (libtorch without the shared oneDNN, or no libdnnl-dev)';

test('the addon has Winograd convolutions wherever libtorch links the shared oneDNN and its headers are installed, and runs them on AVX-512 CPUs', () => {
  const expected = linksSystemOnednn(findLibtorch().lib) && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
  assert.equal(built, expected);
  // oneDNN's Winograd kernels need AVX-512 F, BW, VL and DQ ("avx512_core").
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim().split(/\s+/) ?? []);
  assert.equal(cpu, built && ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) => flags.has(f)));
  assert.equal(initially, cpu && process.env.S2SNETS_WINOGRAD !== '0');
});

interface Case {
  batch: number;
  inChannels: number;
  outChannels: number;
  size: number;
  padding: number;
  bias: boolean;
  channelsLast: boolean;
}

/** Output and every gradient of one convolution, with Winograd on or off. */
function convolve(c: Case, winograd: boolean, seed = 1): { algorithm: string; results: Tensor[] } {
  setWinograd(winograd);
  try {
    return tidy(() => {
      manualSeed(seed);
      const x = randn([c.batch, c.inChannels, c.size, c.size]).contiguous(c.channelsLast ? 'channels_last' : 'contiguous').requiresGrad_(true);
      const w = randn([c.outChannels, c.inChannels, 3, 3]).mul(1 / Math.sqrt(9 * c.inChannels)).requiresGrad_(true);
      const b = c.bias ? randn([c.outChannels]).requiresGrad_(true) : null;
      const y = F.conv2d(x, w, b, { padding: c.padding });
      const upstream = randn(y.shape);
      const grads = grad([y.mul(upstream).sum()], b ? [x, w, b] : [x, w]);
      return { algorithm: F.conv2dAlgorithm(x, w, b, { padding: c.padding }), results: [y, ...grads].map((t) => keep(t!)) };
    });
  } finally {
    setWinograd(initially);
  }
}

/** Largest elementwise difference, relative to the largest magnitude of the reference. */
const relativeError = (got: Tensor, want: Tensor) => tidy(() => got.sub(want).abs().max().item() / want.abs().max().item());

test('Winograd convolutions equal direct ones up to rounding: output, input, weight and bias gradients', { skip }, () => {
  const cases: Case[] = [
    { batch: 2, inChannels: 64, outChannels: 64, size: 28, padding: 1, bias: true, channelsLast: false },
    { batch: 2, inChannels: 32, outChannels: 64, size: 17, padding: 1, bias: false, channelsLast: true },
    { batch: 3, inChannels: 16, outChannels: 48, size: 9, padding: 0, bias: true, channelsLast: true },
    { batch: 1, inChannels: 128, outChannels: 16, size: 4, padding: 1, bias: true, channelsLast: false },
  ];
  for (const c of cases) {
    const wino = convolve(c, true);
    const direct = convolve(c, false);
    assert.equal(wino.algorithm, 'winograd', JSON.stringify(c));
    assert.equal(direct.algorithm, 'direct');
    ['output', 'input gradient', 'weight gradient', 'bias gradient'].slice(0, wino.results.length).forEach((what, i) => {
      assert.deepEqual(wino.results[i].shape, direct.results[i].shape);
      const error = relativeError(wino.results[i], direct.results[i]);
      // Direct and Winograd float32 results differ by about 1e-6 of the largest value; a wrong
      // padding, flip or transposition would differ by order 1.
      assert.ok(error < 2e-5, `${what} of ${JSON.stringify(c)}: ${error.toExponential(2)} from the direct convolution`);
    });
    // The output and the input gradient keep the input's memory format, as aten's convolution does.
    for (const t of wino.results.slice(0, 2)) assert.equal(t.stride(c.channelsLast ? 1 : 3), 1, `layout of ${JSON.stringify(c)}`);
    [...wino.results, ...direct.results].forEach((t) => t.dispose());
  }
});

test('Winograd results are deterministic: the same convolution twice is bit-identical', { skip }, () => {
  const c: Case = { batch: 2, inChannels: 32, outChannels: 32, size: 20, padding: 1, bias: true, channelsLast: true };
  const [first, second] = [convolve(c, true), convolve(c, true)];
  first.results.forEach((t, i) => assert.equal(tidy(() => t.sub(second.results[i]).abs().max().item()), 0));
  [...first.results, ...second.results].forEach((t) => t.dispose());
});

test('convolutions the Winograd kernels do not take are aten conv2d, bit for bit', { skip }, () => {
  manualSeed(3);
  const x16 = keep(randn([2, 16, 12, 12]));
  const others: [string, Tensor, Tensor, F.Conv2dOptions][] = [
    ['3 input channels', randn([2, 3, 12, 12]), randn([16, 3, 3, 3]), { padding: 1 }],
    ['stride 2', x16, randn([16, 16, 3, 3]), { stride: 2, padding: 1 }],
    ['5x5 kernel', x16, randn([16, 16, 5, 5]), { padding: 2 }],
    ['groups', x16, randn([16, 8, 3, 3]), { groups: 2, padding: 1 }],
    ['dilation', x16, randn([16, 16, 3, 3]), { dilation: 2, padding: 2 }],
    ['float64', x16.to({ dtype: 'float64' }), randn([16, 16, 3, 3], { dtype: 'float64' }), { padding: 1 }],
    ['unequal padding', x16, randn([16, 16, 3, 3]), { padding: [1, 0] }],
  ];
  for (const [name, x, w, o] of others) {
    assert.equal(F.conv2dAlgorithm(x, w, null, o), 'direct', name);
    const ours = F.conv2d(x, w, null, o);
    setWinograd(false);
    const aten = F.conv2d(x, w, null, o);
    setWinograd(true);
    assert.equal(tidy(() => ours.sub(aten).abs().max().item()), 0, name);
  }
  // Under bfloat16 autocast aten casts the operands; the Winograd kernels are float32 only.
  const w = randn([16, 16, 3, 3]);
  assert.equal(autocast('cpu', 'bfloat16', () => F.conv2dAlgorithm(x16, w, null, { padding: 1 })), 'direct');
  assert.equal(autocast('cpu', 'bfloat16', () => F.conv2d(x16, w, null, { padding: 1 })).dtype, 'bfloat16');
  x16.dispose();
});

test('only the gradients autograd asks for are computed: a frozen layer passes its input gradient, a first layer trains its weights', { skip }, () => {
  manualSeed(4);
  const x = randn([2, 16, 10, 10]);
  const w = randn([32, 16, 3, 3]);
  const frozenInput = x.detach().requiresGrad_(true);
  const [gx] = grad([F.conv2d(frozenInput, w, null, { padding: 1 }).sum()], [frozenInput]);
  const trainedWeight = w.detach().requiresGrad_(true);
  const [gw] = grad([F.conv2d(x, trainedWeight, null, { padding: 1 }).sum()], [trainedWeight]);
  setWinograd(false);
  const [gxDirect] = grad([F.conv2d(frozenInput, w, null, { padding: 1 }).sum()], [frozenInput]);
  const [gwDirect] = grad([F.conv2d(x, trainedWeight, null, { padding: 1 }).sum()], [trainedWeight]);
  setWinograd(true);
  assert.ok(relativeError(gx!, gxDirect!) < 2e-5);
  assert.ok(relativeError(gw!, gwDirect!) < 2e-5);
});

test('gradients of gradients (createGraph) through a Winograd convolution equal the direct ones', { skip }, () => {
  // A gradient penalty differentiates the input gradient again: the first backward must then be
  // differentiable, which aten's is and raw oneDNN's is not.
  const secondOrder = (winograd: boolean) => {
    setWinograd(winograd);
    try {
      return tidy(() => {
        manualSeed(6);
        const x = randn([2, 16, 8, 8]).requiresGrad_(true);
        const w = randn([16, 16, 3, 3]).mul(0.1).requiresGrad_(true);
        const b = randn([16]).requiresGrad_(true);
        const y = F.conv2d(x, w, b, { padding: 1 });
        const [gx] = grad([y.pow(2).sum()], [x], { createGraph: true });
        const [gw, gb] = grad([gx!.pow(2).sum()], [w, b]);
        return [gw!, gb!].map((t) => keep(t));
      });
    } finally {
      setWinograd(initially);
    }
  };
  const [wino, direct] = [secondOrder(true), secondOrder(false)];
  wino.forEach((t, i) => assert.ok(relativeError(t, direct[i]) < 2e-5, `second-order gradient ${i}: ${relativeError(t, direct[i]).toExponential(2)}`));
  [...wino, ...direct].forEach((t) => t.dispose());
});

test('a SegNet trained on Winograd convolutions follows the training on direct ones as closely as another rounding does', { skip }, () => {
  // Adam amplifies rounding: its steps are gradient / sqrt(second moment), so a gradient
  // component near zero may change sign. The direct kernels in channels_last layout, another
  // order of the same sums, show how far rounding alone moves the loss curve.
  const curve = (winograd: boolean, channelsLast: boolean) => {
    setWinograd(winograd);
    try {
      manualSeed(9);
      const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
      if (channelsLast) ae.to({ memoryFormat: 'channels_last' });
      const images = keep(randn([16, 1, 32, 32]).sigmoid());
      const optimizer = new Adam(ae.trainableParameters(), { lr: 1e-3 });
      const losses: number[] = [];
      for (let step = 0; step < 30; step++) {
        losses.push(
          tidy(() => {
            const loss = ae.forward(images).sub(images).pow(2).mean();
            optimizer.zeroGrad();
            loss.backward();
            optimizer.step();
            return loss.item();
          }),
        );
      }
      images.dispose();
      return losses;
    } finally {
      setWinograd(initially);
    }
  };
  const direct = curve(false, false);
  const apart = (losses: number[]) => losses.map((l, i) => Math.abs(l - direct[i]) / direct[i]);
  const wino = apart(curve(true, false));
  const otherRounding = apart(curve(false, true));
  assert.ok(direct[29] < 0.2 * direct[0], `the loss falls (${direct[0]} -> ${direct[29]})`);
  assert.ok(wino[1] < 1e-5, `after one update the losses are ${wino[1].toExponential(2)} apart`);
  const [worst, reference] = [Math.max(...wino), Math.max(...otherRounding)];
  assert.ok(worst <= 3 * reference + 1e-3, `Winograd moves the loss curve by up to ${worst.toExponential(2)}, channels_last by ${reference.toExponential(2)}`);
});

test('S2SNETS_WINOGRAD=0 starts a process with direct convolutions', { skip }, () => {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(engine)}); console.log(JSON.stringify(m.engineInfo().winograd));`], {
    env: { ...process.env, S2SNETS_WINOGRAD: '0' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { built: true, cpu: true, enabled: false });
});
