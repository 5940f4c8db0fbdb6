"""CIFAR-10 in its published python format: reader, verified archive extraction, optional download,
and a synthetic data set written in exactly that format.

The format (`cifar-10-batches-py/`): `data_batch_1` .. `data_batch_5`, `test_batch` and `batches.meta`,
each a pickle (protocol 2, bytes keys) of a dict. A batch has b"data", a uint8 array (N, 3072) whose
rows are 1024 red, then 1024 green, then 1024 blue bytes of a row-major 32x32 image, b"labels" (a list
of N ints in 0..9), b"batch_label" and b"filenames"; batches.meta has b"label_names". The synthetic
set uses the same files and byte layout, so the loader that reads the real set is the one the tests
and every run exercise. Only numpy is imported here (no torch): `enginebench data` stays light.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enginebench import UsageError, data_root, replace_dir_atomically

#: The official archive and its published md5 (https://www.cs.toronto.edu/~kriz/cifar.html).
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
PUBLISHED_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
FILES = (*TRAIN_FILES, TEST_FILE, META_FILE)
LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_BYTES = 3 * 32 * 32
#: The synthetic images' pixel noise (std, in 0..255 units) and their class pattern's amplitude:
#: AMPLITUDE / NOISE sets how hard the set is. benchmarks/cnn_difficulty.py (a print-only script, removed
#: 2026-12-07: `git show edce7e3:benchmarks/cnn_difficulty.py`) measured that no amplitude makes half the
#: data cost more than the spread over sample orders at tiny or small (see
#: docs/studies/2026-11-24-cnn-difficulty.md), so the set stays as it was and the cnn check catches
#: data bugs by coverage instead.
#: Changing what synthetic_arrays draws must change synthetic_dir's name (cached sets are reused).
NOISE = 64.0
AMPLITUDE = 32.0


class DataError(UsageError):
    """The data set given is not usable CIFAR-10 (missing, truncated, corrupt, wrong checksum):
    a one-line message, exit code 2 from the CLI."""


@dataclass(frozen=True)
class Cifar10:
    """The data set in memory: images as uint8 (N, 3072) rows exactly as stored, labels as int64."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    label_names: tuple[str, ...]
    source: str


def real_dir(root: Path | None = None) -> Path:
    """Where the real data set lives once imported: <root>/cifar10/real/cifar-10-batches-py."""
    return (root or data_root()) / "cifar10" / "real" / FOLDER


def synthetic_dir(n_train: int, n_test: int, seed: int, root: Path | None = None) -> Path:
    return (root or data_root()) / "cifar10" / f"synthetic-{n_train}x{n_test}-seed{seed}" / FOLDER


# -- reading -------------------------------------------------------------------------------------
def _unpickle(path: Path) -> dict[bytes, Any]:
    if not path.is_file():
        raise DataError(f"{path} is missing (a CIFAR-10 folder has {', '.join(FILES)})")
    try:
        with path.open("rb") as f:
            obj = pickle.load(f, encoding="bytes")
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            MemoryError) as exc:
        raise DataError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}"[:300] + ")") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} is not a CIFAR-10 batch (a pickled dict), found {type(obj).__name__}")
    return obj


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    if b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{path} is not a CIFAR-10 batch: keys {sorted(map(repr, batch))}, need b'data', b'labels'")
    x = np.asarray(batch[b"data"])
    y = np.asarray(batch[b"labels"], dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != IMAGE_BYTES:
        raise DataError(f"{path}: data is {x.dtype} {x.shape}, expected uint8 (N, {IMAGE_BYTES})")
    if y.shape != (x.shape[0],):
        raise DataError(f"{path}: {y.size} labels for {x.shape[0]} images")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{path}: labels outside 0..9")
    return x, y


def find_folder(path: Path) -> Path:
    """The folder holding the batch files: `path` itself or its cifar-10-batches-py child."""
    if (path / FOLDER).is_dir():
        return path / FOLDER
    return path


def load(path: Path | str) -> Cifar10:
    """Read a cifar-10-batches-py folder (or its parent); any problem raises DataError naming the file."""
    folder = find_folder(Path(path))
    if not folder.is_dir():
        raise DataError(f"{folder} is not a directory (accepted: a cifar-10-batches-py folder or its parent)")
    meta = _unpickle(folder / META_FILE)
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(b"label_names", ()))
    if len(names) != 10:
        raise DataError(f"{folder / META_FILE}: {len(names)} label names, expected 10")
    parts = [_read_batch(folder / f) for f in TRAIN_FILES]
    test_x, test_y = _read_batch(folder / TEST_FILE)
    return Cifar10(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), test_x, test_y,
                   names, str(folder))


