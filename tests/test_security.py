"""Engines started by enginebench listen on loopback only, with dashboards and UIs off."""

from __future__ import annotations

import os

import psutil
import pytest
from conftest import wait_for_no_engine_processes

from harness import registry
from harness.budget import Budget

LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


@pytest.mark.engine
@pytest.mark.parametrize("engine", tuple(registry.ENGINES))
def test_every_listening_socket_of_a_started_engine_is_on_loopback(engine: str) -> None:
    eng = registry.engine_class(engine)(Budget(cpus=2, memory_bytes=4 * 2**30))
    eng.start()
    try:
        tree = {p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()}
        listening = [c for c in psutil.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN and c.pid in tree]
        exposed = sorted({(c.laddr.ip, c.laddr.port) for c in listening if c.laddr.ip not in LOOPBACK})
        assert not exposed, f"{engine} listens beyond loopback: {exposed}"
        ports = {c.laddr.port for c in listening}
        assert not ports & {8265, 8787, 4040}, "a dashboard or web UI is listening"
    finally:
        eng.stop()
    assert not wait_for_no_engine_processes()
