"""PyTorch 1-thread reference for `fedq bench train`: the same 784-200-200-10
MLP, the same MNIST files, plain SGD, the idiomatic training loop (shuffle
per epoch, index a batch from a preloaded tensor, forward, cross-entropy,
zero_grad, backward, step). Prints one line per batch size and writes JSON."""
import argparse
import gzip
import json
import time

import numpy as np
import torch
from torch import nn


def load_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    count = int.from_bytes(data[4:8], "big")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, 784).astype(np.float32) / 255


def load_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)


def parse_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--batches", default="10,32,64")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--json")
    return parser.parse_args()


def benchmark(name, make_model, image_shape, args, steps_per_run=None):
    """Times SGD steps of `make_model()` per batch size, 1 thread. A run is a
    reshuffled epoch, or `steps_per_run` steps of one (the CNN: an epoch takes
    over a minute), repeated until `args.seconds` have passed."""
    torch.set_num_threads(1)
    torch.manual_seed(1)
    x = torch.from_numpy(load_images(f"{args.data}/train-images-idx3-ubyte.gz")).reshape(-1, *image_shape)
    y = torch.from_numpy(load_labels(f"{args.data}/train-labels-idx1-ubyte.gz"))
    results = []
    for batch in [int(b) for b in args.batches.split(",")]:
        model = make_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        loss_fn = nn.CrossEntropyLoss()

        def run(n, limit=None):
            order = torch.randperm(len(x))[:n]
            steps = 0
            for start in range(0, n, batch):
                if limit is not None and steps == limit:
                    break
                idx = order[start:start + batch]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                optimizer.step()
                steps += 1
            return steps, min(n, steps * batch)

        run(min(len(x), 20 * batch))  # warm-up
        samples = steps = 0
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            done, seen = run(len(x), steps_per_run)
            steps += done
            samples += seen
        elapsed = time.perf_counter() - start
        rate = samples / elapsed
        print(f"pytorch {name} batch {batch:3d}  {rate:9.0f} samples/s  {elapsed * 1e6 / steps:7.1f} us/step  "
              f"({steps} steps, {elapsed:.1f} s, torch {torch.__version__}, 1 thread)", flush=True)
        results.append({"batch": batch, "samples_per_second": rate, "steps": steps, "seconds": elapsed})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def main():
    benchmark(
        "mlp",
        lambda: nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10)),
        (784,), parse_arguments())


if __name__ == "__main__":
    main()
