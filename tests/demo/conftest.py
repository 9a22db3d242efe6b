"""The demo platform its tests share: `oup up` as a user runs it (first start seeds Rotterdam and
certifies its MIMs). Session-scoped, so started once per test worker that runs files of this
folder (``--dist loadfile`` gives a worker whole files)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oup_platform import Platform, demo_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with demo_platform(tmp_path_factory.mktemp("demo")) as platform:
        yield platform
