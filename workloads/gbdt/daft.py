"""Daft: not the case. XGBoost has first-party integrations for Ray, Dask and Spark, none for Daft, and Daft
has no distributed training API to run XGBoost's collective (Rabit) workers on."""

from __future__ import annotations

UNSUPPORTED: dict[str, str] = {
    "train": "no distributed training API: XGBoost has no Daft integration (it has xgboost.ray, xgboost.dask and "
             "xgboost.spark) and Daft cannot start XGBoost's collective workers, so distributed training cannot "
             "be expressed (one xgboost.train in a UDF would be the local baseline again)",
}
