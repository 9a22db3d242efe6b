"""The gateway's cost: ``python -m bench.gateway``.

One NGSI-LD GET (an entity by id from the context MIM on SQLite), sent directly to the context MIM
and through the gateway with everything on (token verification, scope check, rate limit, audit
written to its database), each served by uvicorn in its own process. For each: requests/s with
``--concurrency`` clients (and the CPU its own server process spent per request), and p50/p95 of one client at a time (latency without queueing; direct
and gateway requests take turns); then the ratios. Targets: gateway throughput >= 50 % of direct, added p50 <= 2 ms.

Then the region fan-out: ``/region/ngsi-ld/v1/entities`` at the same gateway, which asks its own
context MIM and ``--peers`` federation peers at once, one of them dead (it accepts connections and
never answers), each peer within ``--peer-timeout``. The live peers are served by a second context
MIM (one NGSI-LD broker process standing in for the other cities' gateways). The circuit breaker is
set so high that the dead peer is waited for on every request: the worst case. Target: p95 <=
peer timeout + 50 ms, with every live peer's answer in every response.
The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from rich.console import Console
from rich.table import Table

from bench.serving import free_port, uvicorn_served

ISSUER = "https://id.bench.example"
ENTITY_ID = "urn:ngsi-ld:Building:bench-1"
PATH = f"/ngsi-ld/v1/entities/{ENTITY_ID}"


@contextmanager
def jwks_served(key: ECKey) -> Iterator[str]:
    """The issuer's JWKS on a loopback port (fetched once by the gateway)."""
    document = json.dumps(KeySet([key]).as_dict(private=False)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()


def token(key: ECKey) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "gateway", "sub": "bench", "client_id": "bench", "iat": now,
              "exp": now + 3600, "jti": uuid.uuid4().hex, "scope": "context:read"}
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, claims, key)


async def throughput(base: str, headers: dict[str, str], requests: int, concurrency: int) -> float:
    """Requests/s of ``concurrency`` clients sharing ``requests`` GETs."""
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                response = await client.get(PATH)
                assert response.status_code == 200, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


async def latencies(targets: dict[str, tuple[str, dict[str, str]]], requests: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 in ms of ``requests`` GETs per target, one at a time. The targets take turns
    request by request, so a change in the machine's load affects them alike."""
    timings: dict[str, list[float]] = {name: [] for name in targets}
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(httpx.AsyncClient(base_url=base, headers=headers))
                   for name, (base, headers) in targets.items()}
        for _ in range(requests):
            for name, client in clients.items():
                started = time.perf_counter()
                response = await client.get(PATH)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
    result = {}
    for name, series in timings.items():
        quantiles = statistics.quantiles(series, n=100)
        result[name] = (quantiles[49], quantiles[94])
    return result


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(targets: dict[str, tuple[str, dict[str, str]]], servers: dict[str, int],
                  args: argparse.Namespace) -> dict[str, tuple[float, float, float, float]]:
    """Throughput of each target in turn (with the CPU its own server process spent per request),
    then their latencies side by side."""
    rates, cpu = {}, {}
    for name, (base, headers) in targets.items():
        async with httpx.AsyncClient(base_url=base, headers=headers) as warm:
            for _ in range(50):
                (await warm.get(PATH)).raise_for_status()
        before = cpu_seconds(servers[name])
        rates[name] = await throughput(base, headers, args.requests, args.concurrency)
        cpu[name] = (cpu_seconds(servers[name]) - before) / args.requests * 1000
    timed = await latencies(targets, args.latency_requests)
    return {name: (rates[name], *timed[name], cpu[name]) for name in targets}


@contextmanager
def dead_peer() -> Iterator[str]:
    """A peer that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen(1024)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def write_peers(folder: Path, live_url: str, dead_url: str, count: int, timeout: float) -> Path:
    """``count`` federation-peer documents: ``count - 1`` live cities and one dead one."""
    peers = [{"name": f"city-{n:02d}", "base_url": live_url, "issuer": f"https://id.city-{n:02d}.example",
              "timeout": timeout} for n in range(1, count)]
    peers.append({"name": "dead-city", "base_url": dead_url, "issuer": "https://id.dead.example", "timeout": timeout})
    path = folder / "peers.json"
    path.write_text(json.dumps(peers))
    return path


async def region(base: str, headers: dict[str, str], requests: int, live: int) -> tuple[float, float, float]:
    """p50, p95 and max in ms of ``requests`` region queries, one at a time; each must carry every
    live city's answer and report the dead one."""
    timings = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get("/region/ngsi-ld/v1/entities", params={"type": "Building", "limit": 100})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
            answered = response.headers["OUP-Region-Answered"].split(", ")
            assert len(answered) == live + 1, answered  # the live peers and this city
            assert 'dead-city;reason="timeout"' in response.headers["OUP-Region-Failed"], response.headers
            assert len(response.json()) == live + 1
    quantiles = statistics.quantiles(timings, n=100)
    return quantiles[49], quantiles[94], max(timings)


