"""local: the baseline without an engine: the same FastAPI app (app.py) on uvicorn with one worker process per
CPU of the budget (`uvicorn --workers N`: a supervisor process and N workers sharing the listening socket),
each scoring its requests one at a time with one torch thread.

Setup (the `setup` phase): the uvicorn process started (a child of the driver, stopped by its handle), then
one real request until it is answered. Teardown: SIGTERM to that process (uvicorn stops its workers), a kill
after `STOP_TIMEOUT_S` if it has not exited, then a check that nothing listens on the port any more.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from enginebench import EngineContext, Params, Staged, stop_process
from enginebench.workloads.serve import app, load

#: Seconds uvicorn gets to stop its workers after SIGTERM before it is killed.
STOP_TIMEOUT_S = 15.0


def start(ctx: EngineContext, params: Params, inputs: Any) -> app.Served:
    import uvicorn

    port = app.port()
    folder = Path(inputs["folder"])
    config = app.ServerConfig(inputs["checkpoint"], params["plant"], str(folder / "fault-local"))
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "enginebench.workloads.serve.app:create_app",
           "--host", app.HOST, "--port", str(port), "--workers", str(ctx.cpus), "--log-level", "warning",
           "--no-access-log"]
    env = {**os.environ, app.CONFIG_ENV: config.to_json()}
    log = folder / f"uvicorn-{port}.log"
    t0 = time.perf_counter()
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT)
    url = app.url(port)
    try:
        app.wait_until_answering(url, inputs["first_image"], params["start_timeout_s"],
                                 alive=lambda: proc.poll() is None)
    except BaseException as exc:
        stop_process(proc, STOP_TIMEOUT_S)
        lines = log.read_text(errors="replace").strip().splitlines()
        if lines and isinstance(exc, RuntimeError):
            raise RuntimeError(f"{exc}: {lines[-1]}") from None
        raise
    return app.Served(url, port, f"uvicorn {uvicorn.__version__}: {ctx.cpus} worker processes, FastAPI, one request "
                      "at a time per worker", time.perf_counter() - t0, inputs, handle=proc)


def stop(ctx: EngineContext, params: Params, served: app.Served) -> None:
    stop_process(served.handle, STOP_TIMEOUT_S)
    app.stopped_listening(served.port)


CASES = {"predict": Staged(start, load.run, stop)}
NOTES = {"predict": "FastAPI on uvicorn, one worker process per CPU, each request scored alone in its worker"}
