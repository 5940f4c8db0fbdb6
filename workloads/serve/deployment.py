"""The Ray Serve application: the FastAPI route of `app.py` mounted on a deployment with `serve.ingress`,
as Ray Serve's guide writes an HTTP model server, and the requests batched per replica with `serve.batch`.

Imported by the Serve controller and replicas by name (this module is installed with enginebench), and by
`ray.py` when it deploys; never at import time of the engine file (it imports ray.serve and FastAPI).
"""

# No `from __future__ import annotations` here: Serve's class-based FastAPI view reads the route's
# annotations as objects (strings leave the body unparsed: every request answered 422).
from typing import Any

from fastapi import FastAPI
from ray import serve

from enginebench.workloads.serve.app import ROUTE, ImageIn, LabelOut, Model, ServerConfig

api = FastAPI()


@serve.deployment
@serve.ingress(api)
class Classifier:
    """One replica: the model loaded once in the constructor; concurrent requests to this replica are
    scored together, up to `max_batch_size` images or `batch_wait_s` after the first (0 or 1: no batching)."""

    def __init__(self, config: str, max_batch_size: int, batch_wait_s: float) -> None:
        self.model = Model(ServerConfig.from_json(config))
        self.batched = max_batch_size > 1
        self.score.set_max_batch_size(max(1, max_batch_size))
        self.score.set_batch_wait_timeout_s(batch_wait_s)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)
    async def score(self, images: list[str]) -> list[int]:
        return self.model.labels(images)

    @api.post(ROUTE)
    async def predict(self, item: ImageIn) -> LabelOut:
        self.model.admit(item.id)
        label = await self.score(item.image) if self.batched else self.model.labels([item.image])[0]
        return LabelOut(id=item.id, label=label, pid=self.model.pid)


def application(config: str, replicas: int, max_batch_size: int, batch_wait_s: float, ongoing: int,
                log_level: str = "WARNING", env: dict[str, str] | None = None) -> Any:
    """The bound application: `replicas` replicas of one CPU each, each accepting `ongoing` requests at once
    (`max_ongoing_requests`), logging at `log_level` (Serve's default, INFO, writes an access line per request
    and flushes it; `serve.start`'s logging_config covers only the controller and proxy, so the replicas get
    their own, as Ray's serve benchmarks set it), with `env` in the replicas' environment (Serve's settings
    are read when a replica's process imports Serve)."""
    actor: dict[str, Any] = {"num_cpus": 1, **({"runtime_env": {"env_vars": env}} if env else {})}
    return Classifier.options(num_replicas=replicas, ray_actor_options=actor, max_ongoing_requests=ongoing,
                              logging_config={"log_level": log_level}).bind(config, max_batch_size, batch_wait_s)
