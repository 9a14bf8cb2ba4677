// The engine names the BLAS, oneDNN use and vector ISA it runs on: results record them as
// provenance, and `doctor` warns about the slow reference BLAS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { DeviceError, engineInfo, resolveDevice } from '../../src/engine/index.js';
import { describeBlas } from '../../src/engine/runtime.js';

test('describeBlas names OpenBLAS with its version and threading, and the reference BLAS by its path', () => {
  const openblas = describeBlas({ library: '/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3', openblasConfig: 'OpenBLAS 0.3.21  DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64', openblasCore: 'Cooperlake', openblasParallel: 2 });
  assert.deepEqual([openblas.kind, openblas.version, openblas.description], ['openblas', '0.3.21', 'OpenBLAS 0.3.21 (OpenMP, core Cooperlake)']);
  const reference = describeBlas({ library: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0' });
  assert.equal(reference.kind, 'reference');
  assert.match(reference.description, /reference BLAS \(netlib, slow/);
  assert.equal(describeBlas({ library: '/opt/intel/lib/libmkl_rt.so.2' }).kind, 'mkl');
  assert.equal(describeBlas({}).kind, 'unknown');
});

test('engineInfo reports the BLAS that the libblas.so.3 alternative points to', () => {
  const info = engineInfo();
  assert.match(info.cpuCapability, /^(DEFAULT|AVX2|AVX512|VSX|ZVECTOR|NEON|\w+)$/);
  assert.notEqual(info.cpuCapability, 'unknown');
  const link = ['/usr/lib/x86_64-linux-gnu/libblas.so.3', '/usr/lib/aarch64-linux-gnu/libblas.so.3'].find((p) => existsSync(p));
  if (info.blas.library && link && info.blas.library.startsWith('/usr/')) {
    // Debian's libtorch: the process must run the BLAS the system alternative selects.
    assert.equal(info.blas.library, realpathSync(link));
    assert.equal(info.blas.kind, /openblas/.test(realpathSync(link)) ? 'openblas' : info.blas.kind);
  }
});

test('libgomp runs with a passive wait policy unless the user set one or a spin count (it reads them once, when libtorch loads)', () => {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const policyLibgompRead = (userPolicy: string | undefined, spinCount?: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_DISPLAY_ENV: 'TRUE' };
    delete env.OMP_WAIT_POLICY;
    delete env.GOMP_SPINCOUNT;
    if (userPolicy !== undefined) env.OMP_WAIT_POLICY = userPolicy;
    if (spinCount !== undefined) env.GOMP_SPINCOUNT = spinCount;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(engine)}); console.log(m.engineInfo().ompWaitPolicy);`], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // libgomp prints the settings it took (OMP_DISPLAY_ENV) to stderr.
    return { libgomp: /OMP_WAIT_POLICY = '(\w+)'/.exec(r.stderr)?.[1], reported: r.stdout.trim() };
  };
  assert.deepEqual(policyLibgompRead(undefined), { libgomp: 'PASSIVE', reported: 'PASSIVE' });
  assert.deepEqual(policyLibgompRead('ACTIVE'), { libgomp: 'ACTIVE', reported: 'ACTIVE' });
  // A spin count alone keeps OpenMP's own policy (libgomp shows it as PASSIVE, but spins that long first).
  const spinning = policyLibgompRead(undefined, '300000');
  assert.equal(spinning.reported, 'OpenMP default (GOMP_SPINCOUNT=300000)');
});

test("engineInfo names cuDNN's version only where CUDA is, and reports libtorch's TF32 switches (both PyTorch defaults: on for convolutions, off for matrix products)", () => {
  const info = engineInfo();
  if (info.cudnn) assert.ok(info.cudnnVersion !== null && info.cudnnVersion >= 7000, `cuDNN version ${info.cudnnVersion}`);
  else assert.equal(info.cudnnVersion, null);
  assert.deepEqual(info.tf32, { convolutions: true, matmul: false });
});

test('resolveDevice refuses a device it does not know, and cuda without CUDA, with DeviceError', () => {
  assert.throws(() => resolveDevice('tpu'), (e: unknown) => e instanceof DeviceError && e.code === 'S2SNETS_DEVICE' && /use cpu, cuda, cuda:N or auto/.test(e.message));
  if (!engineInfo().cuda) assert.throws(() => resolveDevice('cuda:0'), (e: unknown) => e instanceof DeviceError && /no usable CUDA/.test(e.message));
  assert.equal(resolveDevice('cpu'), 'cpu');
});
