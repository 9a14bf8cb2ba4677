"""PyTorch twin of bench/cpu.ts: the S2SNet toy training step and forward pass, timed on the CPU.

A small SegNet autoencoder (stages [32, 32], [64, 64]; encoder frozen in eval mode) feeds a frozen
classifier in eval mode; only the decoder trains, with Adam (lr 1e-4), on one fixed random batch.
Timing as in bench/cpu.ts: 3 warm-up steps, then ROUNDS rounds of STEPS steps; the median round counts.
The forward pass runs both models in eval mode.
Usage: python3 torch_reference.py THREADS STEPS ROUNDS BATCH  -> prints one JSON line.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

STAGES = [[32, 32], [64, 64]]


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU())


class SegNet(nn.Module):
    def __init__(self, in_channels, stages):
        super().__init__()
        self.encoder = nn.ModuleList()
        cin = in_channels
        for widths in stages:
            layers = []
            for cout in widths:
                layers.append(conv_bn_relu(cin, cout))
                cin = cout
            self.encoder.append(nn.Sequential(*layers))
        # Mirrored decoder: each stage's last layer narrows to the width of the stage below it.
        self.decoder = nn.ModuleList()
        rev = list(reversed(stages))
        for i, widths in enumerate(rev):
            narrow_to = rev[i + 1][-1] if i + 1 < len(rev) else widths[0]
            layers = []
            for j, width in enumerate(widths):
                cout = narrow_to if j == len(widths) - 1 else width
                layers.append(conv_bn_relu(cin, cout))
                cin = cout
            self.decoder.append(nn.Sequential(*layers))
        self.final = nn.Conv2d(cin, in_channels, 1)

    def encode(self, x):
        indices = []
        for stage in self.encoder:
            x = stage(x)
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(idx)
        return x, indices

    def decode(self, code, indices):
        x = code
        for stage, idx in zip(self.decoder, reversed(indices)):
            x = stage(F.max_unpool2d(x, idx, 2, 2))
        return self.final(x)


def classifier():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4096, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    threads, steps, rounds, batch = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ae = SegNet(1, STAGES)
    cls = classifier().eval()
    for p in list(cls.parameters()) + list(ae.encoder.parameters()):
        p.requires_grad_(False)
    ae.encoder.eval()
    opt = torch.optim.Adam([p for p in ae.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randn(batch, 1, 32, 32)
    y = torch.randint(0, 10, (batch,))

    def train_step():
        with torch.no_grad():  # the encoder is frozen: no graph needed through it
            code, indices = ae.encode(x)
        loss = F.cross_entropy(cls(ae.decode(code, indices)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def forward():
        with torch.no_grad():
            cls(ae.decode(*ae.encode(x)))

    def images_per_second(fn):
        for _ in range(3):
            fn()
        rates = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            rates.append(batch * steps / (time.perf_counter() - start))
        return sorted(rates)[rounds // 2]

    train = images_per_second(train_step)
    ae.eval()  # the forward runs both models in eval mode, as reconstructions do
    fwd = images_per_second(forward)
    print(json.dumps({'engine': f'pytorch {torch.__version__}', 'threads': torch.get_num_threads(), 'train_img_s': train, 'forward_img_s': fwd}))


if __name__ == '__main__':
    main()
