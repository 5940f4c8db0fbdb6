"""Engines started by enginebench listen on loopback only, with dashboards and UIs off."""

from __future__ import annotations

import os

import psutil
import pytest

from enginebench.measure.attempt import Session
from enginebench.plan import registry

LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


@pytest.mark.engine
@pytest.mark.parametrize("started", tuple(registry.ENGINES), indirect=True, scope="session")
def test_every_listening_socket_of_a_started_engine_is_on_loopback(started: Session) -> None:
    engine = started.name
    if started.engine is None:
        assert started.start() is not None, started.info.reason
    tree = {p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()}
    listening = [c for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in tree]
    exposed = sorted({(c.laddr.ip, c.laddr.port) for c in listening if c.laddr.ip not in LOOPBACK})
    assert not exposed, f"{engine} listens beyond loopback: {exposed}"
    ports = {c.laddr.port for c in listening}
    assert not ports & {8265, 8787, 4040}, "a dashboard or web UI is listening"
