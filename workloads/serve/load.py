"""The load: a closed-loop HTTP client (asyncio + aiohttp) on loopback, in a process of its own.

`drive` (in the driver) starts `python -m enginebench.workloads.serve.load` as a child process, outside the
server's process tree, and registers it with `enginebench.measured_apart`, so the record's CPU and memory
are the server's (and the driver's) and the client's own CPU is recorded beside them. The client runs the
concurrency levels one after another. At each level C it first sends C warm-up requests (one per
connection: connections opened, checked, not timed), then C coroutines each send a request, wait for its
reply and send the next, until the level's request count is reached or its time bound has passed
(requests in flight then finish, each within its own timeout). Image k of the level is image k mod N of the
set, so every level sends the same images in the same order.

What it writes (JSON, one file): per level its concurrency, wall seconds and the client's CPU seconds for
the timed requests, and for every request (warm-ups first) the image id, the HTTP status (0: no reply, the
connection failed; -1: timed out; -2: an HTTP 200 whose body is not the reply), the returned id and label
(-1 when there is none), the pid that answered, and the latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

#: Status stand-ins for requests without a usable HTTP reply: none (the connection failed), none in time, or
#: an HTTP 200 whose body is not the reply JSON.
NO_REPLY, TIMED_OUT, BAD_REPLY = 0, -1, -2
#: Seconds the driver waits for the client beyond its own bounds before stopping it.
GRACE_S = 30.0


def bound_s(levels: list[int], level_s: float, timeout_s: float) -> float:
    """The longest the client can run: each level's time bound, its warm-up and last requests' timeouts."""
    return len(levels) * (level_s + 2 * timeout_s) + GRACE_S


def drive(url: str, images: str, levels: list[int], requests: int, level_s: float, timeout_s: float,
          folder: Path) -> dict[str, Any]:
    """Run the load against `url` in a child process and return what it measured (see the module's doc).
    A client that fails or overruns its bound is an error naming the last line it wrote."""
    from enginebench import measured_apart, stop_process

    out = folder / f"load-{uuid.uuid4().hex[:8]}.json"
    log = out.with_suffix(".log")
    cmd = [sys.executable, "-m", "enginebench.workloads.serve.load", "--url", url, "--images", images,
           "--levels", ",".join(map(str, levels)), "--requests", str(requests), "--seconds", str(level_s),
           "--timeout", str(timeout_s), "--out", str(out)]
    limit = bound_s(levels, level_s, timeout_s)
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        with measured_apart(proc.pid):
            rc = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the load generator ran past its {limit:g} s bound and was stopped") from None
    finally:
        stop_process(proc, 5)
    try:
        if rc != 0:
            lines = log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
            raise RuntimeError(f"the load generator exited with {rc}: {lines[-1]}")
        got: dict[str, Any] = json.loads(out.read_text())
        return got
    finally:
        out.unlink(missing_ok=True)
        log.unlink(missing_ok=True)


def run(ctx: Any, params: Any, served: Any) -> dict[str, Any]:
    """One timed repetition: the load at every level against a started server (`app.Served`); the answer is
    what the client measured plus what the server is and how long it took to start."""
    got = drive(served.url, served.inputs["images"], list(params["levels"]), params["requests"], params["level_s"],
                params["request_timeout_s"], Path(served.inputs["folder"]))
    return {**got, "server": served.server, "start_s": served.start_s}


# --- the client process -------------------------------------------------------------------------------------


async def _level(session: Any, url: str, bodies: list[bytes], concurrency: int, requests: int, level_s: float,
                 timeout_s: float) -> dict[str, Any]:
    import aiohttp

    n = len(bodies)
    rows: list[tuple[int, int, int, int, int, float]] = []  # id, status, returned id, label, pid, ms
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def one(k: int) -> None:
        image = k % n
        t0 = time.perf_counter()
        status, rid, label, pid = NO_REPLY, -1, -1, -1
        try:
            async with session.post(url, data=bodies[image], headers=headers, timeout=timeout) as reply:
                status = reply.status
                if status == 200:
                    body = await reply.json()
                    rid, label, pid = int(body["id"]), int(body["label"]), int(body["pid"])
                else:
                    await reply.read()
        except TimeoutError:
            status = TIMED_OUT
        except aiohttp.ClientError:
            status = BAD_REPLY if status == 200 else NO_REPLY
        except (ValueError, KeyError, TypeError):
            status = BAD_REPLY
        rows.append((image, status, rid, label, pid, (time.perf_counter() - t0) * 1000))

    await asyncio.gather(*(one(k) for k in range(concurrency)))  # warm-up: one request per connection
    warm = len(rows)
    counter = iter(range(requests))
    deadline = time.perf_counter() + level_s

    async def worker() -> None:
        for k in counter:
            if time.perf_counter() > deadline:
                return
            await one(k)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    cols = list(zip(*rows, strict=True))
    return {"concurrency": concurrency, "seconds": seconds, "cpu_s": cpu, "warmup": warm,
            "ids": list(cols[0]), "status": list(cols[1]), "returned": list(cols[2]), "labels": list(cols[3]),
            "pids": list(cols[4]), "latency_ms": [round(x, 4) for x in cols[5]]}


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    import base64

    import aiohttp

    images = np.load(args.images)
    bodies = [json.dumps({"id": i, "image": base64.b64encode(row.tobytes()).decode()}).encode()
              for i, row in enumerate(images)]
    levels = []
    for c in (int(x) for x in args.levels.split(",")):
        connector = aiohttp.TCPConnector(limit=c, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            levels.append(await _level(session, args.url, bodies, c, args.requests, args.seconds, args.timeout))
    return {"levels": levels, "pid": os.getpid(), "client": f"aiohttp {aiohttp.__version__}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m enginebench.workloads.serve.load",
                                 description="closed-loop HTTP load on loopback (the serve workload's client)")
    ap.add_argument("--url", required=True)
    ap.add_argument("--images", required=True, help=".npy file of uint8 rows (N x 3072)")
    ap.add_argument("--levels", required=True, help="comma-separated concurrency levels")
    ap.add_argument("--requests", type=int, required=True, help="timed requests per level, at most")
    ap.add_argument("--seconds", type=float, required=True, help="time bound per level")
    ap.add_argument("--timeout", type=float, required=True, help="seconds one request may take")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        ap.error(f"--url {args.url}: the load targets loopback only (accepted: http://127.0.0.1:PORT/...)")
    try:
        import uvloop  # uvicorn's event loop too: the client spends less of the shared CPUs per request
    except ImportError:
        uvloop = None
    got = uvloop.run(_run(args)) if uvloop is not None else asyncio.run(_run(args))
    tmp = Path(args.out + ".tmp")
    tmp.write_text(json.dumps(got))
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
