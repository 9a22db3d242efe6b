"""`oup up`'s supervisor with stand-in children: a stop while the demo is seeded or certified stops
the platform and records nothing as done; services are addressed as callers reach them."""

from __future__ import annotations

import importlib
import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from mims.cli.demo.certify import Certification, Outcome, default_context_url
from mims.cli.services import (
    gateway_public_url,
    get_service,
    portal_redirect_uri,
    service_url,
)
from mims.cli.supervisor import (
    CERTIFIED_MARKER,
    DEMO_MARKER,
    DEMO_NEEDS,
    Child,
    Supervisor,
)

# By module: `mims.cli` names its `demo` command group after the package.
COMMANDS, CERTIFY = (importlib.import_module(f"mims.cli.demo.{name}") for name in ("commands", "certify"))


class StandIn:
    """A child process that runs until it is told to stop."""

    pid = 4242
    returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def terminate(self) -> None:
        self.returncode = 0

    kill = terminate

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode


@pytest.fixture(autouse=True)
def signal_handlers() -> Iterator[None]:
    """Whatever a supervisor does to them, the handlers pytest runs with come back."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@pytest.fixture(autouse=True)
def no_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OUP_GATEWAY_PUBLIC_URL", "OUP_PUBLIC_URL", "OUP_GATEWAY_PORTAL_REDIRECT_URI",
                 "OUP_PORTAL_REDIRECT_URI"):
        monkeypatch.delenv(name, raising=False)


def supervisor(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Supervisor:
    """A supervisor of the demo's services whose children are stand-ins, ready at once."""
    running = Supervisor([get_service(name) for name in sorted(DEMO_NEEDS)], host="127.0.0.1", data_dir=data_dir,
                         demo_city="rotterdam")
    running.console = Console(file=io.StringIO(), width=200)

    def start(services: list, issuer: dict[str, str]) -> None:
        running.children += [Child(s, service_url(s.name, "127.0.0.1"), StandIn()) for s in services]  # type: ignore[arg-type]

    monkeypatch.setattr(running, "_start", start)
    monkeypatch.setattr(running, "_wait_ready", lambda deadline: True)
    monkeypatch.setattr(running, "_issuer", dict)
    monkeypatch.setattr(running, "_table", lambda: "the table")
    return running


def printed(running: Supervisor) -> str:
    return running.console.file.getvalue()  # type: ignore[attr-defined]


def test_a_stop_while_the_demo_is_seeded_stops_the_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running = supervisor(tmp_path, monkeypatch)

    def seeding(*args: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the stop interrupts this
        raise AssertionError("the stop did not interrupt the seed")

    monkeypatch.setattr(COMMANDS, "run_seed", seeding)
    monkeypatch.setattr(running, "_certify_demo", lambda: None)
    monkeypatch.setattr(running, "_watch", lambda: 99)
    assert running.run(ready_timeout=5.0) == 0
    assert "could not be seeded" not in printed(running)
    assert "All services ready" not in printed(running)
    assert "All services stopped." in printed(running)
    assert [child.process.poll() for child in running.children] == [0] * len(DEMO_NEEDS)
    assert not (tmp_path / DEMO_MARKER).exists()


def _certification(city: str) -> Certification:
    return Certification(city, [Outcome("identity", "http://x", Path("run"), {"passed": 1}, True, 0.1)], 0.1)


def _certifying(started: threading.Event):
    def certify(city: str, gateway: str, data_dir: Path, context_url: str | None = None, *,
                stop: threading.Event | None = None) -> Certification:
        started.set()
        if stop is None:
            time.sleep(0.5)
        else:
            stop.wait(10)  # the runs end as soon as the platform stops
        return _certification(city)
    return certify


def test_a_stop_while_certifying_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running = supervisor(tmp_path, monkeypatch)
    running._start(running.services, {})
    started = threading.Event()
    monkeypatch.setattr(CERTIFY, "certify", _certifying(started))
    running._certifier = threading.Thread(target=running._certify_demo, daemon=True)
    running._certifier.start()
    assert started.wait(5)
    running._stop_all()
    assert not running._certifier.is_alive()
    time.sleep(0.6)
    assert not (tmp_path / CERTIFIED_MARKER).exists()
    assert "could not be certified" not in printed(running)


def test_a_finished_certification_writes_the_marker_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running = supervisor(tmp_path, monkeypatch)
    running._start(running.services, {})
    monkeypatch.setattr(CERTIFY, "certify", lambda city, *args, **kwargs: _certification(city))
    running._certify_demo()
    assert (tmp_path / CERTIFIED_MARKER).read_bytes().startswith(b"{")
    assert [path.name for path in tmp_path.iterdir()] == [CERTIFIED_MARKER]


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", "http://127.0.0.1:8102"), ("0.0.0.0", "http://127.0.0.1:8102"), ("::", "http://[::1]:8102"),
    ("192.0.2.7", "http://192.0.2.7:8102"),
])
def test_a_service_is_addressed_where_callers_reach_it(host: str, expected: str) -> None:
    assert service_url("context", host, 100) == expected


def test_the_gateway_is_addressed_at_its_public_url_when_it_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gateway_public_url("0.0.0.0", 100) == "http://127.0.0.1:8100"
    assert portal_redirect_uri("0.0.0.0", 100) == "http://127.0.0.1:8100/auth/callback"
    monkeypatch.setenv("OUP_GATEWAY_PUBLIC_URL", "https://city.example/")
    assert portal_redirect_uri("0.0.0.0", 100) == "https://city.example/auth/callback"
    monkeypatch.setenv("OUP_GATEWAY_PORTAL_REDIRECT_URI", "https://city.example/portal/callback")
    assert portal_redirect_uri("0.0.0.0", 100) == "https://city.example/portal/callback"


def test_services_started_on_every_interface_are_told_reachable_addresses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running = Supervisor([get_service(name) for name in sorted(DEMO_NEEDS)], host="0.0.0.0", data_dir=tmp_path,
                         port_offset=100)
    gateway = running._upstream_settings(get_service("gateway"))
    assert gateway["OUP_GATEWAY_IDENTITY_URL"] == "http://127.0.0.1:8101"
    assert running._upstream_settings(get_service("marketplace"))["OUP_MARKETPLACE_PUBLIC_URL"] == \
        "http://127.0.0.1:8100/marketplace"
    monkeypatch.setenv("OUP_GATEWAY_PUBLIC_URL", "https://city.example")
    assert running._upstream_settings(get_service("marketplace"))["OUP_MARKETPLACE_PUBLIC_URL"] == \
        "https://city.example/marketplace"


def test_the_context_beside_a_gateway_is_found_at_the_same_offset() -> None:
    assert default_context_url("http://127.0.0.1:8100") == "http://127.0.0.1:8102"
    assert default_context_url("http://0.0.0.0:8000/") == "http://127.0.0.1:8002"
