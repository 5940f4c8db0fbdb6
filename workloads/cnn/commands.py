"""`enginebench data cifar10`: import (verified) or synthesize CIFAR-10 in its python format; never
overwrites a data set. Import-light: data.py (numpy) loads in `run`."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from enginebench import DataCommand, UsageError, int_in

if TYPE_CHECKING:
    from types import ModuleType


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--path", metavar="DIR", help="import a cifar-10-batches-py folder (or its parent)")
    source.add_argument("--archive", metavar="FILE", help="import the official cifar-10-python.tar.gz (md5 verified)")
    source.add_argument("--download", action="store_true",
                        help="fetch the official archive (needs network), verify its md5, import it")
    source.add_argument("--synthetic", action="store_true",
                        help="write a synthetic set in exactly the CIFAR-10 format (deterministic)")
    parser.add_argument("--out", metavar="DIR",
                        help="folder for cifar-10-batches-py/ (default under $ENGINEBENCH_DATA or ./data)")
    parser.add_argument("--seed", type=int_in(0, 2**32 - 1, "seed"), help="--synthetic: seed (default 0)")
    parser.add_argument("--train-images", type=int_in(5, 10_000_000, "image count"),
                        help="--synthetic: training images (default 50000, as in CIFAR-10)")
    parser.add_argument("--test-images", type=int_in(1, 10_000_000, "image count"),
                        help="--synthetic: test images (default 10000)")
    parser.add_argument("--md5", help="--archive: expected md5 (default: the published one)")


def validate(args: argparse.Namespace) -> None:
    """The rules argparse cannot say: a source is needed, and some flags belong to one source."""
    if not (args.path or args.archive or args.download or args.synthetic):
        raise UsageError("cifar10 needs a source (accepted: --path DIR, --archive FILE, --download or --synthetic)")
    synthetic_only = [f"--{f.replace('_', '-')}" for f in ("seed", "train_images", "test_images")
                      if getattr(args, f) is not None]
    if synthetic_only and not args.synthetic:
        raise UsageError(f"{', '.join(synthetic_only)}: for --synthetic only")
    if args.md5 is not None and not args.archive:
        raise UsageError("--md5: for --archive only")
    if args.md5 is not None and not (len(args.md5) == 32 and all(c in "0123456789abcdefABCDEF" for c in args.md5)):
        raise UsageError(f"invalid --md5 {args.md5!r} (accepted: 32 hexadecimal digits)")


def build(args: argparse.Namespace, data: ModuleType, dest: Path) -> str:
    """Write the requested set at `dest` (absent, named cifar-10-batches-py); says how it was made."""
    if args.synthetic:
        data.write_synthetic(dest, args.train_images or 50_000, args.test_images or 10_000, args.seed or 0)
        return f"synthetic, seed {args.seed or 0}"
    if args.path:
        data.import_folder(Path(args.path).resolve(), dest)
        return f"imported from {args.path}"
    archive = Path(args.archive).resolve() if args.archive else data.download(dest.parent)
    data.extract_archive(archive, dest.parent, args.md5 or data.PUBLISHED_MD5)
    return f"extracted from {archive.name}, md5 verified"


def same_as_asked(args: argparse.Namespace, data: ModuleType, dest: Path) -> str:
    """Build the requested set aside and compare it with `dest` byte for byte: a set already there is
    kept only when it is the one asked for, never silently taken for it."""
    with tempfile.TemporaryDirectory(prefix=".cifar10-", dir=dest.parent) as tmp:
        made = build(args, data, Path(tmp) / data.FOLDER)
        differs = [f for f in data.FILES if data.md5sum(Path(tmp) / data.FOLDER / f) != data.md5sum(dest / f)]
    if differs:
        raise UsageError(f"{dest} already holds a different data set than the one asked for ({made}; "
                         f"{len(differs)} of {len(data.FILES)} files differ); not overwriting it "
                         "(accepted: another --out, or remove it)")
    return "already present, identical; not rewritten"


def run(args: argparse.Namespace) -> int:
    """Import or synthesize the set at its place (default under the data root, or --out)."""
    from enginebench.workloads.cnn import data

    validate(args)
    if args.out:
        dest = Path(args.out).resolve() / data.FOLDER
    elif args.synthetic:
        dest = data.synthetic_dir(args.train_images or 50_000, args.test_images or 10_000, args.seed or 0)
    else:
        dest = data.real_dir()
    if dest.parent.exists() and not dest.parent.is_dir():
        raise UsageError(f"--out {dest.parent} is a file (accepted: a directory, created if missing)")
    t0 = time.perf_counter()
    if args.path:
        data.load(Path(args.path).resolve())  # a broken source is refused before anything else
    if dest.exists():
        ds = data.load(dest)  # a broken set there is reported as such, before any comparison
        what = "already present, verified; not downloaded again" if args.download else same_as_asked(args, data, dest)
    else:
        what = build(args, data, dest)
        ds = data.load(dest)
    print(f"cifar10: {dest} ({what}; {time.perf_counter() - t0:.1f} s)")
    print(f"  {len(ds.train_y):,} training + {len(ds.test_y):,} test images, classes: {', '.join(ds.label_names)}")
    return 0


DATA_COMMANDS = (DataCommand(
    "cifar10", "the CIFAR-10 python batches (imported and verified, or a synthetic set in the same format)",
    add_arguments, run),)
