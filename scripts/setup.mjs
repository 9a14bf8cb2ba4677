#!/usr/bin/env node
// Brings a fresh clone to a runnable state, doing only what is missing:
//   npm dependencies -> libtorch (Debian's libtorch-dev when none is found) -> an optimized BLAS
//   for it -> native addon -> TypeScript -> the viewer's browser bundle.
// `--with-python-torch` also makes sure a Python with PyTorch exists (tests and the benchmark
// compare against it) and ONNX's conformance test data; `--with-browser` installs chromium for the viewer's browser tests;
// `--with-redis` that Debian's redis-server exists (the distributed tests and the scale benchmark
// start their own). Uses Node built-ins only, since it runs before `npm install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const log = (msg) => console.error(`s2snets setup: ${msg}`);

function run(cmd, cmdArgs, opts = {}) {
  execFileSync(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit'], cwd: root, ...opts });
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// Another apt-get (an unattended upgrade, a second setup) may hold dpkg's lock: wait for it
// rather than fail the whole setup.
const APT_LOCK_WAIT = 'DPkg::Lock::Timeout=600';
let aptUpdated = false;
function aptInstall(packages, why) {
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!hasApt || !isRoot()) {
    throw new Error(`${why}. Install it with:  sudo apt-get install ${packages.join(' ')}  (or see README: libtorch)`);
  }
  log(`installing ${packages.join(' ')} with apt-get (${why}; a few minutes, once)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['-o', APT_LOCK_WAIT, 'update', '-qq'], { env });
    aptUpdated = true;
  }
  run('apt-get', ['-o', APT_LOCK_WAIT, 'install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm dependencies');
  // onnxruntime-node is a test oracle only: its bundled CPU binary is enough, skip its downloads.
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
}

async function ensureNative() {
  const build = await import(pathToFileURL(join(root, 'scripts/build-native.mjs')).href);
  let torch;
  try {
    torch = build.findLibtorch();
  } catch (e) {
    if (!(e instanceof build.LibtorchNotFoundError) || process.env.LIBTORCH) throw e;
    aptInstall(['libtorch-dev'], 'libtorch (the compute engine) was not found');
    torch = build.findLibtorch();
  }
  ensureOptimizedBlas();
  ensureOnednnHeaders(torch, build);
  ensureJpegHeaders();
  build.buildNative();
}

// The data loader decodes JPEGs with libjpeg-turbo (native/jpeg.cc): its headers are needed to
// build the addon.
function ensureJpegHeaders() {
  if (existsSync('/usr/include/jpeglib.h') || existsSync('/usr/local/include/jpeglib.h')) return;
  aptInstall(['libjpeg62-turbo-dev'], "libjpeg-turbo's headers (the data loader's JPEG decoder) were not found");
}

// The Winograd convolutions (native/winograd.cc) call the oneDNN that Debian's libtorch links;
// compiling them needs its headers. Without them (no root, no apt) the addon is built without
// them and convolutions run on libtorch's direct kernels.
function ensureOnednnHeaders(torch, build) {
  if (existsSync(build.ONEDNN_HEADER) || !build.linksSystemOnednn(torch.lib)) return;
  try {
    aptInstall(['libdnnl-dev'], "oneDNN's headers (for the Winograd convolutions, 2-3x faster 3x3 convolutions) were not found");
  } catch (e) {
    log(`warning: ${e.message}; building without Winograd convolutions`);
  }
}

// Debian's libtorch (and python3-torch) call BLAS through the libblas.so.3 alternative. With
// only libblas3 installed that is the reference (netlib) BLAS: ResNet-50 forwards ran 17x
// slower than on OpenBLAS. The OpenMP build of OpenBLAS shares libtorch's OpenMP thread pool
// instead of starting threads of its own, and takes over the alternative when installed.
const BLAS_ALTERNATIVES = ['/usr/lib/x86_64-linux-gnu/libblas.so.3', '/usr/lib/aarch64-linux-gnu/libblas.so.3'];
function ensureOptimizedBlas() {
  const link = BLAS_ALTERNATIVES.find((p) => existsSync(p));
  if (!link || !/\/blas\/libblas\.so/.test(realpathSync(link))) return;
  aptInstall(['libopenblas0-openmp'], `the BLAS behind libtorch is the slow reference one (${realpathSync(link)})`);
}

function hasPythonTorch() {
  const python = process.env.PYTHON || '/usr/bin/python3';
  return spawnSync(python, ['-c', 'import torch, torchvision, onnx.checker'], { stdio: 'ignore' }).status === 0;
}

// ONNX's Python package checks the autoencoders s2snets exports (its checker, in the export test).
function ensurePythonTorch() {
  if (hasPythonTorch()) return;
  aptInstall(['python3-torch', 'python3-torchvision', 'python3-onnx'], 'PyTorch and ONNX for Python (references for tests and benchmarks) were not found');
}

// The ONNX importer's conformance test runs ONNX's own test data (Debian's libonnx-testdata); a
// machine that cannot install it still runs everything else, and that test says it was skipped.
function ensureOnnxTestData() {
  if (existsSync('/usr/share/libonnx-testdata/data')) return;
  try {
    aptInstall(['libonnx-testdata'], "ONNX's conformance test data (for the importer's conformance test) was not found");
  } catch (e) {
    log(`warning: ${e.message}; the ONNX conformance test will be skipped`);
  }
}

// Only tests and benchmarks need a Redis server (they start a private one); a machine that cannot
// install it still runs everything else, and those tests say they were skipped and why.
function ensureRedisServer() {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0) return;
  try {
    aptInstall(['redis-server'], 'redis-server (for the distributed tests) was not found');
  } catch (e) {
    log(`warning: ${e.message}; the Redis tests will be skipped`);
  }
}

function ensureTypeScript() {
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')]);
}

async function ensureViewer() {
  const { buildWeb } = await import(pathToFileURL(join(root, 'scripts/build-web.mjs')).href);
  await buildWeb();
}

// The viewer's browser tests drive Debian's chromium. Without it (no root, no apt) setup goes on
// and those tests say they were skipped and why.
const CHROMIUM = '/usr/bin/chromium';
function ensureBrowser() {
  if (existsSync(CHROMIUM)) return;
  try {
    aptInstall(['chromium'], 'chromium (for the viewer\'s browser tests) was not found');
  } catch (e) {
    log(`warning: ${e.message}; the browser tests will be skipped`);
  }
}

try {
  ensureNodeModules();
  await ensureNative();
  if (args.has('--with-python-torch')) {
    ensurePythonTorch();
    ensureOnnxTestData();
  }
  if (args.has('--with-redis')) ensureRedisServer();
  if (args.has('--with-browser')) ensureBrowser();
  ensureTypeScript();
  await ensureViewer();
} catch (e) {
  log(`failed: ${e.message}`);
  process.exit(1);
}
