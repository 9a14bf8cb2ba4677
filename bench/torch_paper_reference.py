"""PyTorch reference for bench/paper.ts: the S2SNet decoder fine-tune step written as a plain
PyTorch training loop (frozen encoder run under no_grad, frozen eval-mode classifier, Adam on the
decoder), then the forward pass a user evaluates with (reconstruct and classify, both models in eval
mode, under no_grad), on the same models, batch sizes and precisions as our benchmark.

  python3 bench/torch_paper_reference.py export DIR [MODELS]
      writes torchvision vgg16 / resnet50 / alexnet / mobilenet_v2 / inception_v3 (random weights, eval
      mode; inception_v3 at 299 px), or the
      comma-separated MODELS among them, as DIR/<name>.onnx
  python3 bench/torch_paper_reference.py forward THREADS MODELS BATCHES ROUNDS
      forward passes of the same models (weights from the same seed) under no_grad; one JSON line per
      model and batch: the median of ROUNDS timed passes after one warm-up pass
  python3 bench/torch_paper_reference.py bench DEVICE ROWS STEPS [SIZE] [BATCH]
      ROWS: comma-separated names from ROWS below; prints one JSON line per row
"""
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

# The same SegNet and toy classifier as the CPU reference (bench/torch_reference.py).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import SegNet, classifier  # noqa: E402

VGG16_STAGES = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
SMALL_STAGES = [[32, 32], [64, 64]]

# name: (workload, classifier, batch, autocast dtype or None); same table as bench/paper.ts.
ROWS = {
    'toy': ('toy', 'small-cnn', 32, None),
    'vgg16': ('paper', 'vgg16', 16, None),
    'resnet50': ('paper', 'resnet50', 16, None),
    'vgg16-bf16': ('paper', 'vgg16', 64, torch.bfloat16),
    'resnet50-bf16': ('paper', 'resnet50', 64, torch.bfloat16),
    'alexnet-bf16': ('paper', 'alexnet', 64, torch.bfloat16),
}


EXPORTED = ['vgg16', 'resnet50', 'alexnet', 'mobilenet_v2', 'inception_v3']
# The input side each export is traced at (Inception v3 is trained at 299 px, the others at 224).
INPUT_SIDE = {'inception_v3': 299}


def torchvision_classifier(name):
    import torchvision
    return getattr(torchvision.models, name)(weights=None)


def export(out_dir, names):
    unknown = [n for n in names if n not in EXPORTED]
    if unknown:
        sys.exit(f'cannot export {", ".join(unknown)}: the exported models are {", ".join(EXPORTED)}')
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        torch.manual_seed(0)
        model = torchvision_classifier(name).eval()
        side = INPUT_SIDE.get(name, 224)
        kwargs = dict(input_names=['input'], output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
                      opset_version=17, do_constant_folding=True)
        path = os.path.join(out_dir, f'{name}.onnx')
        # Written aside and renamed: an interrupted export must not pass for a finished one.
        part = f'{path}.part'
        try:
            torch.onnx.export(model, torch.randn(1, 3, side, side), part, dynamo=False, **kwargs)
        except TypeError:  # PyTorch before 2.5 has no `dynamo` argument
            torch.onnx.export(model, torch.randn(1, 3, side, side), part, **kwargs)
        os.replace(part, path)
        print(f'exported {path} ({os.path.getsize(path) / 2**20:.0f} MiB)', flush=True)


