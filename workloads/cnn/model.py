"""One model, one recipe, one training loop: the code every engine runs, so the math is identical.

Engines differ only in how data reaches the loop (Ray Data shards, a Dask array, a Spark table, numpy
in-process) and how the process group is formed; `fit` does the rest. The rules that make runs
comparable:

* Same global batch, learning-rate schedule (one-cycle over epochs x steps), optimizer (SGD, Nesterov
  momentum 0.9, weight decay 5e-4), epochs and seed everywhere. Each of `world` ranks takes
  `global_batch // world` images per step, and DDP averages gradients, so one step is the same update
  as the local loop's step over the same global batch (up to float summation order).
* Shard rule: the training set is permuted once with the seed and cut into `world` equal contiguous
  shards of `steps_per_epoch * local_batch` rows (`steps_per_epoch = n // global_batch`: every rank
  takes the same number of steps, which DDP requires); each epoch a rank shuffles its own shard with
  a generator seeded by (seed, epoch, rank). With world = 1 that is a plain per-epoch shuffle. Ray
  uses its own idiom for the split (`streaming_split(equal=True)` + a seeded local shuffle buffer):
  same shard sizes and steps, a different sample order.
* Test accuracy is computed on the whole test set each epoch: each rank counts its r::world slice
  and the counts are summed (all_reduce), so the figure is exact, not an average of averages.

Torch is imported here at module level: only engine implementations import this module.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from torch import nn

#: The CIFAR-10 channel mean and std (of the 50,000 training images, pixel values scaled to 0..1).
MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
#: Torch threads of the local loop (and of the check's reference run): one core, see local.py.
LOCAL_THREADS = 1
#: Bugs tests/test_planted.py plants in each engine's real training path, to prove the check sees
#: them: ranks training alone (DDP's gradient all-reduce left out), every rank given the same shard,
#: and each rank training on half its shard, used twice so that the image count still adds up.
PLANTS = ("no-allreduce", "same-shard", "half-data")


@dataclass(frozen=True)
class Recipe:
    """The training recipe shared by every engine (from a scale's parameters)."""

    model: str
    epochs: int
    global_batch: int
    lr: float
    seed: int
    augment: bool
    amp: bool
    momentum: float = 0.9
    weight_decay: float = 5e-4
    #: The simple net's width multiplier (1: the tutorial net); ResNet-18 has none.
    width: float = 1.0
    #: A deliberate bug for the check's tests (one of PLANTS); "" in every real run.
    plant: str = ""

    @classmethod
    def from_params(cls, params: Any) -> Recipe:
        return cls(model=params["model"], epochs=int(params["epochs"]), global_batch=int(params["global_batch"]),
                   lr=float(params["lr"]), seed=int(params["seed"]), augment=bool(params["augment"]),
                   amp=bool(params.get("amp", False)), plant=str(params.get("plant", "")))

    def local_batch(self, world: int) -> int:
        if self.global_batch % world:
            raise ValueError(f"global batch {self.global_batch} does not split over {world} workers")
        return self.global_batch // world

    def steps_per_epoch(self, n_train: int) -> int:
        steps = n_train // self.global_batch
        if steps < 1:
            raise ValueError(f"{n_train} training images do not fill one global batch of {self.global_batch}")
        return steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- data ------------------------------------------------------------------------------------------
def normalize(rows: np.ndarray) -> np.ndarray:
    """uint8 rows (N, 3072) as stored in CIFAR-10 -> float32 (N, 3, 32, 32), scaled to 0..1 and
    normalized with the channel mean and std (the classic PyTorch recipe's ToTensor + Normalize)."""
    x = np.asarray(rows, dtype=np.float32).reshape(-1, 3, 32, 32) / 255.0
    return (x - MEAN[None, :, None, None]) / STD[None, :, None, None]


def permutation(n: int, seed: int) -> np.ndarray:
    """The one seeded permutation of the training set every engine starts from."""
    return np.random.default_rng(seed).permutation(n)


def shard_rows(n_train: int, recipe: Recipe, rank: int, world: int) -> tuple[int, int]:
    """[start, stop) of rank's contiguous shard of the permuted training set."""
    per_rank = recipe.steps_per_epoch(n_train) * recipe.local_batch(world)
    return rank * per_rank, (rank + 1) * per_rank


def epoch_order(size: int, recipe: Recipe, epoch: int, rank: int) -> np.ndarray:
    return np.random.default_rng([recipe.seed, epoch, rank]).permutation(size)


#: A training batch: images and labels on the device, and the images' indices in the training set.
Batch = tuple[torch.Tensor, torch.Tensor, np.ndarray]


def array_batches(x: np.ndarray, y: np.ndarray, index: np.ndarray, recipe: Recipe, epoch: int, rank: int,
                  world: int, device: torch.device) -> Iterator[Batch]:
    """A rank's batches for one epoch from its shard (already normalized float32, N x 3 x 32 x 32);
    `index` holds each shard row's position in the training set."""
    batch = recipe.local_batch(world)
    order = epoch_order(len(x), recipe, epoch, rank)
    pin = device.type == "cuda"
    for step in range(recipe.steps_per_epoch(len(x) * world)):
        idx = np.sort(order[step * batch:(step + 1) * batch])
        xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
        if pin:
            xb, yb = xb.pin_memory(), yb.pin_memory()
        yield xb.to(device, non_blocking=pin), yb.to(device, non_blocking=pin), index[idx]


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random 32x32 crop of the 4-pixel zero-padded image and a random horizontal flip, per image."""
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    oy = torch.randint(0, 9, (n,), generator=gen).to(x.device)
    ox = torch.randint(0, 9, (n,), generator=gen).to(x.device)
    ar = torch.arange(32, device=x.device)
    rows = (oy[:, None] + ar)[:, None, :, None]
    cols = (ox[:, None] + ar)[:, None, None, :]
    chans = torch.arange(3, device=x.device)[None, :, None, None]
    out = padded[torch.arange(n, device=x.device)[:, None, None, None], chans, rows, cols]
    flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], out.flip(3), out)


# -- models ----------------------------------------------------------------------------------------
class SimpleCNN(nn.Module):
    """The classic PyTorch CIFAR-10 tutorial net (two 5x5 convs, three linear layers), with ReLU.
    `width` scales every hidden layer (6 and 16 channels, 120 and 84 units at width 1); the tune
    workload searches over it."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, h1, h2 = (max(1, round(n * width)) for n in (6, 16, 120, 84))
        self.conv1 = nn.Conv2d(3, c1, 5)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.fc1 = nn.Linear(c2 * 5 * 5, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 inputs (3x3 stem, no max-pool), the usual CIFAR variant; for GPUs."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        layers: list[nn.Module] = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


MODELS: dict[str, Callable[[], nn.Module]] = {"simple": SimpleCNN, "resnet18": ResNet18}


def build_model(recipe: Recipe) -> nn.Module:
    """The model with weights from the seed: identical on every rank and every engine."""
    torch.manual_seed(recipe.seed)
    return SimpleCNN(recipe.width) if recipe.model == "simple" else MODELS[recipe.model]()


def make_optimizer(model: nn.Module, recipe: Recipe, steps_per_epoch: int) -> tuple[Any, Any]:
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=True,
                          weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max(recipe.lr, 1e-12),
                                                total_steps=recipe.epochs * steps_per_epoch, pct_start=0.25)
    if recipe.lr == 0:  # a zero learning rate is a legitimate (broken) recipe: keep it zero
        for group in opt.param_groups:
            group["lr"] = 0.0
        sched = None
    return opt, sched


# -- the loop --------------------------------------------------------------------------------------
def set_threads(threads: int) -> None:
    """Intra-op threads for this process: workers x threads = the budget's CPUs (no oversubscription)."""
    torch.set_num_threads(max(1, threads))


def device_for(local_rank: int, use_gpu: bool) -> torch.device:
    if use_gpu and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def tcp_store(host: str, world: int, port: int | None, timeout_s: float) -> Any:
    """The process group's TCPStore. port None: rank 0 serves it on a port the OS assigns (read it from
    `.port`), on a socket bound to `host` itself (left to itself, TCPStore listens on every interface,
    "::"), so there is no free-port race; otherwise a client of the store at host:port."""
    import socket
    from datetime import timedelta

    import torch.distributed as dist

    timeout = timedelta(seconds=timeout_s)
    if port is not None:
        return dist.TCPStore(host, port, world, False, timeout)
    listener = socket.create_server((host, 0))
    return dist.TCPStore(host, listener.getsockname()[1], world, True, timeout, wait_for_workers=False,
                         master_listen_fd=listener.detach())


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def _autocast(device: torch.device, amp: bool) -> Any:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")


def train_epoch(model: nn.Module, opt: Any, sched: Any, batches: Iterable[Batch], recipe: Recipe,
                gen: torch.Generator, device: torch.device, max_steps: int) -> tuple[float, int, np.ndarray]:
    """One epoch over the rank's batches (at most max_steps); returns (sum of losses, images, the
    training-set indices of the images, in the order trained)."""
    model.train()
    loss_sum, images = 0.0, 0
    used: list[np.ndarray] = []
    for step, (xb, yb, ib) in enumerate(batches):
        if step >= max_steps:
            break
        if recipe.augment:
            xb = augment(xb, gen)
        with _autocast(device, recipe.amp):
            loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        loss_sum += float(loss.detach()) * len(yb)
        images += len(yb)
        used.append(np.asarray(ib, dtype=np.int64))
    return loss_sum, images, np.concatenate(used) if used else np.zeros(0, dtype=np.int64)


@torch.no_grad()
def count_correct(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device,
                  amp: bool) -> tuple[int, int]:
    model.eval()
    correct = total = 0
    for xb, yb in batches:
        with _autocast(device, amp):
            pred = model(xb).argmax(1)
        correct += int((pred == yb).sum())
        total += len(yb)
    return correct, total


def sum_over_ranks(values: tuple[float, ...], world: int, device: torch.device) -> tuple[float, ...]:
    """Element-wise sum across the process group (no-op for one process)."""
    if world == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return tuple(float(v) for v in t.cpu())


def gather(value: Any, world: int, device: torch.device) -> list[Any]:
    """Every rank's `value`, in rank order, on every rank (a list of one for one process)."""
    if world == 1:
        return [value]
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)  # all_gather_object over NCCL uses the current device
    out: list[Any] = [None] * world
    dist.all_gather_object(out, value)
    return out


