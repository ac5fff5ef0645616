"""PyTorch CPU reference for bench/training.ts: the digits CNN training step (same architecture as
apps/bench/src/model.ts: conv 3x3x16 same + relu, maxpool 2, conv 3x3x32 same + relu, maxpool 2,
dense 32 + relu, dense 10), softmax cross-entropy, Adam, on random data.

Not a project dependency and never run by CI. Run with Debian's torch (apt-get install python3-torch):
    /usr/bin/python3 packages/backend-node/bench/training-torch.py [--threads N] [--steps N] [--warmup N]
        [--batches 32,128] [--clock wall|cpu]
Prints one line per batch and, last, `RESULT <json>` with rows shaped like bench/training.ts's.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


def digits_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 32, 32), nn.ReLU(), nn.Linear(32, 10),
    )


def measure(batch: int, steps: int, warmup: int, clock=time.perf_counter) -> float:
    torch.manual_seed(0)
    model = digits_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()  # like trainOnBatch, which reads the loss back

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = clock()
        step()
        times.append((clock() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batches", default="32,128")
    # cpu: process CPU time (all threads), which other processes inflate far less than the wall clock.
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        ms = measure(batch, args.steps, args.warmup, clock)
        row = {
            "model": "digits-cnn",
            "batch": batch,
            "backend": "pytorch-cpu",
            "threads": args.threads,
            "optimizer": "torch.optim.Adam",
            "msPerStep": round(ms, 2),
            "imagesPerSec": round(batch * 1000 / ms, 1),
        }
        rows.append(row)
        print(f"digits-cnn B={batch} pytorch {torch.__version__} threads={args.threads}: {ms:.2f} ms/step")
    print("RESULT " + json.dumps({"bench": "training-torch", "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