def run(args: argparse.Namespace) -> tuple[dict[str, tuple[float, float, float, float]], int,
                                          tuple[float, float, float]]:
    key = ECKey.generate_key("P-256", {"kid": "bench-1"})
    with tempfile.TemporaryDirectory() as folder, jwks_served(key) as jwks_url, dead_peer() as dead_url:
        context_port, peers_port, gateway_port = free_port(), free_port(), free_port()
        peers_file = write_peers(Path(folder), f"http://127.0.0.1:{peers_port}", dead_url, args.peers,
                                 args.peer_timeout)
        broker_env = {"OUP_CONTEXT_JSONLD_REMOTE": "false", "OUP_CONTEXT_LOG_LEVEL": "WARNING"}
        context_env = {"OUP_CONTEXT_DATA_DIR": str(Path(folder) / "context"), **broker_env}
        peers_env = {"OUP_CONTEXT_DATA_DIR": str(Path(folder) / "peers"), **broker_env}
        gateway_env = {
            "OUP_GATEWAY_DATA_DIR": str(Path(folder) / "gateway"),
            "OUP_GATEWAY_CONTEXT_URL": f"http://127.0.0.1:{context_port}",
            "OUP_GATEWAY_ISSUERS": ISSUER, "OUP_GATEWAY_JWKS_URL": jwks_url,
            "OUP_GATEWAY_RATE_LIMIT": "100000000/minute", "OUP_GATEWAY_LOG_LEVEL": "WARNING",
            "OUP_GATEWAY_PEERS_FILE": str(peers_file), "OUP_GATEWAY_PEER_FAILURE_THRESHOLD": "1000000000",
        }
        with uvicorn_served("mims.context.service:create_app", context_port, context_env) as context, \
                uvicorn_served("mims.context.service:create_app", peers_port, peers_env), \
                uvicorn_served("gateway.service:create_app", gateway_port, gateway_env) as gateway:
            direct = f"http://127.0.0.1:{context_port}"
            entity = {"id": ENTITY_ID, "type": "Building", "name": {"type": "Property", "value": "Bench"}}
            for broker in (direct, f"http://127.0.0.1:{peers_port}"):
                httpx.post(f"{broker}/ngsi-ld/v1/entities", json=entity).raise_for_status()
            bearer = {"Authorization": f"Bearer {token(key)}"}
            results = asyncio.run(measure(
                {"direct": (direct, {}), "gateway": (f"http://127.0.0.1:{gateway_port}", bearer)},
                {"direct": context.pid, "gateway": gateway.pid}, args))
            audited = httpx.get(f"http://127.0.0.1:{gateway_port}/metrics").text
            routed = sum(float(line.rsplit(" ", 1)[1]) for line in audited.splitlines()
                         if line.startswith("gateway_requests_total{") and 'status="200"' in line)
            fan_out = asyncio.run(region(f"http://127.0.0.1:{gateway_port}", bearer, args.region_requests,
                                         args.peers - 1))
    return results, int(routed), fan_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000, help="GETs per throughput run")
    parser.add_argument("--latency-requests", type=int, default=1000, help="GETs per latency run")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the throughput run")
    parser.add_argument("--peers", type=int, default=10, help="federation peers of the region run (one dead)")
    parser.add_argument("--peer-timeout", type=float, default=0.5, help="seconds each peer may take")
    parser.add_argument("--region-requests", type=int, default=100, help="region queries, one at a time")
    args = parser.parse_args()
    results, routed, (region_p50, region_p95, region_max) = run(args)
    table = Table(title=f"NGSI-LD GET entity by id, {args.concurrency} clients / 1 client")
    for column in ("target", "req/s", "p50 ms", "p95 ms", "its own CPU ms/req"):
        table.add_column(column, justify="right")
    for name, (rate, p50, p95, cpu) in results.items():
        table.add_row(name, f"{rate:,.0f}", f"{p50:.2f}", f"{p95:.2f}", f"{cpu:.2f}")
    console = Console()
    console.print(table)
    (direct_rate, direct_p50, _, _), (gateway_rate, gateway_p50, gateway_p95, gateway_cpu) = (
        results["direct"], results["gateway"])
    ratio = gateway_rate / direct_rate
    added = gateway_p50 - direct_p50
    console.print(f"{routed} requests counted by the gateway's metrics")
    bound = args.peer_timeout * 1000 + 50
    console.print(f"region fan-out to {args.peers} peers ({args.peers - 1} answering, 1 dead), peer timeout "
                  f"{args.peer_timeout * 1000:.0f} ms, {args.region_requests} queries: p50 {region_p50:.1f} ms, "
                  f"p95 {region_p95:.1f} ms, max {region_max:.1f} ms; every answer held all live cities")
    print(f"direct {direct_rate:,.0f} req/s p50 {direct_p50:.2f} ms | gateway {gateway_rate:,.0f} req/s "
          f"p50 {gateway_p50:.2f} ms p95 {gateway_p95:.2f} ms | ratio {ratio:.0%} (target >= 50%) | "
          f"added p50 {added:.2f} ms (target <= 2 ms) | gateway CPU {gateway_cpu:.2f} ms/req | region p95 {region_p95:.1f} ms (target <= {bound:.0f} ms)")


if __name__ == "__main__":
    main()
