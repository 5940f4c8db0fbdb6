"""Daft: `daft.read_parquet`, then a class UDF as Daft's batch-inference docs and its image-classification
benchmark write one (benchmarking/ai/image_classification/daft_main.py: `@daft.cls` whose `__init__` loads
the model, `@daft.method.batch(return_dtype=..., batch_size=...)` scoring a batch of the scale's size), the
scored columns unnested from a struct and brought back with `to_arrow()`.

On Daft's native runner a class UDF runs, by default, on the runner's threads in this process: the instance's
`__init__` runs once per query, and the model comes from this process's cache (`model.loaded_model`), so from
the second call on nothing loads it again, as Dask's and Spark's warm workers keep theirs. torch releases the
GIL in its kernels, so the budget's threads score batches side by side (one torch thread each). The
`processes` variant asks for `use_process=True`, Daft's isolation: a worker process per thread, new in each
call, which imports torch and loads the model inside the call (as Ray's actor pool does). On a GPU the class
asks for `gpus=1` (Daft's GPU guide; not yet run on a GPU here).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import daft
import pyarrow as pa
from daft import DataType

from enginebench import EngineContext, Params

from . import model as m

#: The columns the UDF returns beside the id (`model.COLUMNS` less the id), as one struct to unnest.
FIELDS = tuple(k for k in m.COLUMNS if k != "id")
SCORED = DataType.struct({k: DataType.int64() if m.COLUMNS[k] == "int64" else DataType.float64() for k in FIELDS})


@functools.cache
def scorer(batch_size: int, use_process: bool | None = None, gpus: int = 0) -> Any:
    """The class UDF for one batch size (Daft fixes it in the decorator; one class per size, made once);
    `gpus=1` on a GPU, as Daft's GPU guide asks for one (an instance per GPU)."""

    @daft.cls(use_process=use_process, gpus=gpus)
    class Scorer:
        """Loads the model once per instance (from this process's cache), scores one batch per call."""

        def __init__(self, ckpt: m.Checkpoint, device: str) -> None:
            self.ckpt, self.device = ckpt, device
            m.loaded_model(ckpt, device)

        @daft.method.batch(return_dtype=SCORED, batch_size=batch_size, unnest=True)
        def __call__(self, ids: daft.Series, images: daft.Series) -> pa.StructArray:
            got = m.score(ids.to_arrow().to_numpy(zero_copy_only=False), images.to_pylist(), self.ckpt,
                          batch_size, self.device)
            return pa.StructArray.from_arrays([pa.array(got[k]) for k in FIELDS], names=list(FIELDS))

    return Scorer


def score(ctx: EngineContext, params: Params, inputs: Any, use_process: bool | None = None) -> dict[str, Any]:
    """`use_process`: Daft's choice (None, the default) or True (the `processes` variant)."""
    t0 = time.time()
    device = m.device_for(params, "this machine (Daft's native runner)")
    udf = scorer(params["batch_size"], use_process, 1 if device == "cuda" else 0)(inputs["checkpoint"], device)
    df = daft.read_parquet(inputs["path"])
    got = df.select("id", udf(df["id"], df["image"])).to_arrow()
    workers = ctx.cpus
    return m.answer({k: got.column(k).to_numpy() for k in m.COLUMNS}, t0, device, workers)


CASES = {"score": score}
DEFAULT_VARIANT = "threads"
VARIANTS = {"processes": {"score": functools.partial(score, use_process=True)}}
VARIANT_NOTES = {"processes": "@daft.cls(use_process=True): a UDF worker process per thread, new in each call, "
                              "each importing torch and loading the model inside the call"}
NOTES = {"score": "daft.read_parquet + a @daft.cls class UDF (@daft.method.batch, the scale's batch size) on the "
                  "native runner's threads, the model cached once per process; to_arrow()"}
