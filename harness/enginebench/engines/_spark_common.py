"""What `spark` and `spark-on-ray` share: one lifecycle base (`SparkLifecycle`: shipping a workload folder,
the worker PID, the stop sequence), JVM options, quiet logging, and stopping the driver JVM."""

from __future__ import annotations

import os
import subprocess
import sys
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from enginebench.engines.base import Engine, stop_process

#: SPARK_CONF_DIR for every JVM enginebench starts: holds a log4j2.properties that logs errors only.
SPARK_CONF_DIR = Path(__file__).with_name("spark_conf")

#: Packages JDK 17 must open to Spark/Arrow/RayDP; without them RayDP's hand-off of Spark data to
#: Ray's object store fails (see shared/ENVIRONMENT.md).
ADD_OPENS_PACKAGES = (
    "java.lang java.lang.invoke java.lang.reflect java.lang.ref java.io java.net java.nio java.math "
    "java.text java.time java.security java.util java.util.concurrent "
    "java.util.concurrent.atomic java.util.regex jdk.internal.ref jdk.internal.misc sun.nio.ch "
    "sun.nio.cs sun.nio.fs sun.security.action sun.util.calendar"
).split()


def java_options() -> str:
    """extraJavaOptions for every JVM: the JDK 17 --add-opens set."""
    return " ".join(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in ADD_OPENS_PACKAGES)


def prepare_environment(local: bool) -> None:
    """Environment the driver JVM and Python workers inherit: this interpreter for Python workers
    (pyspark reads PYSPARK_PYTHON), our quiet log4j2 config, and loopback when running locally."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_CONF_DIR", str(SPARK_CONF_DIR))
    if local:
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"


def common_configs(cpus: int) -> dict[str, str]:
    """Spark settings both lifecycles use: loopback, UI off, this interpreter for Python workers, Arrow."""
    opts = java_options()
    return {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.extraJavaOptions": opts,
        "spark.executor.extraJavaOptions": opts,
        "spark.python.worker.reuse": "true",
        # Shuffle partitions sized to the budget rather than Spark's fixed default of 200.
        "spark.sql.shuffle.partitions": str(max(2, cpus * 2)),
        "spark.default.parallelism": str(cpus),
        # Arrow between the JVM and Python for toPandas, createDataFrame(pandas) and pandas UDFs: what
        # Spark's own docs recommend for pandas users (off by default in 3.5). Set here, once for every
        # workload, so no figure depends on which workload ran first.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }


def shutdown_gateway() -> None:
    """Stop the driver JVM pyspark launched. `SparkSession.stop()` leaves it running for reuse;
    we stop it by its process handle so no Java process outlives the engine."""
    from pyspark import SparkContext

    gateway: Any = SparkContext._gateway
    if gateway is None:
        return
    proc: subprocess.Popen[bytes] | None = getattr(gateway, "proc", None)
    try:
        gateway.shutdown()
    except Exception:  # noqa: BLE001 - the JVM may already be gone; the process is handled below
        pass
    if proc is not None:
        stop_process(proc, 15)
    SparkContext._gateway = None
    SparkContext._jvm = None


def process_id(_: Any) -> int:
    """Runs inside a Python worker: which process is it?"""
    return os.getpid()


def python_worker_pid(spark: Any) -> int:
    """PID of one of the Python workers that execute Spark's Python tasks."""
    pid: int = spark.sparkContext.parallelize([0], 1).map(process_id).collect()[0]
    return pid


def spark_config_summary(spark: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    conf = spark.sparkContext.getConf()
    return {k: conf.get(k) for k in keys if conf.get(k) is not None}


class SparkLifecycle(Engine):
    """The part of a Spark engine's lifecycle that does not depend on where the executors live: both hand
    a SparkSession to `workloads/*/spark.py`, bring a user's workload folder to the executors the same way,
    find a Python worker the same way, and stop in the same order (the session, then the driver JVM by its
    process handle, then what the engine started beside them). Subclasses start the session and say how it
    stops (`_stop_session`) and what else to stop afterwards (`_stop_after_jvm`)."""

    api: ClassVar[str] = "spark"
    needs_java: ClassVar[bool] = True

    @abstractmethod
    def _stop_session(self) -> None:
        """Stop the SparkSession this engine started (called only when one was started)."""

    def _stop_after_jvm(self) -> None:
        """Stop what the engine started beside Spark, after the driver JVM is gone (default: nothing)."""
        return None

    def _stop(self) -> None:
        try:
            if self._handle is not None:
                self._stop_session()
        finally:
            try:
                shutdown_gateway()
            finally:
                self._stop_after_jvm()

    def ship(self, archive: Path) -> None:
        # Spark's way to bring local Python to the executors (each task's sys.path gets the file).
        self._handle.sparkContext.addPyFile(str(archive))

    def worker_pid(self) -> int | None:
        return python_worker_pid(self._handle)
