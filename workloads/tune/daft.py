"""Daft: not the case. Daft has no hyperparameter-search or trial API, and no task API to run trials as
independent remote functions while a scheduler reads their results as they arrive."""

from __future__ import annotations

UNSUPPORTED: dict[str, str] = {
    "search": "Daft has no tuning or task API: a trial cannot be launched as its own remote function and "
              "stopped early by a scheduler that reads intermediate results while the others run; one query with "
              "a UDF per configuration returns only when every row is done, so asynchronous halving cannot be "
              "expressed",
}
