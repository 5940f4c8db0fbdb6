"""ray: a Ray Serve application (deployment.py) with one replica of one CPU per CPU of the budget, HTTP through
Serve's proxy on loopback, requests batched per replica with `serve.batch`, the replicas logging at WARNING
(`VARIANTS`: without batching, other batch and admission sizes, INFO logs, the performance guide's settings).

Setup (the `setup` phase): refused with one line when Serve already runs on the cluster (the teardown would
take it down); `serve.start` with the proxy on 127.0.0.1 and the workload's port, `serve.run` of the
application, then one real request until it is answered. Teardown: `serve.shutdown()`, then a check that
nothing listens on the port any more.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

from enginebench import EngineContext, Params, Staged
from enginebench.workloads.serve import app, load

#: The Serve application's name (`serve.run(name=...)`).
APP_NAME = "enginebench-serve"


#: Ray Serve's high-throughput mode (Ray 2.56+): HAProxy as the ingress, and direct gRPC between proxy and
#: replicas. Read by Serve's processes when the Ray cluster starts, so it is set in the environment the cluster
#: starts from (`RAY_SERVE_ENABLE_HA_PROXY=1 RAY_SERVE_THROUGHPUT_OPTIMIZED=1 enginebench run ...`), not here;
#: docs/workloads/serve.md measures both modes.
HIGH_THROUGHPUT = ("RAY_SERVE_ENABLE_HA_PROXY", "RAY_SERVE_THROUGHPUT_OPTIMIZED")


#: Serve's settings read by every Serve process, the proxy included, when set where the cluster starts (the
#: performance guide's loopback-safe throughput settings): named in the record's `server` note when set.
CLUSTER_SETTINGS = ("RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD", "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP",
                    "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE", "RAY_SERVE_LOG_TO_STDERR")


def ingress() -> str:
    """What carries HTTP to the replicas, from the environment the driver (and so the local cluster) started
    with: Serve's Python HTTP proxy (its default), or the high-throughput mode's HAProxy; and any of Serve's
    CLUSTER_SETTINGS set there."""
    import os

    on = [v for v in HIGH_THROUGHPUT if os.environ.get(v) == "1"]
    what = ("Serve's HTTP proxy" if not on else
            "HAProxy (high-throughput mode: " + ", ".join(f"{v}=1" for v in on) + ")")
    settings = [f"{v}={os.environ[v]}" for v in CLUSTER_SETTINGS if v in os.environ]
    return what + (f" (cluster started with {' '.join(settings)})" if settings else "")


#: Ray Serve's performance guide's throughput settings that need no other ingress (no HAProxy, nothing bound
#: beyond loopback), as they reach a replica: the user code on the replica's event loop instead of a thread of
#: its own, request-path log lines buffered 1,000 at a time, no logging to stderr. The fourth,
#: RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP=0, is read by the proxy, which Serve starts in the cluster's own
#: environment, so it cannot be set per deployment (the `throughput-env` variant leaves it out).
THROUGHPUT_ENV = {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0", "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1000",
                  "RAY_SERVE_LOG_TO_STDERR": "0"}


def deploy(ctx: EngineContext, params: Params, inputs: Any, batch: bool = True, max_batch: int | None = None,
           ongoing: int | None = None, log_level: str = "WARNING", env: dict[str, str] | None = None) -> app.Served:
    """Start Serve and deploy the application (see the module's doc); `batch`, `max_batch` (default: the
    scale's `max_batch_size`), `ongoing` (`max_ongoing_requests`, default twice the batch), the replicas'
    `log_level` and `env` are what the variants change."""
    import ray
    from ray import serve

    from enginebench.workloads.serve import deployment

    running = serve.status()
    if running.applications or running.proxies:
        raise RuntimeError(f"Ray Serve is already running on this Ray cluster (applications: "
                           f"{', '.join(running.applications) or 'none'}): the serve workload deploys its own and "
                           "shuts Serve down afterwards, which would take yours down too (accepted: a Ray cluster "
                           "without Serve running)")
    port = app.port()
    config = app.ServerConfig(inputs["checkpoint"], params["plant"], str(Path(inputs["folder"]) / "fault-ray"))
    max_batch = (max_batch or params["max_batch_size"]) if batch else 1
    # Ray's batching guide: max_ongoing_requests at least the batch size, so a full batch can form (Serve's
    # default, 5, would cap it); twice the batch lets the next batch gather while one is scored.
    ongoing = ongoing or max(5, 2 * max_batch)
    t0 = time.perf_counter()
    serve.start(http_options={"host": app.HOST, "port": port}, logging_config={"log_level": "WARNING"})
    try:
        serve.run(deployment.application(config.to_json(), ctx.cpus, max_batch, params["batch_wait_ms"] / 1000,
                                         ongoing, log_level, env), name=APP_NAME, route_prefix="/")
        app.wait_until_answering(app.url(port), inputs["first_image"], params["start_timeout_s"])
    except BaseException:
        serve.shutdown()
        app.stopped_listening(port)
        raise
    batching = (f"serve.batch up to {max_batch} requests or {params['batch_wait_ms']:g} ms" if batch
                else "no batching") + f", max_ongoing_requests {ongoing}, replicas log at {log_level}" + \
        (f", replicas' environment {' '.join(f'{k}={v}' for k, v in env.items())}" if env else "")
    server = f"Ray Serve {ray.__version__}: {ctx.cpus} replicas of 1 CPU behind {ingress()}, {batching}"
    return app.Served(app.url(port), port, server, time.perf_counter() - t0, inputs)


def shutdown(ctx: EngineContext, params: Params, served: app.Served) -> None:
    from ray import serve

    serve.shutdown()
    app.stopped_listening(served.port)


CASES = {"predict": Staged(deploy, load.run, shutdown)}
DEFAULT_VARIANT = "serve-batch"
VARIANTS = {
    "no-batch": {"predict": Staged(partial(deploy, batch=False), load.run, shutdown)},
    "batch-16": {"predict": Staged(partial(deploy, max_batch=16), load.run, shutdown)},
    "ongoing-64": {"predict": Staged(partial(deploy, ongoing=64), load.run, shutdown)},
    "info-logs": {"predict": Staged(partial(deploy, log_level="INFO"), load.run, shutdown)},
    "throughput-env": {"predict": Staged(partial(deploy, env=THROUGHPUT_ENV), load.run, shutdown)},
}
VARIANT_NOTES = {
    "no-batch": "the same deployment scoring each request alone (no serve.batch)",
    "batch-16": "serve.batch up to 16 requests (max_ongoing_requests 32)",
    "ongoing-64": "max_ongoing_requests 64 per replica (the default: 16): every client's request reaches a replica",
    "info-logs": "the replicas log at Serve's default level, INFO: an access line per request, flushed (the "
                 "default until 2026-12-07)",
    "throughput-env": "the replicas with the performance guide's loopback-safe settings: "
                      + ", ".join(f"{k}={v}" for k, v in THROUGHPUT_ENV.items()),
}
NOTES = {"predict": "Ray Serve: FastAPI ingress deployment, one 1-CPU replica per CPU, serve.batch, HTTP via "
                    "Serve's proxy on loopback"}
