"""spark: plain PySpark, `local[N]` on this machine or an existing master (`--spark-master`)."""

from __future__ import annotations

from typing import Any

from enginebench.engines._spark_common import SparkLifecycle, common_configs, prepare_environment, spark_config_summary
from enginebench.engines.base import Endpoint
from enginebench.engines.environment import Environment

#: Share of the memory budget given to the JVM heap (the rest is Python workers and off-heap).
HEAP_SHARE = 0.6


class SparkEngine(SparkLifecycle):
    name = "spark"
    order = 40
    description = "plain PySpark: local[N] on this machine (or --spark-master)"
    packages = ("pyspark",)
    picklers = ("pyspark.cloudpickle",)
    #: Spark's current release line. RayDP (spark-on-ray) accepts PySpark <= 3.5.7 only, so the main
    #: environment keeps 3.5.7 and this engine runs from an overlay with PySpark 4 (`spark@3.5.7`: the old line).
    environment = Environment("spark-4.3.0", ("pyspark==4.3.0",))
    endpoint = Endpoint("spark_master", "use an existing Spark master, e.g. spark://host:7077")

    def _start(self) -> Any:
        address = self.remote_address()
        prepare_environment(local=not address)
        from pyspark.sql import SparkSession

        cpus = self.budget.cpus
        master = address or f"local[{cpus}]"
        heap_mb = int(self.budget.memory_bytes * HEAP_SHARE) // 2**20
        builder = SparkSession.builder.master(master).appName("enginebench")
        configs = common_configs(cpus)
        if address:
            configs["spark.executor.memory"] = f"{heap_mb}m"
            configs.pop("spark.driver.host")
            configs.pop("spark.driver.bindAddress")
        else:
            # local mode: the driver JVM is the executor too, so it gets the heap budget.
            configs["spark.driver.memory"] = f"{heap_mb}m"
        for k, v in configs.items():
            builder = builder.config(k, v)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    def _stop_session(self) -> None:
        self._handle.stop()

    def budget_caps(self) -> dict[str, str]:
        if self.remote_address():
            return {"capped": f"executor heap spark.executor.memory ({HEAP_SHARE:.0%} of the budget)",
                    "not capped": "CPUs and executors: the master's own configuration decides them"}
        return {
            "capped": f"CPUs: local[{self.budget.cpus}] task slots; memory: the JVM heap (spark.driver.memory, "
                      f"{HEAP_SHARE:.0%} of the budget; the rest is left to Python workers and off-heap memory)",
            "not capped": "Python worker processes (RDD functions, pandas UDFs) and JVM off-heap memory",
        }

    def config(self) -> dict[str, Any]:
        if self._handle is None:
            return {}
        summary = spark_config_summary(
            self._handle,
            ("spark.master", "spark.driver.memory", "spark.executor.memory", "spark.default.parallelism",
             "spark.sql.shuffle.partitions", "spark.sql.execution.arrow.pyspark.enabled"),
        )
        # Executors of an existing master register after the context starts: the master's UI has the shape.
        summary["mode"] = "existing master" if self.remote_address() is not None else "local"
        return summary
