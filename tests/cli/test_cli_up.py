"""`oup up` starts every MIM on loopback, serves them, and stops them all (no orphans)."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from mims.cli.services import SERVICES
from tests.serving import free_port_offset, oup_up, processes_mentioning


def _wait_gone(marker: str, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := processes_mentioning(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture
def platform(tmp_path):
    offset = free_port_offset([svc.port for svc in SERVICES.values()])
    data_dir = tmp_path / "data"
    urls = {name: f"http://127.0.0.1:{svc.port + offset}" for name, svc in SERVICES.items()}
    with oup_up(data_dir, offset) as (proc, printed):
        yield proc, urls, str(data_dir), printed


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_every_mim_and_stops_cleanly(platform, stop_signal):
    proc, urls, marker, table = platform
    assert proc.poll() is None, "oup up exited early"
    for name, url in urls.items():
        assert name in table and url in table
    for name, url in urls.items():
        doc = httpx.get(f"{url}/.well-known/mim", timeout=5).json()
        assert doc["name"] == name
    children = [pid for pid in processes_mentioning(marker) if pid != proc.pid]
    assert len(children) == len(SERVICES)

    proc.send_signal(stop_signal)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "All services stopped." in out
    assert _wait_gone(marker) == []
    for url in urls.values():
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", timeout=1)


def test_children_die_with_a_killed_supervisor(platform):
    proc, _, marker, _ = platform
    assert proc.poll() is None
    proc.kill()  # no chance to clean up: the kernel's parent-death signal must do it
    proc.wait(timeout=5)
    assert _wait_gone(marker) == []


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_documented_port_is_the_service_default(name, monkeypatch):
    """`oup serve NAME` with no options listens where the README and `oup up` say."""
    for var in [v for v in os.environ if v.startswith("OUP_")]:
        monkeypatch.delenv(var)
    service = SERVICES[name]
    module, _, attr = service.factory.partition(":")
    app = getattr(__import__(module, fromlist=[attr]), attr)()
    assert app.state.settings.port == service.port
