"""ray: Ray Core on this machine (`ray.init` with the budget's CPUs, loopback, no dashboard) or an
existing cluster (`--ray-address`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from enginebench.core.budget import Budget
from enginebench.engines.base import REMOTE_CAPS, Endpoint, Engine

#: Share of the memory budget given to Ray's object store (Ray's own default is 30% of RAM).
OBJECT_STORE_SHARE = 0.3


def ray_init(budget: Budget, address: str | None) -> Any:
    """Start Ray (or connect to the cluster at `address`) the way both `ray` and `spark-on-ray` need
    it; returns the context."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not address:
        # Loopback only: Ray's single-machine mode (its default on macOS/Windows) binds GCS, raylet
        # and workers to 127.0.0.1 instead of the machine's network address. Read at import time
        # by Ray and inherited by its daemons, hence the environment plus the constant.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import logging

    import ray
    from ray._private import ray_constants

    if not address:
        ray_constants.ENABLE_RAY_CLUSTER = False

    common: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "configure_logging": True,
    }
    if address:
        return ray.init(address=address, **common)
    # address="local": always a new instance of our own, never a cluster some other program left
    # running on this machine (plain ray.init() would attach to it and ignore the budget).
    return ray.init(
        address="local",
        num_cpus=budget.cpus,
        object_store_memory=int(budget.memory_bytes * OBJECT_STORE_SHARE),
        **common,
    )


def ray_config() -> dict[str, Any]:
    """Effective cluster shape as Ray reports it."""
    import ray

    if not ray.is_initialized():
        return {}
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    resources = ray.cluster_resources()
    return {
        "nodes": len(nodes),
        "cpus": resources.get("CPU", 0),
        "gpus": resources.get("GPU", 0),
        "object_store_bytes": int(resources.get("object_store_memory", 0)),
        "address": ray.get_runtime_context().gcs_address,
    }


#: How enginebench's Ray Train paths (cnn's TorchTrainer, gbdt's XGBoostTrainer) run `fit()`: the controller polls
#: its workers every 0.2 s instead of 2 s (a report and the end of training each wait for a poll: 8 s of a
#: 23 s empty TorchTrainer fit on 2 CPUs), and no preemption watcher (it watches cloud nodes for preemption
#: notices; one machine has none). Ray Train hands these variables from the driver's environment to the
#: controller it starts in `fit()` (`ray.train.v2._internal.constants.ENV_VARS_TO_PROPAGATE`).
TRAIN_SETTINGS = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2", "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0"}


