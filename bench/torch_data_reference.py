"""torchvision's loader on the same folder as bench/data.ts: ImageFolder + DataLoader with
`workers` worker processes (kept between epochs) and the classification reference recipe's
transforms, ending as it does in PILToTensor, ConvertImageDtype(float) and Normalize(ImageNet mean
and std) inside the workers: normalized float batches, what s2snets' sampler hands a CPU training
step. Two epochs; the second is timed, the first warms the workers, caches and allocators
(s2snets' side is timed the same way).

    python3 bench/torch_data_reference.py ROOT WORKERS BATCH VIEW SIZE RESIZE
prints one JSON line: {"view": ..., "images": N, "seconds": S} (the second epoch).
"""
import json
import sys
import time

import torch
from torchvision import datasets, transforms


def main():
    root, workers, batch, view, size, resize = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    to_float = [transforms.PILToTensor(), transforms.ConvertImageDtype(torch.float), transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    if view == 'train':
        transform = transforms.Compose([transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(), *to_float])
    else:
        transform = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(size), *to_float])
    dataset = datasets.ImageFolder(root, transform=transform)
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=view == 'train', num_workers=workers, persistent_workers=workers > 0)
    for epoch in range(2):
        start = time.perf_counter()
        images = 0
        for x, _ in loader:
            images += x.shape[0]
    print(json.dumps({'view': view, 'images': images, 'seconds': time.perf_counter() - start}))


if __name__ == '__main__':
    main()
