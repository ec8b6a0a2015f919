"""PyTorch 1-thread reference for `fedq bench train --model cnn`: McMahan et
al.'s CNN as FedQueue builds it (5x5 conv 32 'same', ReLU, 2x2 max-pool, 5x5
conv 64 'same', ReLU, 2x2 max-pool, dense 3136-512, ReLU, dense 512-10:
1,663,370 parameters), the same MNIST files, plain SGD and the training loop
of pytorch_mlp.py, in runs of 200 steps as `fedq bench train` times them."""
from torch import nn

from pytorch_mlp import benchmark, parse_arguments


def mcmahan_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.Linear(512, 10))


if __name__ == "__main__":
    model = mcmahan_cnn()
    assert sum(p.numel() for p in model.parameters()) == 1_663_370
    benchmark("cnn", mcmahan_cnn, (1, 28, 28), parse_arguments(), steps_per_run=200)
