"""Identity MIM throughput on SQLite: ``python -m bench.identity``.

Printed side by side with the targets (issue 4: one process) in one run:
(a) client_credentials tokens/s from ``/token`` of an identity service served by uvicorn in a
    separate process on 127.0.0.1, fed by ``--concurrency`` HTTP clients (keep-alive) until
    ``--tokens`` tokens or ``--seconds`` have passed; target >= 500 tokens/s;
(b) introspections/s at ``/introspect`` of the same server, of the tokens from (a);
    for both, also what the server could do per second of its own CPU time (Linux ``/proc``),
    a figure the HTTP clients in this process and other load on the machine do not skew;
(c) local verifications/s with the kit's ``TokenVerifier`` and its cached JWKS (fetched once
    from the server), for distinct tokens each verified once and for a few tokens verified
    over and over (what a gateway does); target >= 20,000 verifications/s;
(d) the distinct-token figure of (c) for each signing algorithm the service offers (ES256,
    Ed25519, RS256), side by side, with tokens signed in this process: the signature check
    dominates verification, and its cost differs between algorithms.
Then peak RSS of the bench process and of the server. The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import resource
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
from joserfc import jwt
from rich.console import Console
from rich.table import Table

from bench.serving import free_port, uvicorn_served
from mims.identity.bootstrap import identity_storage
from mims.identity.clients import Registration, register_client
from mims.identity.keys import generate_signing_key, jwk_set
from mims.identity.service import SPEC
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore
from mims.kit.auth import TokenVerifier

AUDIENCE = "urn:oup:platform"
#: Tokens verified again and again in the repeated-token figure.
REPEATED = 10
TOKEN_TARGET = 500
VERIFY_TARGET = 20_000
#: Tokens per algorithm in the side-by-side verification figures.
ALG_TOKENS = 5_000
ISSUER = "https://id.bench.example"


async def register_clients(data_dir: Path, count: int) -> list[Registration]:
    """``count`` confidential clients in the server's database, before it starts."""
    settings = SPEC.settings(data_dir=data_dir)
    assert isinstance(settings, IdentitySettings)
    async with identity_storage(settings) as engine:
        store = SqlClientStore(engine)
        return [
            await register_client(store, name=f"bench {number}", scopes=["context:read"], platform_scopes=settings.scopes)
            for number in range(count)
        ]


@contextlib.contextmanager
def served(data_dir: Path, port: int, signing_alg: str) -> Iterator[tuple[str, Callable[[], float]]]:
    """The identity service served by uvicorn in a separate process on 127.0.0.1: its base URL,
    and a function giving the CPU seconds the server has used so far."""
    base = f"http://127.0.0.1:{port}"
    environment = {
        "OUP_IDENTITY_DATA_DIR": str(data_dir),
        "OUP_IDENTITY_ISSUER": base,
        "OUP_IDENTITY_SIGNING_ALG": signing_alg,
        "OUP_IDENTITY_LOG_LEVEL": "WARNING",
    }
    with uvicorn_served("mims.identity.service:create_app", port, environment) as server:
        yield base, lambda: _cpu_seconds(server.pid)


async def load(
    concurrency: int, count: int, seconds: float, request: Callable[[int], Awaitable[None]]
) -> tuple[int, float]:
    """Run ``request(n)`` from ``concurrency`` workers until ``count`` are done or ``seconds``
    have passed; the number done and the seconds taken."""
    numbers = itertools.count()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline and (number := next(numbers)) < count:
            await request(number)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started


async def measure_server(
    base: str, cpu: Callable[[], float], registrations: list[Registration], concurrency: int, count: int,
    seconds: float,
) -> tuple[list[str], list[tuple[float, float]]]:
    """Tokens from /token; (per second, per server CPU second) for tokens and introspections."""
    tokens: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

        def credentials(number: int) -> tuple[str, str]:
            registration = registrations[number % len(registrations)]
            assert registration.client_secret is not None
            return registration.client.client_id, registration.client_secret

        async def token(number: int) -> None:
            response = await http.post("/token", data={"grant_type": "client_credentials"}, auth=credentials(number))
            assert response.status_code == 200, response.text
            tokens.append(response.json()["access_token"])

        # Warm-up: each client's first request pays argon2 once, then its secret is cached.
        for number in range(len(registrations)):
            await token(number)
        tokens.clear()
        used = cpu()
        issued, issuing = await load(concurrency, count, seconds, token)
        issuing_cpu = cpu() - used

        async def introspect(number: int) -> None:
            response = await http.post("/introspect", data={"token": tokens[number]}, auth=credentials(number))
            assert response.status_code == 200 and response.json()["active"] is True, response.text

        used = cpu()
        introspected, introspecting = await load(concurrency, len(tokens), seconds, introspect)
        introspecting_cpu = cpu() - used
    rates = [(issued / issuing, issued / issuing_cpu), (introspected / introspecting, introspected / introspecting_cpu)]
    return tokens, rates


