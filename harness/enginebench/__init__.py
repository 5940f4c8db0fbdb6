"""enginebench: identical workloads on Ray, Dask, Spark and the other engines `enginebench list` names.

The public workload API: everything a workload needs, shipped or one's own, is imported from here
(`from enginebench import Case, Workload, Metric, Verdict, Timed, EngineContext`); the five shipped
workloads use exactly these names and nothing else of the harness. docs/your-workload.md walks through
writing one. `API_VERSION` is the version of this API: a workload that needs a newer one says so with
`Workload(requires_api="1.1")` and is refused with one line by an older enginebench.

Importing this package stays cheap: no engine (ray, pyspark, dask, torch) is imported here.
"""

from enginebench.contract.commands import DataCommand, float_in, int_in
from enginebench.contract.spec import (
    SCALES,
    Case,
    EngineContext,
    Implementation,
    Metric,
    Params,
    Staged,
    Timed,
    Verdict,
    Workload,
    cases_of,
    median_run,
    use_gpu,
)
from enginebench.core.errors import UsageError
from enginebench.core.files import atomic_write_text, data_root, replace_dir_atomically
from enginebench.core.stats import percentile
from enginebench.core.version import API_VERSION, __version__
from enginebench.engines.base import stop_process
from enginebench.engines.ray import data_settings as ray_data_settings
from enginebench.engines.ray import train_settings, without_cold_start_budget
from enginebench.measure.metrics import measured_apart

__all__ = [
    "API_VERSION",
    "SCALES",
    "Case",
    "DataCommand",
    "EngineContext",
    "Implementation",
    "Metric",
    "Params",
    "Staged",
    "Timed",
    "UsageError",
    "Verdict",
    "Workload",
    "__version__",
    "atomic_write_text",
    "cases_of",
    "data_root",
    "float_in",
    "int_in",
    "measured_apart",
    "median_run",
    "percentile",
    "ray_data_settings",
    "replace_dir_atomically",
    "train_settings",
    "stop_process",
    "use_gpu",
    "without_cold_start_budget",
]