def coverage(indices: np.ndarray, n_train: int, world: int, device: torch.device) -> dict[str, int]:
    """Which training images the ranks used in one epoch, from every rank's indices (a bitmap per
    rank, gathered): `indices` trained in all, `distinct` images among them, `repeated_in_a_rank`
    (a rank that used an image twice) and `shared_between_ranks` (an image two ranks both used).
    Right is indices = distinct = the epoch's images, and both counts 0: every image exactly once."""
    mine = np.zeros(n_train, dtype=bool)
    mine[indices] = True
    union = np.zeros(n_train, dtype=bool)
    total = repeated = shared = 0
    for count, packed in gather((len(indices), np.packbits(mine)), world, device):
        bits = np.unpackbits(packed, count=n_train).astype(bool)
        total += count
        repeated += count - int(bits.sum())
        shared += int((union & bits).sum())
        union |= bits
    return {"indices": total, "distinct": int(union.sum()), "repeated_in_a_rank": repeated,
            "shared_between_ranks": shared}


def weights_digest(model: nn.Module) -> str:
    """sha256 of the parameters' bytes (not the buffers: BatchNorm's running statistics are each
    rank's own): data-parallel ranks that averaged every gradient end with identical weights."""
    import hashlib

    net = model.module if hasattr(model, "module") else model
    h = hashlib.sha256()
    for p in net.parameters():
        h.update(p.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def test_batches(x: np.ndarray, y: np.ndarray, rank: int, world: int, batch: int,
                 device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A rank's r::world slice of the (normalized) test set, in batches."""
    xs, ys = x[rank::world], y[rank::world]
    for i in range(0, len(xs), batch):
        yield torch.from_numpy(xs[i:i + batch]).to(device), torch.from_numpy(ys[i:i + batch]).to(device)


def fit(model: nn.Module, recipe: Recipe, n_train: int, rank: int, world: int, device: torch.device,
        train_batches: Callable[[int], Iterable[Batch]],
        eval_batches: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]],
        t0: float, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train `model` (already on `device`, DDP-wrapped when world > 1) for the recipe's epochs.

    t0 is the wall-clock (time.time()) start of the whole implementation call: history times are
    seconds since then, so time-to-accuracy includes data conversion and worker start-up. train_s
    counts only the training steps (not evaluation): images/s = images / train_s. Each epoch's entry
    carries the ranks' `coverage` of the training set; the first one `job_start_s`, seconds from t0
    until this rank's training loop began (workers started, process group formed, data in reach);
    the last one the ranks' `weight_hashes`.
    """
    started_s = time.time() - t0  # the rank is up, its data in reach: the job has started
    steps = recipe.steps_per_epoch(n_train)
    opt, sched = make_optimizer(model, recipe, steps)
    gen = torch.Generator().manual_seed(recipe.seed * 1000 + rank)
    history: list[dict[str, Any]] = []
    train_s = 0.0
    images = 0
    for epoch in range(recipe.epochs):
        t_epoch = time.perf_counter()
        loss_sum, seen, used = train_epoch(model, opt, sched, train_batches(epoch), recipe, gen, device, steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        epoch_s = time.perf_counter() - t_epoch
        train_s += epoch_s
        net = model.module if hasattr(model, "module") else model
        correct, total, loss_total, seen_total = sum_over_ranks(
            (*count_correct(net, eval_batches(), device, recipe.amp), loss_sum, seen), world, device)
        images += int(seen_total)
        entry = {"epoch": epoch + 1, "elapsed_s": time.time() - t0, "epoch_train_s": epoch_s,
                 "train_loss": loss_total / max(1.0, seen_total), "test_accuracy": correct / max(1.0, total),
                 "test_images": int(total), "images": int(seen_total),
                 "coverage": coverage(used, n_train, world, device)}
        if epoch == 0:
            entry["job_start_s"] = started_s
        if not math.isfinite(entry["train_loss"]):
            entry["train_loss"] = None
        if epoch + 1 == recipe.epochs:
            entry["weight_hashes"] = gather(weights_digest(model), world, device)
        history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
    return {"history": history, "train_s": train_s, "images": images,
            "final_accuracy": history[-1]["test_accuracy"] if history else 0.0}


def answer(result: dict[str, Any], *, engine: str, world: int, threads: int, device: str, backend: str,
           recipe: Recipe, load_s: float) -> dict[str, Any]:
    """The answer every implementation returns: fit's result plus how it ran. `load_s`: seconds from
    the call's start (uint8 arrays in the driver) until the data is resident where the ranks train."""
    return {**{k: result[k] for k in ("history", "train_s", "images", "final_accuracy")}, "engine": engine,
            "world_size": world, "threads_per_worker": threads, "device": device, "backend": backend,
            "recipe": recipe.to_dict(), "load_s": load_s}


def peak_rss_mb() -> float:
    """This process's peak resident memory (ru_maxrss), in MiB."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 1024)


def train_shard(recipe: Recipe, rank: int, world: int, device: torch.device, x: np.ndarray, y: np.ndarray,
                x_test: np.ndarray, y_test: np.ndarray, n_train: int, t0: float, first: int) -> dict[str, Any]:
    """One rank's training over its in-memory shard (normalized x, N x 3 x 32 x 32; row i is image
    `first + i` of the training set) and its slice of the test set: the per-rank function of every
    engine that hands ranks arrays (dask, spark, local). The process group, when world > 1, is
    already formed."""
    from torch.nn.parallel import DistributedDataParallel

    index = np.arange(first, first + len(x))
    if recipe.plant == "half-data":  # planted: the first half of the shard, twice
        half = len(x) // 2
        x, y, index = (np.concatenate([a[:half], a[:half]]) for a in (x, y, index))
    model = build_model(recipe).to(device)
    if world > 1 and recipe.plant != "no-allreduce":
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return fit(model, recipe, n_train, rank, world, device,
               lambda epoch: array_batches(x, y, index, recipe, epoch, rank, world, device),
               lambda: test_batches(x_test, y_test, 0, 1, 1024, device), t0)


def run_local(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, recipe: Recipe,
              threads: int, use_gpu: bool, t0: float) -> dict[str, Any]:
    """The plain single-process loop on normalized arrays (the `local` engine and the check's reference)."""
    set_threads(threads)
    lo, hi = shard_rows(len(x_train), recipe, 0, 1)
    return train_shard(recipe, 0, 1, device_for(0, use_gpu), x_train[lo:hi], y_train[lo:hi], x_test, y_test,
                       len(x_train), t0, lo)
