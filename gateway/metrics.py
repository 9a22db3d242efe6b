"""Prometheus metrics of the gateway: traffic and latency per route and upstream, upstream failures,
and each federation peer's answers and circuit.

Each app has its own registry (several gateways may live in one process, in tests or a region).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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

        self.peer_answers = Counter(
            "gateway_peer_answers", "Region requests to federation peers, by peer and result (ok or the failure).",
            ["peer", "result"], registry=self.registry,
        )
        self.peer_duration = Histogram(
            "gateway_peer_duration_seconds", "Time a federation peer took to answer a region request.",
            ["peer"], buckets=_BUCKETS, registry=self.registry,
        )
        self.peer_up = Gauge(
            "gateway_peer_up", "1 when the peer's last region answer arrived, 0 when it failed.",
            ["peer"], registry=self.registry,
        )
        self.peer_circuit_open = Gauge(
            "gateway_peer_circuit_open", "1 while the peer's circuit breaker skips it, else 0.",
            ["peer"], registry=self.registry,
        )

    def observe_peer(self, peer: str, result: str, seconds: float | None, circuit_open: bool) -> None:
        self.peer_answers.labels(peer, result).inc()
        if seconds is not None:
            self.peer_duration.labels(peer).observe(seconds)
        self.peer_up.labels(peer).set(1 if result == "ok" else 0)
        self.peer_circuit_open.labels(peer).set(1 if circuit_open else 0)

    def observe(self, route: str, upstream: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, upstream, method, str(status)).inc()
        self.latency.labels(route, upstream).observe(seconds)


router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics: requests, latency and upstream errors per route and upstream; peer status")
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
