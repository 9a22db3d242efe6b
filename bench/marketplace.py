"""Catalogue search over HTTP: ``python -m bench.marketplace``.

Seeds ``--datasets`` varied datasets (topics, languages, keywords, themes, publishers, licences,
formats, spatial coverage; seeding time printed) through the catalogue's storage, serves the
marketplace with uvicorn in a separate process on 127.0.0.1 and runs a fixed mix of searches
``--rounds`` times each: text only, text + facet filter, facet filters only, bounding box, and
deep pages. Prints p50/p95 per kind and overall against the target of issue 6 (p95 < 20 ms at
10,000 datasets). ``--postgres`` runs the same on a fresh PostgreSQL database (created on the
server of ``OUP_TEST_POSTGRES_URL`` and dropped afterwards). Then the grant lookups' figures of
``bench.marketplace_grants``, where that module exists. On SQLite, unless ``--no-fair``, also the
FAIR scores (one dataset's, first and warm; ``GET /fair`` over the catalogue, first and warm) and
``GET /catalog`` in JSON-LD, Turtle, N-Triples and RDF/XML. The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bench.serving import free_port, uvicorn_served
from mims.kit import storage
from mims.marketplace.catalogue_storage import SqlDatasetStore
from mims.marketplace.dcat import DATA_THEME, Dataset
from mims.marketplace.service import SPEC

TARGET_P95_MS = 20.0
WRITERS = 8  # concurrent publishers while seeding PostgreSQL
KINDS = ("text only", "text + facet filter", "facet filters only", "bounding box", "paging (deep pages)")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
FORMATS = ("CSV", "JSON", "GEOJSON", "XLSX", "SHP", "WMS_SRVC", "PDF", "XML")
LICENCES = (
    "http://creativecommons.org/publicdomain/zero/1.0/",
    "https://creativecommons.org/licenses/by/4.0/",
    "https://creativecommons.org/licenses/by-sa/4.0/",
    "https://data.overheid.nl/licenties/geslotenlicentie",
    "https://opendatacommons.org/licenses/odbl/1-0/",
)
PUBLISHERS = (
    "Gemeente Rotterdam", "Gemeente Den Haag", "Gemeente Delft", "Gemeente Schiedam", "Gemeente Vlaardingen",
    "Gemeente Capelle aan den IJssel", "Gemeente Zoetermeer", "Gemeente Leiden", "Havenbedrijf Rotterdam",
    "DCMR Milieudienst Rijnmond", "Provincie Zuid-Holland", "Hoogheemraadschap van Delfland",
    "Waterschap Hollandse Delta", "RET", "HTM", "Rijkswaterstaat", "Kadaster", "CBS", "GGD Rotterdam-Rijnmond",
    "Veiligheidsregio Rotterdam-Rijnmond", "Stedin", "Evides Waterbedrijf", "TU Delft", "Erasmus MC",
)
# Topics: Dutch and English title words, keywords and EU themes that go together.
TOPICS = (
    ("Parkeergarages", "Parking garages", ["parkeren", "parking", "mobiliteit"], ["TRAN"]),
    ("Fietsenstallingen", "Bicycle sheds", ["fiets", "bicycle", "mobiliteit"], ["TRAN"]),
    ("Luchtkwaliteit", "Air quality", ["lucht", "air quality", "stikstof", "fijnstof"], ["ENVI", "HEAL"]),
    ("Geluidsmetingen", "Noise measurements", ["geluid", "noise", "verkeer"], ["ENVI", "HEAL"]),
    ("Gebouwen", "Buildings", ["gebouwen", "buildings", "3D", "BAG"], ["REGI"]),
    ("Bomen", "Trees", ["bomen", "trees", "groen", "klimaat"], ["ENVI"]),
    ("Afvalcontainers", "Waste containers", ["afval", "waste", "containers"], ["ENVI", "GOVE"]),
    ("Verkeersintensiteit", "Traffic counts", ["verkeer", "traffic", "wegen"], ["TRAN"]),
    ("Laadpalen", "Charging stations", ["laadpalen", "charging", "energie", "elektrisch"], ["ENER", "TRAN"]),
    ("Zonnepanelen", "Solar panels", ["zonne-energie", "solar", "energie"], ["ENER"]),
    ("Waterstanden", "Water levels", ["water", "waterstand", "klimaat", "overstroming"], ["ENVI", "REGI"]),
    ("Bevolking per wijk", "Population by district", ["bevolking", "population", "wijken"], ["SOCI"]),
    ("Scholen", "Schools", ["onderwijs", "schools", "education"], ["EDUC"]),
    ("Sportaccommodaties", "Sports facilities", ["sport", "recreatie"], ["EDUC", "HEAL"]),
    ("Bestemmingsplannen", "Zoning plans", ["ruimtelijke ordening", "zoning", "omgevingswet"], ["REGI", "GOVE"]),
    ("Vergunningen", "Permits", ["vergunningen", "permits", "bouwen"], ["GOVE", "JUST"]),
    ("Begroting", "Budget", ["financien", "budget", "begroting"], ["ECON", "GOVE"]),
    ("Criminaliteit", "Crime", ["veiligheid", "crime", "politie"], ["JUST"]),
    ("Scheepvaart", "Shipping", ["haven", "port", "schepen", "logistiek"], ["TRAN", "ECON"]),
    ("Zorginstellingen", "Care facilities", ["zorg", "health", "ziekenhuizen"], ["HEAL"]),
)
PLACES = (
    ("Delfshaven", (4.43, 51.90)), ("Kralingen", (4.51, 51.92)), ("Feijenoord", (4.50, 51.90)),
    ("Charlois", (4.47, 51.88)), ("Centrum", (4.48, 51.92)), ("Hillegersberg", (4.48, 51.95)),
    ("Scheveningen", (4.28, 52.11)), ("Laak", (4.33, 52.06)), ("Delft", (4.36, 52.01)),
    ("Maasvlakte", (4.05, 51.96)), ("Schiedam", (4.39, 51.92)), ("Zoetermeer", (4.49, 52.06)),
)
QUALIFIERS = (
    ("actueel", "current"), ("historisch", "historical"), ("per jaar", "yearly"), ("per kwartaal", "quarterly"),
    ("realtime", "real-time"), ("jaarrapport", "annual report"), ("kaart", "map"), ("telling", "count"),
)
EXTRA_KEYWORDS = (
    "open data", "sensoren", "sensors", "IoT", "digital twin", "smart city", "statistiek", "monitoring",
    "duurzaamheid", "klimaatadaptatie", "toegankelijkheid", "openbare ruimte", "inspectie", "onderhoud",
)


def dataset_document(number: int, rng: random.Random) -> dict[str, Any]:
    """A realistic ``dcat-dataset`` document: a topic in a place, in Dutch (and often English)."""
    title_nl, title_en, keywords, themes = rng.choice(TOPICS)
    place, (lon, lat) = rng.choice(PLACES)
    qualifier_nl, qualifier_en = rng.choice(QUALIFIERS)
    year = rng.randint(2015, 2026)
    title = {"nl": f"{title_nl} {place} {qualifier_nl} {year}"}
    description = {"nl": f"{title_nl} in {place}, {qualifier_nl}, bijgewerkt in {year}. Reeks {number}."}
    if rng.random() < 0.7:
        title["en"] = f"{title_en} {place} {qualifier_en} {year}"
        description["en"] = f"{title_en} in {place}, {qualifier_en}, updated in {year}. Series {number}."
    chosen_keywords = list(dict.fromkeys([*rng.sample(keywords, rng.randint(1, len(keywords))),
                                          *rng.sample(EXTRA_KEYWORDS, rng.randint(0, 3))]))
    document: dict[str, Any] = {
        "title": title,
        "description": description,
        "publisher": {"name": rng.choice(PUBLISHERS)},
        "contactPoint": {"name": "Open data", "email": "opendata@example.nl"},
        "keywords": chosen_keywords,
        "themes": [DATA_THEME + theme for theme in themes[: rng.randint(1, len(themes))]],
        "license": rng.choices(LICENCES, weights=(5, 8, 2, 1, 1))[0],
        "distributions": [
            {"title": {"nl": f"Download {fmt}"}, "accessURL": f"https://data.example.nl/{number}/{fmt.lower()}",
             "format": FILE_TYPE + fmt}
            for fmt in rng.sample(FORMATS, rng.randint(1, 3))
        ],
    }
    if rng.random() < 0.8:
        size = rng.uniform(0.005, 0.05)
        document["spatial"] = {"bbox": [round(lon - size, 5), round(lat - size, 5),
                                        round(lon + size, 5), round(lat + size, 5)]}
    return document


async def seed(database_url: str, count: int, rng: random.Random) -> float:
    """``count`` datasets stored through the catalogue's storage; seconds taken.

    SQLite has one writer at a time: one publisher. PostgreSQL takes WRITERS publishers at once,
    then VACUUM ANALYZE, as autovacuum would have done in a catalogue that has been running."""
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        store = SqlDatasetStore(engine)
        started = datetime(2024, 1, 1, tzinfo=UTC)
        documents = [dataset_document(number, rng) for number in range(count)]
        writers = 1 if engine.dialect.name == "sqlite" else WRITERS

        async def publish(first: int) -> None:
            for number in range(first, count, writers):
                moment = started + timedelta(minutes=number)
                await store.add(Dataset(id=secrets.token_hex(16), document=documents[number],
                                        issued=moment, modified=moment))

        clock = time.perf_counter()
        await asyncio.gather(*(publish(first) for first in range(writers)))
        if engine.dialect.name != "sqlite":
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(sa.text("VACUUM ANALYZE"))
        return time.perf_counter() - clock
    finally:
        await engine.dispose()


def query_mix(rng: random.Random, rounds: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """(kind, query parameters): ``rounds`` searches of each kind, in a fixed shuffled order."""
    words = [topic[0].split()[0].lower() for topic in TOPICS] + [topic[1].split()[0].lower() for topic in TOPICS]
    places = [place for place, _ in PLACES]

    def text() -> str:
        return rng.choice([rng.choice(words), f"{rng.choice(words)} {rng.choice(places)}", '"air quality"',
                           f"{rng.choice(words)} or {rng.choice(words)}", f"{rng.choice(words)} -historisch"])

    def facet() -> tuple[str, str]:
        return rng.choice([
            ("theme", DATA_THEME + rng.choice(TOPICS)[3][0]), ("publisher", rng.choice(PUBLISHERS)),
            ("licence", rng.choice(LICENCES)), ("format", FILE_TYPE + rng.choice(FORMATS)),
            ("keyword", rng.choice(rng.choice(TOPICS)[2])),
        ])

    def box() -> str:
        lon, lat = rng.uniform(4.0, 4.6), rng.uniform(51.85, 52.15)
        return f"{lon:.3f},{lat:.3f},{lon + 0.05:.3f},{lat + 0.04:.3f}"

    kinds = {
        "text only": lambda: [("q", text())],
        "text + facet filter": lambda: [("q", text()), facet()],
        "facet filters only": lambda: [facet(), facet()],
        "bounding box": lambda: [("bbox", box())],
        "paging (deep pages)": lambda: [("offset", str(rng.randint(100, 5000))), ("limit", "50")],
    }
    assert tuple(kinds) == KINDS
    mix = [(kind, make()) for kind, make in kinds.items() for _ in range(rounds)]
    rng.shuffle(mix)
    return mix


def measure(base: str, mix: list[tuple[str, list[tuple[str, str]]]]) -> dict[str, list[float]]:
    """Seconds per search, by kind, one search at a time over a kept-alive connection."""
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with httpx.Client(base_url=base) as client:
        for params in (mix[0][1], mix[1][1]):  # warm-up
            client.get("/datasets", params=params)
        for kind, params in mix:
            started = time.perf_counter()
            response = client.get("/datasets", params=params)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            times[kind].append(elapsed)
    return times


@contextlib.contextmanager
def served(data_dir: Path, database_url: str | None) -> Iterator[str]:
    """The marketplace served by uvicorn in a separate process on 127.0.0.1; its base URL."""
    port = free_port()
    environment = {"OUP_MARKETPLACE_DATA_DIR": str(data_dir), "OUP_MARKETPLACE_AUTH": "off",
                   "OUP_MARKETPLACE_LOG_LEVEL": "WARNING"}
    if database_url:
        environment["OUP_MARKETPLACE_DATABASE_URL"] = database_url
    with uvicorn_served("mims.marketplace.service:create_app", port, environment):
        yield f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on the server at ``OUP_TEST_POSTGRES_URL``, dropped afterwards."""
    import asyncpg

    admin = make_url(os.environ.get("OUP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    name = f"oup_bench_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.close()


def run_engine(database_url: str, data_dir: Path, count: int, rounds: int,
               server_database_url: str | None, fair: bool = False) -> tuple[float, dict[str, list[float]]]:
    """Seeding seconds, and seconds per search by kind, on one engine (then, with ``fair``, the FAIR
    scores' and the catalogue's serializations' figures)."""
    rng = random.Random(6)
    seeded = asyncio.run(seed(database_url, count, rng))
    with served(data_dir, server_database_url) as base:
        times = measure(base, query_mix(random.Random(20), rounds))
        if fair:
            fair_figures(base, count, rounds)
            catalogue_figures(base, count)
    return seeded, times


FAIR_TARGET_MS, FAIR_CATALOGUE_TARGET_S = 2.0, 1.0


def _timed(client: httpx.Client, path: str, **headers: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    return elapsed, response


def fair_figures(base: str, count: int, rounds: int) -> None:
    """One dataset's FAIR score (first request, then warm p50/p95) and GET /fair over the whole
    catalogue (first request, which scores every dataset, then warm), against issue 6's targets."""
    with httpx.Client(base_url=base, timeout=600) as client:
        ids = [d["@id"].rpartition("/")[2] for d in client.get("/datasets", params={"limit": "50"}).json()["items"]]
        first = [_timed(client, f"/datasets/{i}/fair")[0] for i in ids]
        warm = [_timed(client, f"/datasets/{ids[n % len(ids)]}/fair")[0] for n in range(max(rounds, 20) * 2)]
        cold, summary = _timed(client, "/fair")
        assert summary.json()["count"] == count
        again = [_timed(client, "/fair")[0] for _ in range(3)]
    table = Table(title=f"FAIR scores over {count:,} datasets, uvicorn on 127.0.0.1")
    for column in ("request", "n", "first", "warm p50", "warm p95", "target"):
        table.add_column(column)
    p50 = _ms(warm, 9)
    table.add_row("GET /datasets/{id}/fair", str(len(warm)), f"{statistics.median(first) * 1000:.1f} ms (p50)",
                  f"{p50:.1f} ms", f"{_ms(warm, 18):.1f} ms",
                  f"p50 < {FAIR_TARGET_MS:.0f} ms: {'met' if p50 < FAIR_TARGET_MS else 'NOT met'}")
    best = statistics.median(again)
    table.add_row("GET /fair", str(len(again)), f"{cold:.2f} s", f"{best:.3f} s", f"{max(again):.3f} s",
                  f"< {FAIR_CATALOGUE_TARGET_S:.0f} s: {'met' if best < FAIR_CATALOGUE_TARGET_S else 'NOT met'}")
    Console().print(table)


def catalogue_figures(base: str, count: int) -> None:
    """GET /catalog over the whole catalogue in every RDF serialization: seconds and size."""
    table = Table(title=f"GET /catalog over {count:,} datasets, uvicorn on 127.0.0.1")
    for column in ("media type", "seconds", "size"):
        table.add_column(column)
    with httpx.Client(base_url=base, timeout=900) as client:
        for media_type in ("application/ld+json", "text/turtle", "application/n-triples", "application/rdf+xml"):
            elapsed, response = _timed(client, "/catalog", accept=media_type)
            table.add_row(media_type, f"{elapsed:.2f} s", f"{len(response.content) / 1e6:.1f} MB")
    Console().print(table)


def _ms(times: list[float], quantile: int) -> float:
    if len(times) < 2:
        return times[0] * 1000
    return statistics.quantiles(times, n=20, method="inclusive")[quantile] * 1000


def report(title: str, count: int, seeded: float, times: dict[str, list[float]]) -> str:
    table = Table(title=f"{title}: catalogue search over {count:,} datasets, uvicorn on 127.0.0.1")
    for column in ("searches", "n", "p50", "p95", f"p95 < {TARGET_P95_MS:.0f} ms"):
        table.add_column(column)
    everything = [t for kind_times in times.values() for t in kind_times]
    for kind, kind_times in [*times.items(), ("all", everything)]:
        p50, p95 = _ms(kind_times, 9), _ms(kind_times, 18)
        table.add_row(kind, str(len(kind_times)), f"{p50:.1f} ms", f"{p95:.1f} ms",
                      "met" if p95 < TARGET_P95_MS else "NOT met")
    Console().print(table)
    print(f"seeded {count:,} datasets in {seeded:.1f} s ({count / seeded:,.0f} datasets/s)")
    p50, p95 = _ms(everything, 9), _ms(everything, 18)
    verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
    return f"{title}: search p50 {p50:.1f} ms, p95 {p95:.1f} ms over {count:,} datasets (target p95 < 20 ms: {verdict})"


def grants_figures() -> None:
    """The grant lookups' figures (``bench.marketplace_grants``, which prints them), where it exists."""
    try:
        grants = importlib.import_module("bench.marketplace_grants")
    except ModuleNotFoundError as missing:
        if missing.name != "bench.marketplace_grants":
            raise
        return
    print("grant lookups as the gateway makes them:")
    figures = grants.run()
    if isinstance(figures, str):
        print(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000, help="datasets in the catalogue")
    parser.add_argument("--rounds", type=int, default=60, help="searches of each kind")
    parser.add_argument("--postgres", action="store_true", help="also on a fresh PostgreSQL database")
    parser.add_argument("--no-fair", action="store_true",
                        help="skip the FAIR scores' and the catalogue serializations' figures (SQLite)")
    args = parser.parse_args()
    summaries = []
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "sqlite"
        url = storage.default_database_url(SPEC.name, data_dir)
        seeded, times = run_engine(url, data_dir, args.datasets, args.rounds, None, fair=not args.no_fair)
        summaries.append(report("SQLite", args.datasets, seeded, times))
        if args.postgres:

            async def on_postgres() -> tuple[float, dict[str, list[float]]]:
                async with postgres_database() as pg_url:
                    return await asyncio.to_thread(
                        run_engine, pg_url, Path(folder) / "pg", args.datasets, args.rounds, pg_url)

            seeded, times = asyncio.run(on_postgres())
            summaries.append(report("PostgreSQL", args.datasets, seeded, times))
    grants_figures()
    print("; ".join(summaries))


if __name__ == "__main__":
    main()