# -- archives --------------------------------------------------------------------------------------
def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_archive(archive: Path, dest: Path, expected_md5: str = PUBLISHED_MD5) -> Path:
    """Verify the archive's md5, extract only cifar-10-batches-py/ (tarfile's 'data' filter: no paths
    outside dest, no links or devices) into dest, check it loads; returns the folder."""
    if not archive.is_file():
        raise DataError(f"archive {archive} not found (accepted: the official {ARCHIVE_NAME})")
    got = md5sum(archive)
    if got != expected_md5.lower():
        raise DataError(f"md5 of {archive} is {got}, expected {expected_md5} "
                        f"({'the published md5 of ' + ARCHIVE_NAME if expected_md5 == PUBLISHED_MD5 else '--md5'})")
    target = dest / FOLDER
    if target.exists():
        raise DataError(f"{target} already exists; not overwriting it (remove it or choose another --out)")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".extract-") as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = [m for m in tar.getmembers() if m.name.split("/")[0] == FOLDER]
                if not members:
                    raise DataError(f"{archive} has no {FOLDER}/ folder")
                tar.extractall(tmp, members=members, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{archive} is truncated or corrupt ({type(exc).__name__}: {exc})") from None
        load(Path(tmp) / FOLDER)  # fails with the file's name before anything lands in dest
        Path(tmp, FOLDER).rename(target)
    return target


def download(dest_dir: Path, url: str = URL, timeout_s: float = 60.0) -> Path:
    """Fetch the official archive into dest_dir (kept there); the caller verifies its md5."""
    import urllib.error
    import urllib.request

    path = dest_dir / ARCHIVE_NAME
    if path.exists():
        return path
    dest_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, partial.open("wb") as out:  # noqa: S310
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot download {url} ({exc}); use --archive FILE or --path DIR with a copy") from None
    partial.rename(path)
    return path


def import_folder(source: Path, dest: Path) -> Path:
    """Verify a cifar-10-batches-py folder and copy its files to dest (never over existing data)."""
    folder = find_folder(source)
    load(folder)
    if dest.exists():
        raise DataError(f"{dest} already exists; not overwriting it (remove it or choose another --out)")

    def copy(tmp: Path) -> None:
        for name in FILES:
            shutil.copy2(folder / name, tmp / name)

    return replace_dir_atomically(dest, copy, overwrite=False)


# -- writing (synthetic) -----------------------------------------------------------------------------
def synthetic_arrays(n: int, seed: int, split: int, amplitude: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n images with a learnable signal: each class has a fixed smooth colour pattern (from `seed`),
    every image is its class's pattern at a random brightness and shift plus strong pixel noise.
    `split` (0 train, 1 test) gives disjoint, reproducible draws from the same distribution.
    `amplitude` (default AMPLITUDE) scales the pattern against the noise: the set's difficulty."""
    amplitude = AMPLITUDE if amplitude is None else amplitude
    classes = np.random.default_rng(seed)
    # 10 smooth patterns: 3x8x8 random values upsampled to 32x32 (blocks of 4 pixels).
    coarse = classes.normal(0.0, 1.0, size=(10, 3, 8, 8))
    patterns = np.kron(coarse, np.ones((1, 1, 4, 4)))
    rng = np.random.default_rng([seed, split + 1])
    labels = rng.integers(0, 10, size=n)
    shift = rng.integers(-3, 4, size=(n, 2))
    gain = rng.uniform(0.6, 1.4, size=(n, 1, 1, 1))
    signal = np.empty((n, 3, 32, 32), dtype=np.float32)
    for i in range(n):  # a per-image roll; cheap at the sizes the scales use
        signal[i] = np.roll(patterns[labels[i]], tuple(shift[i]), axis=(1, 2))
    pixels = 128.0 + amplitude * gain * signal + rng.normal(0.0, NOISE, size=signal.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8).reshape(n, IMAGE_BYTES), labels.astype(np.int64)


def _dump(obj: dict[bytes, Any], path: Path) -> None:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=2)  # the real files are protocol-2 pickles with bytes keys


def write_synthetic(dest: Path, n_train: int, n_test: int, seed: int) -> Path:
    """A data set in exactly the cifar-10-batches-py format at `dest` (written to a temporary folder
    and renamed, so a crash never leaves a half-written set that looks complete)."""
    if n_train < 5 or n_test < 1:
        raise DataError(f"synthetic CIFAR-10 needs at least 5 training and 1 test image, got {n_train}, {n_test}")
    if dest.exists():
        raise DataError(f"{dest} already exists; not overwriting it (remove it or choose another --out)")
    return replace_dir_atomically(dest, lambda tmp: _write_batches(tmp, n_train, n_test, seed), overwrite=False)


def _write_batches(tmp: Path, n_train: int, n_test: int, seed: int) -> None:
    train_x, train_y = synthetic_arrays(n_train, seed, 0)
    bounds = np.linspace(0, n_train, len(TRAIN_FILES) + 1).astype(int)
    for i, name in enumerate(TRAIN_FILES):
        lo, hi = bounds[i], bounds[i + 1]
        _dump({b"batch_label": f"training batch {i + 1} of 5".encode(),
               b"labels": [int(v) for v in train_y[lo:hi]], b"data": train_x[lo:hi],
               b"filenames": [f"synthetic_{lo + j:06d}.png".encode() for j in range(hi - lo)]}, tmp / name)
    test_x, test_y = synthetic_arrays(n_test, seed, 1)
    _dump({b"batch_label": b"testing batch 1 of 1", b"labels": [int(v) for v in test_y], b"data": test_x,
           b"filenames": [f"synthetic_test_{j:06d}.png".encode() for j in range(n_test)]}, tmp / TEST_FILE)
    _dump({b"num_cases_per_batch": int(bounds[1]), b"label_names": [n.encode() for n in LABEL_NAMES],
           b"num_vis": IMAGE_BYTES}, tmp / META_FILE)


def write_archive(folder: Path, archive: Path) -> Path:
    """Pack a cifar-10-batches-py folder as a .tar.gz laid out like the official archive."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=FOLDER)
    return archive


def ensure_synthetic(n_train: int, n_test: int, seed: int, root: Path | None = None) -> Cifar10:
    """The cached synthetic set for (n_train, n_test, seed), written on first use, loaded by `load`.
    A cached set that no longer loads or has the wrong size is an error, never silently replaced."""
    folder = synthetic_dir(n_train, n_test, seed, root)
    if not folder.exists():
        try:
            write_synthetic(folder, n_train, n_test, seed)
        except FileExistsError:  # another process wrote it first
            pass
    data = load(folder)
    if (len(data.train_y), len(data.test_y)) != (n_train, n_test):
        raise DataError(f"{folder} has {len(data.train_y)}+{len(data.test_y)} images, expected {n_train}+{n_test}")
    return data


def ensure_real(root: Path | None = None) -> Cifar10:
    """The real data set imported with `enginebench data cifar10 --archive/--path/--download`."""
    folder = real_dir(root)
    if not folder.exists():
        raise DataError(f"the real CIFAR-10 data set is not at {folder}: import it first with "
                        "`enginebench data cifar10 --archive cifar-10-python.tar.gz` (or --path DIR, --download)")
    return load(folder)
