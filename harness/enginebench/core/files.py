"""Where data lives, and writes that never leave a half-written file or folder behind.

Engine-neutral and standard library only: the workloads' data modules and the records both use it.
"""

from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path


def data_root() -> Path:
    """ENGINEBENCH_DATA, or ./data (git-ignored): the one root of every workload's data sets."""
    return Path(os.environ.get("ENGINEBENCH_DATA", "data")).resolve()


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename: readers never see half a file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """`atomic_write_text` for bytes: temp file in the same directory, fsync, os.replace; the file gets
    the mode of an ordinary new file (0666 less the umask), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_dir_atomically(directory: Path, build: Callable[[Path], None], *, overwrite: bool = True) -> Path:
    """Run `build(tmp)` in a fresh sibling folder, then rename it to `directory`: a crash never leaves a
    half-written folder that looks complete, and the folder is removed if `build` fails.

    The sibling's name is unique per call, so two processes building the same folder do not write into
    each other's. With `overwrite` an existing `directory` is replaced; without it, FileExistsError is
    raised if `directory` exists by the time the new folder is ready (another process won the race).
    """
    _remove_abandoned(directory)
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)  # mkdir, not mkdtemp: the folder gets ordinary permissions, not 0700
    try:
        build(tmp)
        if overwrite:
            shutil.rmtree(directory, ignore_errors=True)
        try:
            tmp.rename(directory)
        except OSError as exc:  # a non-empty folder is in the way: EEXIST or ENOTEMPTY, by platform
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(errno.EEXIST, "already exists", str(directory)) from None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing left once renamed
    return directory


def _remove_abandoned(directory: Path) -> None:
    """Remove temporary siblings of `directory` left by processes that died mid-build (their pid is gone)."""
    if not directory.parent.is_dir():
        return
    for tmp in directory.parent.glob(f".{glob.escape(directory.name)}.*-*.tmp"):
        pid = tmp.name[len(directory.name) + 2:].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
