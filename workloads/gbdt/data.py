"""The gbdt table: a HIGGS-like binary classification set, generated offline and reproducibly, written once
as parquet under the data root (no download).

HIGGS (UCI, 11M rows) has 21 low-level kinematic features and 7 high-level ones physicists derived from
them, and a label from a signal process nobody can write down. This generator keeps that shape with a
signal that *is* written down, so the best achievable AUC is known:

* 8 informative features `f00`..`f07`, standard normal;
* 13 noise features `f08`..`f20`: half standard normal, half log-normal (heavy-tailed like HIGGS's
  momenta), unrelated to the label;
* 7 redundant high-level features `f21`..`f27`: nonlinear functions of the informative ones (a norm, a
  product, a ratio, ...) plus a little noise, as HIGGS's invariant masses are of its momenta;
* the label: Bernoulli(sigmoid(logit)), with `logit` a fixed nonlinear function of the informative
  features (linear terms, an interaction, a sine, a square, an absolute value). `bayes_auc` is the AUC of
  the true probabilities on the test rows: no model can beat it on average.

Rows are drawn in chunks of CHUNK_ROWS, each from its own seeded stream ([seed, part, chunk]), so a table is
the same on every machine and large tables are written without holding them in memory. The training rows
are spread over several files (`files_for`) so every engine reads them in parallel; the test rows come from
their own stream. Columns are float32 features and an int32 label.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from enginebench import data_root, replace_dir_atomically

N_INFORMATIVE, N_NOISE, N_REDUNDANT = 8, 13, 7
FEATURES: tuple[str, ...] = tuple(f"f{i:02d}" for i in range(N_INFORMATIVE + N_NOISE + N_REDUNDANT))
LABEL = "label"
CHUNK_ROWS = 1_000_000
META = "meta.json"


def _logit(z: np.ndarray) -> np.ndarray:
    """The signal: log-odds of the label from the informative features."""
    return (1.1 * z[:, 0] - 0.8 * z[:, 1] + 0.7 * z[:, 2] * z[:, 3] + 0.9 * np.sin(2.0 * z[:, 4])
            + 0.5 * (z[:, 5] ** 2 - 1.0) - 0.6 * (np.abs(z[:, 6]) - 0.8) + 0.3 * z[:, 7])


def _chunk(seed: int, part: int, chunk: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features float32 (rows, 28), labels int32, true probabilities) of one chunk."""
    rng = np.random.default_rng([seed, part, chunk])
    z = rng.standard_normal((rows, N_INFORMATIVE))
    noise = np.concatenate([rng.standard_normal((rows, N_NOISE - N_NOISE // 2)),
                            rng.lognormal(0.0, 0.8, (rows, N_NOISE // 2))], axis=1)
    r = np.stack([np.sqrt(z[:, 0] ** 2 + z[:, 1] ** 2), z[:, 2] * z[:, 3], z[:, 0] / (1.0 + np.abs(z[:, 4])),
                  np.abs(z[:, 5]) + np.abs(z[:, 6]), np.tanh(z[:, 1] + z[:, 7]), z[:, 4] ** 2 - z[:, 5],
                  np.exp(0.3 * z[:, 6])], axis=1)
    r += 0.2 * rng.standard_normal(r.shape)
    p = 1.0 / (1.0 + np.exp(-_logit(z)))
    y = (rng.random(rows) < p).astype(np.int32)
    return np.concatenate([z, noise, r], axis=1).astype(np.float32), y, p


def files_for(rows: int) -> int:
    """Training files: one per 250,000 rows, at least 8 (parallel reads on up to 8 workers), at most 256."""
    return max(8, min(256, math.ceil(rows / 250_000)))


def table_dir(n_train: int, n_test: int, seed: int, root: Path | None = None) -> Path:
    return (root or data_root()) / "gbdt" / f"higgs-like-{n_train}x{n_test}-seed{seed}"


def _frame(x: np.ndarray, y: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.table({**{name: x[:, i] for i, name in enumerate(FEATURES)}, LABEL: y})


def _write_part(folder: Path, part: int, rows: int, seed: int, files: int) -> dict[str, float]:
    """Rows of one part (0: train, 1: test) as `files` parquet files; (positives, bayes AUC terms)."""
    import pyarrow.parquet as pq

    folder.mkdir()
    bounds = np.linspace(0, rows, files + 1).astype(int)
    positives, probs, labels = 0, [], []
    writer, written, file_no = None, 0, 0
    for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
        x, y, p = _chunk(seed, part, chunk, min(CHUNK_ROWS, rows - start))
        positives += int(y.sum())
        if part == 1:
            probs.append(p)
            labels.append(y)
        offset = 0
        while offset < len(y):  # split the chunk at file boundaries
            if writer is None:
                writer = pq.ParquetWriter(folder / f"part-{file_no:05d}.parquet", _frame(x[:1], y[:1]).schema)
            take = min(len(y) - offset, int(bounds[file_no + 1]) - written)
            writer.write_table(_frame(x[offset:offset + take], y[offset:offset + take]))
            offset += take
            written += take
            if written == bounds[file_no + 1]:
                writer.close()
                writer, file_no = None, file_no + 1
    out: dict[str, float] = {"positives": positives}
    if part == 1:
        from sklearn.metrics import roc_auc_score

        out["bayes_auc"] = float(roc_auc_score(np.concatenate(labels), np.concatenate(probs)))
    return out


def ensure(n_train: int, n_test: int, seed: int, root: Path | None = None) -> Path:
    """The table's folder (train/, test/, meta.json), written on first use and reused after."""
    dest = table_dir(n_train, n_test, seed, root)
    if (dest / META).exists():
        return dest

    def build(tmp: Path) -> None:
        train = _write_part(tmp / "train", 0, n_train, seed, files_for(n_train))
        test = _write_part(tmp / "test", 1, n_test, seed, 1)
        meta = {"generator": "higgs-like v1", "n_train": n_train, "n_test": n_test, "seed": seed,
                "features": list(FEATURES), "train_positives": train["positives"],
                "test_positives": test["positives"], "bayes_auc": test["bayes_auc"],
                "train_files": files_for(n_train)}
        (tmp / META).write_text(json.dumps(meta, indent=1))

    try:
        return replace_dir_atomically(dest, build, overwrite=False)
    except FileExistsError:  # another process wrote the same table first
        return dest


def meta(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / META).read_text()))


def read_numpy(folder: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (rows, 28), labels) of `train` or `test`, in file order."""
    import pyarrow.parquet as pq

    table = pq.read_table(folder / part)
    x = np.column_stack([table.column(f).to_numpy() for f in FEATURES]).astype(np.float32, copy=False)
    return x, table.column(LABEL).to_numpy()
