#!/usr/bin/env node
// Builds native/addon.cc and native/jpeg.cc (and native/winograd.cc where it applies) into build/s2snets.node
// against the first libtorch found:
//   1. $LIBTORCH (a directory with include/ and lib/)
//   2. the `torch` package of an available Python ($PYTHON, python3, /usr/bin/python3)
//   3. the system (Debian/Ubuntu libtorch-dev: /usr/include/torch, /usr/lib/<triplet>/libtorch.so)
// One g++ call, no node-gyp: the same command works wherever Node's headers and a C++17
// compiler exist. Rebuilds only when the source, the libtorch or the flags changed.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const buildDir = join(root, 'build');
const output = join(buildDir, 's2snets.node');
const stampFile = join(buildDir, 'build-stamp.json');

export class LibtorchNotFoundError extends Error {}

function tryPythonTorch(python) {
  const r = spawnSync(python, ['-c', 'import torch, os; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [dir, abi] = r.stdout.trim().split('\n');
  if (!existsSync(join(dir, 'include', 'torch')) || !existsSync(join(dir, 'lib'))) return null;
  return { source: `python torch (${python})`, include: [join(dir, 'include'), join(dir, 'include/torch/csrc/api/include')], lib: join(dir, 'lib'), abi: Number(abi) };
}

function systemLibtorch() {
  const include = '/usr/include';
  if (!existsSync(join(include, 'torch/csrc/api/include/torch/torch.h'))) return null;
  for (const lib of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    if (existsSync(join(lib, 'libtorch.so'))) {
      return { source: 'system (libtorch-dev)', include: [include, join(include, 'torch/csrc/api/include')], lib, abi: 1 };
    }
  }
  return null;
}

export function findLibtorch() {
  if (process.env.LIBTORCH) {
    const dir = resolve(process.env.LIBTORCH);
    if (!existsSync(join(dir, 'include')) || !existsSync(join(dir, 'lib'))) {
      throw new LibtorchNotFoundError(`LIBTORCH=${dir} has no include/ and lib/ directories`);
    }
    const abiFile = join(dir, 'share/cmake/Torch/TorchConfig.cmake');
    const abi = existsSync(abiFile) && /D_GLIBCXX_USE_CXX11_ABI=0/.test(readFileSync(abiFile, 'utf8')) ? 0 : 1;
    return { source: `LIBTORCH (${dir})`, include: [join(dir, 'include'), join(dir, 'include/torch/csrc/api/include')], lib: join(dir, 'lib'), abi };
  }
  const pythons = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  for (const py of pythons) {
    const found = tryPythonTorch(py);
    if (found) return found;
  }
  const sys = systemLibtorch();
  if (sys) return sys;
  throw new LibtorchNotFoundError(
    'libtorch was not found. Install one of:\n' +
      '  - Debian/Ubuntu: apt-get install libtorch-dev   (CPU, the default here)\n' +
      '  - PyTorch for Python: pip install torch          (then rerun; CUDA builds work too)\n' +
      '  - or set LIBTORCH to an unpacked libtorch directory (with include/ and lib/)',
  );
}

function nodeHeaders() {
  const candidates = [];
  try {
    candidates.push(require('node-api-headers').include_dir);
  } catch {}
  candidates.push(join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node');
  const found = candidates.find((d) => d && existsSync(join(d, 'node_api.h')));
  if (!found) throw new Error('Node-API headers (node_api.h) not found; install the npm package node-api-headers');
  return found;
}

function hasCuda(lib) {
  return readdirSync(lib).some((f) => f.startsWith('libtorch_cuda.so'));
}

// native/winograd.cc calls oneDNN directly. It is built in only where libtorch links the system's
// shared oneDNN (Debian's libtorch-dev does; PyTorch wheels carry a private copy) and oneDNN's
// headers are installed (libdnnl-dev), so that the process holds one oneDNN.
export const ONEDNN_HEADER = '/usr/include/oneapi/dnnl/dnnl.hpp';
export function linksSystemOnednn(lib) {
  const torchCpu = join(lib, 'libtorch_cpu.so');
  if (!existsSync(torchCpu)) return false;
  const r = spawnSync('readelf', ['-d', realpathSync(torchCpu)], { encoding: 'utf8' });
  return r.status === 0 && /NEEDED.*\[libdnnl\.so/.test(r.stdout);
}

export function buildNative({ force = false, quiet = false } = {}) {
  const torch = findLibtorch();
  const cuda = hasCuda(torch.lib);
  const addonApi = require('node-addon-api').include_dir ?? require('node-addon-api').include.replace(/"/g, '');
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10', '-ljpeg'];
  if (cuda) libs.push('-ltorch_cuda', '-lc10_cuda');
  const winograd = linksSystemOnednn(torch.lib) && existsSync(ONEDNN_HEADER);
  const sources = ['native/addon.cc', 'native/jpeg.cc', ...(winograd ? ['native/winograd.cc'] : [])];
  if (winograd) libs.push('-ldnnl');
  const args = [
    '-std=c++17', '-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-w',
    `-D_GLIBCXX_USE_CXX11_ABI=${torch.abi}`, '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    `-I${nodeHeaders()}`, `-I${addonApi}`, ...torch.include.map((d) => `-I${d}`),
    ...sources.map((f) => join(root, f)), '-o', `${output}.tmp`,
    // --no-as-needed keeps libtorch_cuda linked even though no symbol of it is referenced directly.
    '-Wl,--no-as-needed', `-L${torch.lib}`, ...libs, `-Wl,-rpath,${torch.lib}`,
  ];
  const hash = createHash('sha256');
  for (const f of sources) hash.update(readFileSync(join(root, f)));
  const stamp = hash
    .update(JSON.stringify(args))
    .update(process.versions.node)
    .digest('hex');
  if (!force && existsSync(output) && existsSync(stampFile) && JSON.parse(readFileSync(stampFile, 'utf8')).stamp === stamp) {
    return { torch, cuda, winograd, built: false };
  }
  mkdirSync(buildDir, { recursive: true });
  if (!quiet) console.error(`s2snets: building the native addon against ${torch.source}${cuda ? ' with CUDA' : ''}${winograd ? ' with Winograd convolutions' : ''} (about 30 s)...`);
  execFileSync(process.env.CXX || 'g++', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(`${output}.tmp`, output);
  writeFileSync(stampFile, JSON.stringify({ stamp, torch: torch.source, cuda, winograd }, null, 2));
  return { torch, cuda, winograd, built: true };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const r = buildNative({ force: process.argv.includes('--force') });
    console.error(`s2snets: native addon ${r.built ? 'built' : 'up to date'} (${r.torch.source}${r.cuda ? ', CUDA' : ''})`);
  } catch (e) {
    console.error(`s2snets: ${e.message}`);
    process.exit(1);
  }
}
