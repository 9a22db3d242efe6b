"""Grant lookups as the gateway makes them: ``python -m bench.marketplace_grants``.

A stand-in marketplace (``GET /grants?client_id=``, two access-grant@1.0.0 documents per client)
is served by uvicorn in its own process on 127.0.0.1. In this process a ``CachedGrants`` in front of
a ``MarketplaceGrants`` looks up grants and checks them with ``Grant.covers`` (scope, entity type,
subject, time), as the gateway's policy enforcement point does for a token lacking a scope:

- ``miss``: distinct clients, each asked of the marketplace over HTTP (32 at a time);
- ``hit``: clients already cached, asked again: the path a busy client takes;
- ``mixed``: 1 in 100 lookups a new client, the rest repeated ones.

Target: >= 20,000 lookups/s with caching (``hit``). Bounded: about ``seconds`` plus start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from bench.serving import free_port, uvicorn_served
from gateway.grants import CachedGrants, MarketplaceGrants

TARGET = 20_000.0
CONCURRENCY = 32


def stand_in_marketplace() -> FastAPI:
    """The marketplace's grants endpoint: every client holds a Building grant and a counted one."""
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/grants")
    async def grants(client_id: str) -> dict[str, Any]:
        def grant(n: int, types: list[str], remaining: int | None) -> dict[str, Any]:
            return {"grant_id": f"urn:x:grant:{client_id}:{n}", "agreement_id": f"urn:x:agreement:{client_id}:{n}",
                    "client_id": client_id, "dataset": f"https://data.city.example/datasets/{n}",
                    "query": {"entity_types": types}, "scopes": ["context:read"],
                    "not_before": "2020-01-01T00:00:00Z", "not_after": None, "remaining": remaining,
                    "status": "active"}
        return {"grants": [grant(1, ["Building"], None), grant(2, ["OffStreetParking"], 100)]}

    return app


async def _lookup(source: CachedGrants, client_id: str) -> bool:
    """One lookup as the gateway makes it: the client's grants, the first covering one."""
    held = await source.grants(client_id, "user")
    now = datetime.now(UTC)
    return any(g.covers(("context:read",), ("Building",), subject="user", at=now) for g in held)


async def _timed(source: CachedGrants, names: Iterator[str], seconds: float, concurrency: int = 1) -> tuple[int, float]:
    """Lookups of the clients ``names`` yields, for about ``seconds``; (count, elapsed)."""
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    batch = 1 if concurrency > 1 else 100  # between looks at the clock

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            for name in itertools.islice(names, batch):
                assert await _lookup(source, name)
                done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started


async def _measure(base_url: str, seconds: float) -> dict[str, float]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
        source = CachedGrants(MarketplaceGrants(base_url, client), ttl=300, maxsize=100_000)
        assert await _lookup(source, "warm-up")
        misses = iter(f"client-{n}" for n in range(10**9))
        miss_count, miss_time = await _timed(source, misses, seconds * 0.4, CONCURRENCY)
        cached = [f"client-{n}" for n in range(miss_count)]

        hit_count, hit_time = await _timed(source, itertools.cycle(cached), seconds * 0.3)

        def mixed() -> Iterator[str]:
            for n in itertools.count(1):
                yield next(misses) if n % 100 == 0 else cached[n % len(cached)]

        mixed_count, mixed_time = await _timed(source, mixed(), seconds * 0.3)
    return {"miss_lookups_per_s": miss_count / miss_time, "hit_lookups_per_s": hit_count / hit_time,
            "mixed_lookups_per_s": mixed_count / mixed_time, "distinct_clients": float(miss_count)}


def run(seconds: float = 3.0) -> dict[str, float]:
    """Measure grant lookups per second for about ``seconds``; print and return the figures."""
    port = free_port()
    with uvicorn_served("bench.marketplace_grants:stand_in_marketplace", port, {}):
        figures = asyncio.run(_measure(f"http://127.0.0.1:{port}", seconds))
    for name, value in figures.items():
        print(f"{name:22} {value:12,.0f}")
    verdict = "met" if figures["hit_lookups_per_s"] >= TARGET else "NOT met"
    print(f"target >= {TARGET:,.0f} lookups/s with caching: {verdict}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent measuring (default 3)")
    run(parser.parse_args().seconds)
