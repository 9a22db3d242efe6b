"""The demo platform its tests share: `oup up` as a user runs it (first start seeds Rotterdam and
certifies its MIMs), started once for the demo tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mims.cli.services import SERVICES
from tests.demo.demo_platform import Platform
from tests.serving import free_port_offset, oup_up


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    offset = free_port_offset([service.port for service in SERVICES.values()])
    with oup_up(data_dir, offset, demo=True) as (_, printed):
        platform = Platform(f"http://127.0.0.1:{SERVICES['gateway'].port + offset}", data_dir, printed)
        try:
            yield platform
        finally:
            platform.close()