@contextlib.contextmanager
def train_settings(settings: dict[str, str] | None = None) -> Iterator[None]:
    """Ray Train `settings` (default TRAIN_SETTINGS; {} for Ray's own defaults) in the driver's environment for
    the block, so the `fit()` inside starts its controller with them; a variable the user set is kept as it is,
    and the environment is restored afterwards."""
    settings = TRAIN_SETTINGS if settings is None else settings
    added = [name for name in settings if name not in os.environ]
    os.environ.update({name: settings[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def without_cold_start_budget() -> Iterator[None]:
    """Ray Data 2.60 starts every execution (every `iter_batches` here) with resource limits of zero: the executor
    asks the autoscaling coordinator actor for its reservation without blocking (`DefaultAutoscalingCoordinator.
    get_reserved_resources` returns its empty cache first) and `ResourceManager` keeps that answer for
    GLOBAL_LIMITS_UPDATE_INTERVAL_S (1 s). Until then `ResourceBudgetBackpressurePolicy` admits one task at a
    time, so a call under a second runs on one CPU and one worker process (the other never loads the model in
    the warm-up and pays torch's import in a later timed call). The other two default policies stay on; Ray
    Core still schedules the tasks against the CPUs. Restored afterwards: the DataContext is process-wide.
    Ray Data copies the DataContext into a Dataset when it is created, so this must wrap the read."""
    import ray.data
    from ray.data._internal.execution.backpressure_policy import (
        ENABLED_BACKPRESSURE_POLICIES,
        ENABLED_BACKPRESSURE_POLICIES_CONFIG_KEY,
        ResourceBudgetBackpressurePolicy,
    )

    data_ctx = ray.data.DataContext.get_current()
    before = data_ctx.get_config(ENABLED_BACKPRESSURE_POLICIES_CONFIG_KEY)
    data_ctx.set_config(ENABLED_BACKPRESSURE_POLICIES_CONFIG_KEY,
                        [p for p in ENABLED_BACKPRESSURE_POLICIES if p is not ResourceBudgetBackpressurePolicy])
    try:
        yield
    finally:
        if before is None:
            data_ctx.remove_config(ENABLED_BACKPRESSURE_POLICIES_CONFIG_KEY)
        else:
            data_ctx.set_config(ENABLED_BACKPRESSURE_POLICIES_CONFIG_KEY, before)


#: The parquet datasource's footer-reader actors per read (Ray Data reads it when the read is made).
FOOTER_ACTORS_VARIABLE = "RAY_DATA_PARQUET_FOOTER_NUM_ACTORS"


@contextlib.contextmanager
def data_settings(*, cold_start_budget: bool = True, footer_actors: int | None = None, quiet: bool = True,
                  **context: Any) -> Iterator[None]:
    """Ray Data's process-wide settings for the block, all restored afterwards, so no workload run later in
    the process inherits them: each keyword of `context` a DataContext attribute (`shuffle_strategy` by its
    ShuffleStrategy name, e.g. "SORT_SHUFFLE_PULL_BASED"); `cold_start_budget` False runs the block
    `without_cold_start_budget`; `footer_actors` sets RAY_DATA_PARQUET_FOOTER_NUM_ACTORS unless the user set
    it; `quiet` turns progress bars and per-operation INFO lines off. The one place workloads change Ray Data's
    settings. Ray Data copies the DataContext into a Dataset when the Dataset is made: wrap the reads.
    A setting the running Ray's DataContext does not have is left out: an older release (`ray@2.55.1` has
    one parquet datasource, no V1/V2 switch) runs the one behaviour it has."""
    import logging

    import ray.data

    if quiet:
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-operation INFO lines drown the console
        context = {"enable_progress_bars": False, **context}
    if isinstance(context.get("shuffle_strategy"), str):
        context["shuffle_strategy"] = ray.data.context.ShuffleStrategy[context["shuffle_strategy"]]
    ctx = ray.data.DataContext.get_current()
    context = {k: v for k, v in context.items() if hasattr(ctx, k)}
    saved = {k: getattr(ctx, k) for k in context}
    footer_unset = footer_actors is not None and FOOTER_ACTORS_VARIABLE not in os.environ
    if footer_unset:
        os.environ[FOOTER_ACTORS_VARIABLE] = str(footer_actors)
    for k, v in context.items():
        setattr(ctx, k, v)
    try:
        with contextlib.nullcontext() if cold_start_budget else without_cold_start_budget():
            yield
    finally:
        for k, v in saved.items():
            setattr(ctx, k, v)
        if footer_unset:
            os.environ.pop(FOOTER_ACTORS_VARIABLE, None)


def process_id() -> int:
    """Runs inside a worker: which process is it?"""
    return os.getpid()


class RayEngine(Engine):
    name = "ray"
    api = "ray"
    order = 10
    description = "Ray Core tasks and actors (ray.init on this machine, or --ray-address)"
    packages = ("ray",)
    picklers = ("ray.cloudpickle",)
    release_pins = ("ray[data,train]=={version}",)
    endpoint = Endpoint("ray_address", "use an existing Ray cluster (ray and spark-on-ray)")

    def _start(self) -> Any:
        return ray_init(self.budget, self.remote_address())

    def _stop(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()

    def config(self) -> dict[str, Any]:
        return {**ray_config(), "mode": "existing cluster" if self.remote_address() else "local"}

    def budget_caps(self) -> dict[str, str]:
        if self.remote_address():
            return dict(REMOTE_CAPS)
        return {
            "capped": f"CPUs: num_cpus={self.budget.cpus} (tasks and actors are scheduled against it); object store: "
                      f"{OBJECT_STORE_SHARE:.0%} of the memory budget",
            "not capped": "the memory of worker processes: Ray's memory monitor acts on the whole machine "
                          "(it kills workers above 95% of the machine's RAM), not on the budget",
        }

    def worker_pid(self) -> int | None:
        import ray

        pid: int = ray.get(ray.remote(process_id).remote())
        return pid
