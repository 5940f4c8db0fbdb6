"""What both servers share: the request and reply bodies, one image's decode and predict (the inference
workload's checkpoint, `decode` and `predict`), the planted faults, and the local baseline's FastAPI app.

A request is `POST /predict` with JSON `{"id": 17, "image": "<base64 of the 3,072 CIFAR-10 bytes>"}`; the
reply is `{"id": 17, "label": 3, "pid": 4242}` (pid: the process that scored it, so a run can say how many
replicas or workers answered). Ray Serve mounts the same FastAPI route with `serve.ingress`, so the two
servers differ in what carries the request to the model, never in the endpoint's code.

The local baseline runs `uvicorn --factory enginebench.workloads.serve.app:create_app --workers N`: each
worker process builds the app from the JSON in `CONFIG_ENV` (checkpoint, plant, fault claim file).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from enginebench.workloads.inference import model as m

#: The environment variable a uvicorn worker reads its `ServerConfig` from (JSON).
CONFIG_ENV = "ENGINEBENCH_SERVE_CONFIG"
#: The environment variable naming the loopback port both servers listen on (default `DEFAULT_PORT`, Ray
#: Serve's own default); a port another program holds is refused with one line.
PORT_ENV = "ENGINEBENCH_SERVE_PORT"
DEFAULT_PORT = 8000
HOST = "127.0.0.1"
#: The route both servers answer on.
ROUTE = "/predict"
#: The planted faults (`params["plant"]`): one replica (or worker process) that returns a wrong label for
#: every image, one that drops every second request it gets, the first included (answers HTTP 500). The
#: faulty one is the first process to score a request of the load, so it is one that gets traffic (uvicorn
#: hands a keep-alive connection to one worker for good: at low concurrency one worker may get every
#: request). Tests plant each and expect `wrong`; never set by a normal run.
PLANTS = ("wrong-label", "drop-requests")
#: The id of the readiness probe's request (a real request, scored, never faulted and never the one that
#: picks the faulty process).
PROBE_ID = -1


@dataclass(frozen=True)
class ServerConfig:
    """What a serving process needs: the checkpoint, and the plant with the file the faulty process claims
    (the first process to create it is the faulty one; "" : no plant)."""

    checkpoint: m.Checkpoint
    plant: str = ""
    claim_path: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        raw = json.loads(text)
        return cls(m.Checkpoint(**raw["checkpoint"]), raw.get("plant", ""), raw.get("claim_path", ""))


def _claims_fault(path: str) -> bool:
    """Whether this process is the one the plant makes faulty: the first to create `path`."""
    if not path:
        return False
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


class Model:
    """One serving process's model (loaded once, one torch thread, CPU) and its planted fault, if any."""

    def __init__(self, config: ServerConfig) -> None:
        if config.plant and config.plant not in PLANTS:
            raise ValueError(f"unknown plant {config.plant!r} (accepted: {', '.join(PLANTS)})")
        self.net, _, _ = m.loaded_model(config.checkpoint)
        self.pid = os.getpid()
        self.plant, self.claim_path = config.plant, config.claim_path
        self.faulty = ""  # the plant, once this process has claimed it
        self._claimed = False
        self._requests = itertools.count()

    def admit(self, request_id: int) -> None:
        """Called once per request before it is scored. With a plant, the first request of the load a process
        gets decides whether it is the faulty one; the drop-requests plant then fails every second request."""
        if not self.plant or request_id == PROBE_ID:
            return
        if not self._claimed:
            self._claimed = True
            self.faulty = self.plant if _claims_fault(self.claim_path) else ""
        if self.faulty == "drop-requests" and next(self._requests) % 2 == 0:
            raise RuntimeError("planted fault: this replica drops every second request")

    def labels(self, images: list[str]) -> list[int]:
        """Labels for base64-encoded images, scored as one batch."""
        rows = [base64.b64decode(image, validate=True) for image in images]
        labels: np.ndarray = m.predict(self.net, m.decode(rows), max(1, len(rows)))
        if self.faulty == "wrong-label":
            labels = (labels + 1) % 10
        return [int(label) for label in labels]


class ImageIn(BaseModel):
    """A request: the image's id and its 3,072 bytes, base64-encoded."""

    id: int
    image: str


class LabelOut(BaseModel):
    """A reply: the image's id, its label and the pid of the process that scored it."""

    id: int
    label: int
    pid: int


@dataclass(frozen=True)
class Served:
    """A started server, as a Staged setup hands it to the load: where it answers, what it is (`server`),
    and how long start and deploy took until the first answer."""

    url: str
    port: int
    server: str
    start_s: float
    inputs: dict[str, Any]  # the case's inputs (the images the load sends)
    handle: Any = None  # the engine's own handle (the uvicorn process), for the teardown


def url(port: int) -> str:
    """Where both servers answer on loopback."""
    return f"http://{HOST}:{port}{ROUTE}"


def port() -> int:
    """The port to listen on (`PORT_ENV`, default `DEFAULT_PORT`), after checking nothing holds it: a port in
    use, or a value that is no port, is a one-line error."""
    import socket

    text = os.environ.get(PORT_ENV, str(DEFAULT_PORT))
    if not text.isdigit() or not 1024 <= int(text) <= 65535:
        raise ValueError(f"{PORT_ENV}={text!r} is not a port (accepted: 1024-65535)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the servers bind: connections of an earlier run still in TIME_WAIT do not hold the port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, int(text)))
        except OSError as exc:
            raise OSError(f"port {text} on {HOST} is in use ({exc.strerror}): stop what listens there or set "
                          f"{PORT_ENV} to a free port") from None
    return int(text)


def listening(port: int) -> bool:
    """Whether something accepts connections on the loopback port (a teardown leaves nothing that does)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex((HOST, port)) == 0


def stopped_listening(port: int, timeout_s: float = 10.0) -> None:
    """After a teardown: wait until nothing accepts connections on `port`; still listening is an error."""
    import time

    deadline = time.perf_counter() + timeout_s
    while listening(port):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"port {port} on {HOST} still accepts connections {timeout_s:g} s after the server "
                               "was stopped")
        time.sleep(0.1)


def wait_until_answering(url: str, image: bytes, timeout_s: float, alive: Any = None) -> None:
    """Send one real request until it is answered (HTTP 200), at most `timeout_s`. `alive()` (optional) says
    whether the server is still running: a server that exits is an error."""
    import time
    import urllib.error
    import urllib.request

    body = json.dumps({"id": PROBE_ID, "image": base64.b64encode(image).decode()}).encode()
    t0 = time.perf_counter()
    last = ""
    while time.perf_counter() - t0 < timeout_s:
        if alive is not None and not alive():
            raise RuntimeError(f"the server at {url} exited while starting")
        try:
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"the server at {url} did not answer within {timeout_s:g} s ({last})")


def create_app() -> Any:
    """The local baseline's FastAPI app (uvicorn `--factory`): the model loaded at start-up, one image per
    request scored inline on the event loop (one worker process per CPU, one torch thread each)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    config = ServerConfig.from_json(os.environ[CONFIG_ENV])
    state: dict[str, Model] = {}

    @asynccontextmanager
    async def lifespan(_: Any) -> Any:
        state["model"] = Model(config)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post(ROUTE, response_model=LabelOut)
    async def predict(item: ImageIn) -> LabelOut:
        model = state["model"]
        model.admit(item.id)
        return LabelOut(id=item.id, label=model.labels([item.image])[0], pid=model.pid)

    return app
