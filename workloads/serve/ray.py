"""ray: a Ray Serve application (deployment.py) with one replica of one CPU per CPU of the budget, HTTP through
Serve's proxy on loopback, requests batched per replica with `serve.batch` (`VARIANTS`: without batching).

Setup (the `setup` phase): `serve.start` with the proxy on 127.0.0.1 and the workload's port, `serve.run` of the
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


def deploy(ctx: EngineContext, params: Params, inputs: Any, batch: bool = True) -> app.Served:
    import ray
    from ray import serve

    from enginebench.workloads.serve import deployment

    port = app.port()
    config = app.ServerConfig(inputs["checkpoint"], params["plant"], str(Path(inputs["folder"]) / "fault-ray"))
    max_batch = params["max_batch_size"] if batch else 1
    t0 = time.perf_counter()
    serve.start(http_options={"host": app.HOST, "port": port}, logging_config={"log_level": "WARNING"})
    try:
        serve.run(deployment.application(config.to_json(), ctx.cpus, max_batch, params["batch_wait_ms"] / 1000),
                  name=APP_NAME, route_prefix="/")
        url = f"http://{app.HOST}:{port}{app.ROUTE}"
        app.wait_until_answering(url, inputs["first_image"], params["start_timeout_s"])
    except BaseException:
        serve.shutdown()
        app.stopped_listening(port)
        raise
    return app.Served(url, port, f"Ray Serve {ray.__version__}: {ctx.cpus} replicas of 1 CPU behind Serve's HTTP "
                      f"proxy, " + (f"serve.batch up to {max_batch} requests or {params['batch_wait_ms']:g} ms"
                                    if batch else "no batching"),
                      ctx.cpus, time.perf_counter() - t0, inputs)


def shutdown(ctx: EngineContext, params: Params, served: app.Served) -> None:
    from ray import serve

    serve.shutdown()
    app.stopped_listening(served.port)


CASES = {"predict": Staged(deploy, load.run, shutdown)}
DEFAULT_VARIANT = "serve-batch"
VARIANTS = {"no-batch": {"predict": Staged(partial(deploy, batch=False), load.run, shutdown)}}
VARIANT_NOTES = {"no-batch": "the same deployment scoring each request alone (no serve.batch)"}
NOTES = {"predict": "Ray Serve: FastAPI ingress deployment, one 1-CPU replica per CPU, serve.batch, HTTP via "
                    "Serve's proxy on loopback"}