def gpu_process_mib():
    """This process's memory on the GPU as nvidia-smi reports it (allocator cache and context), or None."""
    try:
        out = subprocess.run(['nvidia-smi', '--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        pid, mib = (s.strip() for s in line.split(','))
        if pid == str(os.getpid()):
            return int(mib)
    return None


def bench_row(row, device, steps, size_override, batch_override):
    workload, cls_name, batch, amp = ROWS[row]
    batch = batch_override or batch
    torch.manual_seed(0)
    if workload == 'toy':
        ae, cls, channels, size, classes = SegNet(1, SMALL_STAGES), classifier(), 1, 32, 10
    else:
        ae, cls, channels, size, classes = SegNet(3, VGG16_STAGES), torchvision_classifier(cls_name), 3, 224, 1000
    size = size_override or size
    ae, cls = ae.to(device), cls.to(device).eval()
    for p in list(cls.parameters()) + list(ae.encoder.parameters()):
        p.requires_grad_(False)
    ae.encoder.eval()
    optimizer = torch.optim.Adam([p for p in ae.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randn(batch, channels, size, size, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    precision = (lambda: torch.autocast(device, dtype=amp)) if amp else (lambda: torch.autocast(device, enabled=False))

    def train_step():
        with precision():
            with torch.no_grad():
                code, indices = ae.encode(x)
            loss = F.cross_entropy(cls(ae.decode(code, indices)).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def forward():  # reconstruct, then classify, as a user evaluates: eval mode, no_grad
        with torch.no_grad(), precision():
            cls(ae.decode(*ae.encode(x)))

    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)

    def images_per_second(fn):
        for _ in range(3):
            fn()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        return batch * steps / (time.perf_counter() - start)

    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    train = images_per_second(train_step)
    ae.eval()
    fwd = images_per_second(forward)
    result = {
        'engine': f'pytorch {torch.__version__}', 'row': row, 'batch': batch, 'size': size,
        'precision': 'bf16 autocast' if amp else 'fp32', 'train_img_s': float(f'{train:.3g}'), 'forward_img_s': float(f'{fwd:.3g}'),
        'decoder_params': sum(p.numel() for p in ae.decoder.parameters()) + sum(p.numel() for p in ae.final.parameters()),
        'peak_allocated_mib': round(torch.cuda.max_memory_allocated() / 2**20) if device == 'cuda' else None,
        'process_gpu_mib': gpu_process_mib() if device == 'cuda' else None,
    }
    print(json.dumps(result), flush=True)


def forward_bench(threads, models, batches, rounds):
    torch.set_num_threads(threads)
    for name in models:
        torch.manual_seed(0)
        model = torchvision_classifier(name).eval()
        for batch in batches:
            x = torch.randn(batch, 3, 224, 224)
            times = []
            with torch.no_grad():
                model(x)
                for _ in range(rounds):
                    start = time.perf_counter()
                    model(x)
                    times.append(time.perf_counter() - start)
            ms = sorted(times)[rounds // 2] * 1000
            print(json.dumps({'engine': f'pytorch {torch.__version__}', 'model': name, 'batch': batch, 'ms': round(ms, 1)}), flush=True)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'export':
        export(sys.argv[2], sys.argv[3].split(',') if len(sys.argv) > 3 else EXPORTED)
        return
    if len(sys.argv) == 6 and sys.argv[1] == 'forward':
        forward_bench(int(sys.argv[2]), sys.argv[3].split(','), [int(b) for b in sys.argv[4].split(',')], int(sys.argv[5]))
        return
    if len(sys.argv) < 5 or sys.argv[1] != 'bench':
        sys.exit(__doc__)
    device, rows, steps = sys.argv[2], sys.argv[3].split(','), int(sys.argv[4])
    size = int(sys.argv[5]) if len(sys.argv) > 5 and int(sys.argv[5]) > 0 else None
    batch = int(sys.argv[6]) if len(sys.argv) > 6 and int(sys.argv[6]) > 0 else None
    torch.backends.cudnn.benchmark = True
    for row in rows:
        try:
            bench_row(row, device, steps, size, batch)
        except Exception as e:  # one failing row must not hide the others
            print(json.dumps({'engine': 'pytorch', 'row': row, 'error': repr(e)[:300]}), flush=True)
        if device == 'cuda':
            torch.cuda.empty_cache()


if __name__ == '__main__':
    main()
