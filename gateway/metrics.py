"""Prometheus metrics of the gateway: traffic and latency per route and upstream, upstream failures.

Each app has its own registry (several gateways may live in one process, in tests or a region).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

# Gateway overhead is a few milliseconds; upstream queries can take seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The gateway's collectors, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_requests", "Requests routed, by route, upstream, method and status.",
            ["route", "upstream", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds", "Time from request to the last byte sent, by route and upstream.",
            ["route", "upstream"], buckets=_BUCKETS, registry=self.registry,
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors", "Upstream failures (unreachable, timeout, protocol), by upstream and kind.",
            ["upstream", "kind"], registry=self.registry,
        )

    def observe(self, route: str, upstream: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, upstream, method, str(status)).inc()
        self.latency.labels(route, upstream).observe(seconds)


router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics: requests, latency and upstream errors per route and upstream")
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