async def measure_verifier(base: str, tokens: list[str], seconds: float) -> tuple[float, float]:
    """Local verifications/s: each of ``tokens`` once, then ``REPEATED`` tokens over and over."""
    verifier = TokenVerifier(jwks_url=f"{base}/jwks", issuers=[base], audience=AUDIENCE)
    try:
        await verifier.verify(tokens[0])  # fetches and caches the JWKS
        started = time.perf_counter()
        for token in tokens:
            await verifier.verify(token)
        distinct = len(tokens) / (time.perf_counter() - started)
        repeated = tokens[:REPEATED]
        calls = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for token in repeated:
                await verifier.verify(token)
            calls += len(repeated)
        return distinct, calls / elapsed
    finally:
        await verifier.aclose()


async def measure_algorithms(count: int) -> dict[str, float]:
    """Distinct-token verifications/s per signing algorithm, ``count`` tokens each, signed here."""
    rates = {}
    for alg in ("ES256", "Ed25519", "RS256"):
        key = generate_signing_key(alg)
        verifier = TokenVerifier(jwks=jwk_set([key]), issuers=[ISSUER], audience=AUDIENCE)
        now = int(time.time())
        signer = key.jwk()
        header = {"alg": alg, "typ": "at+jwt", "kid": key.kid}
        tokens = [
            jwt.encode(
                header,
                {"iss": ISSUER, "sub": "bench", "client_id": "bench", "aud": AUDIENCE, "iat": now,
                 "exp": now + 600, "jti": f"bench-{alg}-{number}", "scope": "context:read"},
                signer,
                algorithms=[alg],
            )
            for number in range(count)
        ]
        started = time.perf_counter()
        for token in tokens:
            await verifier.verify(token)
        rates[alg] = count / (time.perf_counter() - started)
        await verifier.aclose()
    return rates


async def run(args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        registrations = await register_clients(data_dir, args.clients)
        with served(data_dir, free_port(), args.alg) as (base, cpu):
            tokens, [(tokens_per_s, tokens_per_cpu), (introspections_per_s, introspections_per_cpu)] = (
                await measure_server(base, cpu, registrations, args.concurrency, args.tokens, args.seconds)
            )
            distinct, repeated = await measure_verifier(base, tokens, args.seconds)
    per_alg = await measure_algorithms(min(len(tokens), ALG_TOKENS))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    served_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    clients = f"{args.concurrency} HTTP clients, {args.alg}"
    return [
        ("client_credentials tokens (uvicorn)", f"{tokens_per_s:,.0f} tokens/s", f">= {TOKEN_TARGET:,}", clients),
        ("  per server CPU second", f"{tokens_per_cpu:,.0f} tokens", f">= {TOKEN_TARGET:,}", ""),
        ("introspections (uvicorn)", f"{introspections_per_s:,.0f} introspections/s", "", f"{len(tokens):,} tokens"),
        ("  per server CPU second ", f"{introspections_per_cpu:,.0f} introspections", "", ""),
        ("local verifications, distinct tokens", f"{distinct:,.0f} verifications/s", f">= {VERIFY_TARGET:,}",
         "each verified once"),
        ("local verifications, repeated tokens", f"{repeated:,.0f} verifications/s", f">= {VERIFY_TARGET:,}",
         f"{REPEATED} tokens over and over"),
        *(
            (f"  distinct tokens, {alg}", f"{rate:,.0f} verifications/s", f">= {VERIFY_TARGET:,}",
             f"{min(len(tokens), ALG_TOKENS):,} tokens signed locally")
            for alg, rate in per_alg.items()
        ),
        ("peak RSS (bench, uvicorn server)", f"{peak:,.0f} MiB", "", f"{served_peak:,.0f} MiB"),
    ]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid``, all its threads (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000, help="at most this many tokens (and introspections)")
    parser.add_argument("--seconds", type=float, default=10.0, help="at most this long per figure")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP clients of the server")
    parser.add_argument("--clients", type=int, default=4, help="registered OAuth clients the requests rotate over")
    parser.add_argument("--alg", default="ES256", help="the server's signing algorithm")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    table = Table(title="identity MIM on SQLite")
    for column in ("what", "figure", "target", ""):
        table.add_column(column)
    for row in results:
        table.add_row(*row)
    Console().print(table)
    figures = {what: figure for what, figure, *_ in results}
    print(f"tokens {figures['client_credentials tokens (uvicorn)']} (target {TOKEN_TARGET:,}), "
          f"{figures['  per server CPU second']} per server CPU second; "
          f"introspections {figures['introspections (uvicorn)']}, "
          f"{figures['  per server CPU second ']} per server CPU second; "
          f"verifications {figures['local verifications, distinct tokens']} distinct, "
          f"{figures['local verifications, repeated tokens']} repeated (target {VERIFY_TARGET:,}); "
          f"peak RSS {figures['peak RSS (bench, uvicorn server)']}")


if __name__ == "__main__":
    main()
