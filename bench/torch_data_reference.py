"""torchvision's loader on the same folder as bench/data.ts: ImageFolder + DataLoader with
`workers` worker processes, batches of uint8 tensors (PILToTensor: no float conversion, as
s2snets hands the device uint8 and normalizes there), the reference recipe's transforms.

    python3 bench/torch_data_reference.py ROOT WORKERS BATCH VIEW SIZE RESIZE
prints one JSON line: {"view": ..., "images": N, "seconds": S}.
"""
import json
import sys
import time

import torch
from torchvision import datasets, transforms


def main():
    root, workers, batch, view, size, resize = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    if view == 'train':
        transform = transforms.Compose([transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(), transforms.PILToTensor()])
    else:
        transform = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(size), transforms.PILToTensor()])
    dataset = datasets.ImageFolder(root, transform=transform)
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=view == 'train', num_workers=workers)
    start = time.perf_counter()
    images = 0
    for x, _ in loader:
        images += x.shape[0]
    print(json.dumps({'view': view, 'images': images, 'seconds': time.perf_counter() - start}))


if __name__ == '__main__':
    main()
