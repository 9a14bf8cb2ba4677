#!/usr/bin/env bash
# The GPU benchmark in two halves.
#
#   bench/gpu.sh pack        on a machine with Node.js and npm dependencies (this checkout):
#                            compiles TypeScript into dist/ and packs the Node.js binary and the
#                            few packages the benchmark needs into .devnode/ (git-ignored).
#   bench/gpu.sh [ARGS...]   on the GPU machine (Python with a CUDA PyTorch, g++, no Node.js,
#                            no network), from the package root, with dist/ and .devnode/ copied
#                            there: unpacks Node.js, builds the addon against PyTorch's bundled
#                            libtorch (CUDA), runs the speed tests, exports torchvision models to
#                            ONNX and runs dist/bench/paper.js (ARGS go to it; default: every row,
#                            --check and a 10,000-step flat-memory run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Runtime packages of the benchmark (and the addon build); everything else stays home.
PACKAGES=(node-addon-api node-api-headers protobufjs long)

if [[ "${1:-}" == pack ]]; then
  node_modules/.bin/tsc -p tsconfig.json
  mkdir -p .devnode
  xz -T2 -6 -c "$(command -v node)" > .devnode/node.xz
  tar cf - "${PACKAGES[@]/#/node_modules/}" | xz -T2 > .devnode/node_modules.tar.xz
  du -sh .devnode dist
  echo "packed: carry .devnode and dist; run: bash bench/gpu.sh"
  exit 0
fi

for needed in .devnode/node.xz .devnode/node_modules.tar.xz dist/bench/paper.js; do
  [[ -e "$needed" ]] || { echo "gpu.sh: $needed is missing; run 'bench/gpu.sh pack' first and carry .devnode and dist" >&2; exit 1; }
done
work="$(mktemp -d)"
mkdir -p "$work/bin"
xz -dc .devnode/node.xz > "$work/bin/node" && chmod +x "$work/bin/node"
export PATH="$work/bin:$PATH"
tar xJf .devnode/node_modules.tar.xz
export PYTHON="${PYTHON:-$(command -v python3)}"
echo "== node $(node --version), $("$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)')"

echo "== build the native addon"
time node scripts/build-native.mjs

echo "== speed and folding tests (CPU)"
time node --test --test-concurrency=1 dist/test/nn/fuse.test.js dist/test/train/speed.test.js 2>&1 | grep -E '^(not )?ok|^# (pass|fail)' || true

echo "== export torchvision classifiers to ONNX"
time "$PYTHON" bench/torch_paper_reference.py export "$work/onnx"

echo "== benchmark"
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(--check --flat-memory 10000)
time node dist/bench/paper.js --onnx-dir "$work/onnx" "${args[@]}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
