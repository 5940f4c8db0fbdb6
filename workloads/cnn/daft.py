"""Daft: not the case. Daft is a DataFrame engine for data processing and batch inference; it has no
distributed training API (no process group, no gradient all-reduce between workers)."""

from __future__ import annotations

UNSUPPORTED: dict[str, str] = {
    "train": "Daft has no distributed training API: it runs DataFrame queries and UDFs, with no process group or "
             "gradient all-reduce between workers, so data-parallel training cannot be expressed (training in one "
             "UDF call would be the local baseline again)",
}
