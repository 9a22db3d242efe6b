"""`oup up --region`: every city runs the services its demo is seeded through, on ports that do
not clash, and seeds its own demo."""

from __future__ import annotations

from pathlib import Path

from mims.cli.region import SERVICES, cities, up_command
from mims.cli.services import get_service
from mims.cli.supervisor import DEMO_NEEDS


def test_each_city_seeds_its_own_demo_through_all_the_services_it_needs(tmp_path: Path) -> None:
    region = cities("127.0.0.1", tmp_path)
    assert DEMO_NEEDS <= set(SERVICES)
    ports = [get_service(name).port + city.offset for city in region for name in SERVICES]
    assert len(ports) == len(set(ports))
    for city in region:
        command = up_command(city, ready_timeout=30.0, demo=True)
        assert command[command.index("--demo-city") + 1] == city.name
        assert "--no-demo" in up_command(city, ready_timeout=30.0, demo=False)
