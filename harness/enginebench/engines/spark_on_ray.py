"""spark-on-ray: Spark executors as Ray actors through RayDP, on this machine's Ray or `--ray-address`."""

from __future__ import annotations

from typing import Any

from enginebench.engines._spark_common import (
    SparkLifecycle,
    common_configs,
    java_options,
    prepare_environment,
    spark_config_summary,
)
from enginebench.engines.ray import OBJECT_STORE_SHARE, RayEngine, ray_config, ray_init

#: Cores per executor: RayDP runs one JVM actor per executor, so a few cores each keeps JVM count
#: (and memory) low while leaving more than one executor on larger budgets.
MAX_EXECUTOR_CORES = 4
#: Share of the memory budget for executor heaps (the object store takes OBJECT_STORE_SHARE).
HEAP_SHARE = 0.5


def executor_layout(cpus: int, max_cores: int = MAX_EXECUTOR_CORES) -> tuple[int, int]:
    """(num_executors, executor_cores) using exactly `cpus` cores, no executor bigger than max_cores."""
    cores = max(1, min(cpus, max_cores))
    while cpus % cores:
        cores -= 1
    return cpus // cores, cores


class SparkOnRayEngine(SparkLifecycle):
    name = "spark-on-ray"
    order = 30
    description = "Spark on a Ray cluster through RayDP (raydp.init_spark)"
    packages = ("ray", "raydp", "pyspark")
    release_pins = ("raydp=={version}",)  # its PySpark and Ray: what that release accepts of the main ones
    picklers = ("ray.cloudpickle", "pyspark.cloudpickle")
    endpoint = RayEngine.endpoint

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ray_started = False
        self.layout = executor_layout(self.budget.cpus)

    def _start(self) -> Any:
        address = self.remote_address()
        prepare_environment(local=not address)
        assert HEAP_SHARE + OBJECT_STORE_SHARE < 1
        ray_init(self.budget, address)
        self._ray_started = True
        import ray
        import raydp

        if address:
            # An executor is one Ray actor and must fit on one node: size them to the smallest node.
            smallest = min(int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive"))
            self.layout = executor_layout(self.budget.cpus, min(MAX_EXECUTOR_CORES, smallest))
        num_executors, cores = self.layout
        heap_mb = int(self.budget.memory_bytes * HEAP_SHARE) // num_executors // 2**20
        configs = common_configs(self.budget.cpus)
        configs["spark.ray.raydp_app_master.extraJavaOptions"] = java_options()
        if not address:
            # On our own node, executors keep their Spark task slots (executor_cores) but reserve no
            # Ray CPU: a RayDP job alternates Spark stages with Ray steps (ray.data.from_spark, Ray
            # Data, Ray Train), and idle executors holding every budgeted Ray CPU leave those steps
            # unschedulable (they hang). On an existing cluster the reservation stays, so Ray keeps
            # spreading executors over nodes; the cluster is expected to have CPUs beyond the budget.
            configs["spark.ray.raydp_spark_executor.actor.resource.cpu"] = "0"
        if address:
            configs.pop("spark.driver.host")
            configs.pop("spark.driver.bindAddress")
        spark = raydp.init_spark(
            app_name="enginebench",
            num_executors=num_executors,
            executor_cores=cores,
            executor_memory=f"{heap_mb}m",
            configs=configs,
        )
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    def _stop_session(self) -> None:
        import raydp

        raydp.stop_spark()

    def _stop_after_jvm(self) -> None:
        if self._ray_started:
            import ray

            ray.shutdown()
            self._ray_started = False

    def budget_caps(self) -> dict[str, str]:
        num_executors, cores = self.layout
        return {
            "capped": f"CPUs: {num_executors} executor(s) x {cores} Spark task slots; memory: executor heaps "
                      f"({HEAP_SHARE:.0%} of the budget) and Ray's object store ({OBJECT_STORE_SHARE:.0%})"
                      + ("" if self.remote_address() else "; Ray's num_cpus"),
            "not capped": "Python worker processes, Ray worker processes and the RayDP app master's JVM",
        }

    def config(self) -> dict[str, Any]:
        if self._handle is None:
            return {}
        num_executors, cores = self.layout
        return {
            "executors": num_executors,
            "executor_cores": cores,
            **spark_config_summary(self._handle, ("spark.master", "spark.executor.memory",
                                                  "spark.sql.execution.arrow.pyspark.enabled")),
            "ray": ray_config(),
        }
