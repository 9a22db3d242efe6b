"""PPI hot paths against their reference libraries: ``python -m bench.ppi [--seconds S]``.

(a) Validation of the ``ngsi-ld-entity`` PPI's typical entity: ``ppi_schemas.is_valid`` (compiled,
    cached per PPI) against jsonschema's ``Draft202012Validator`` compiled once.
(b) JSON-LD expand + compact of the same entity: the project's loader and fast path against pyld
    with a document loader that re-reads the context file on every call (plus, for information,
    pyld with the project's static, cached loader).

Each figure is a throughput over a fixed wall time after a warm-up. Before timing, the fast path's
output is checked to be identical to pyld's. The last line is a one-line summary of both ratios.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from pyld import jsonld
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from rich.console import Console
from rich.table import Table

import ppi_schemas
from ppi_schemas import jsonld as project_jsonld
from ppi_schemas.jsonld.loader import (
    CONTEXTS_DIR,
    NGSI_LD_CORE_CONTEXT_LATEST_URL,
    NGSI_LD_CORE_CONTEXT_URL,
)

PPI_REF = "ngsi-ld-entity@1.0.0"
EXAMPLE = "typical-entity"
WARM_UP_SECONDS = 0.3


def throughput(operation: Callable[[], Any], seconds: float) -> float:
    """Calls per second of ``operation`` over ``seconds`` of wall time, after a short warm-up."""
    for duration in (WARM_UP_SECONDS, seconds):
        calls = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < duration:
            operation()
            calls += 1
    return calls / elapsed


def rereading_loader() -> Callable[[str, Any], dict[str, Any]]:
    """A pyld loader that reads the context file from disk on every call and is never cached."""
    files = {NGSI_LD_CORE_CONTEXT_URL: CONTEXTS_DIR / "ngsi-ld-core-context-v1.8.jsonld"}
    files[NGSI_LD_CORE_CONTEXT_LATEST_URL] = files[NGSI_LD_CORE_CONTEXT_URL]
    files.update({ppi.context_url: ppi.path / "context.jsonld" for ppi in ppi_schemas.catalogue()})

    def load(url: str, options: Any = None) -> dict[str, Any]:
        document = orjson.loads(files[url].read_bytes())
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}

    return load


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ppi", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="wall time per measurement (default 2)")
    seconds = parser.parse_args(argv).seconds

    ppi = ppi_schemas.get(PPI_REF)
    entity = next(example.payload for example in ppi.examples_valid if example.name == EXAMPLE)
    context = entity["@context"]

    registry = Registry().with_resources(
        (p.schema_id, DRAFT202012.create_resource(p.schema)) for p in ppi_schemas.catalogue()
    )
    reference_validator = Draft202012Validator(ppi.schema, registry=registry)
    if not (ppi_schemas.is_valid(entity, ppi) and reference_validator.is_valid(entity)):
        raise SystemExit(f"{PPI_REF} {EXAMPLE} must be valid for both validators")

    loader = project_jsonld.DocumentLoader(allow_remote=False)
    reread = {"documentLoader": rereading_loader()}

    def project() -> Any:
        return project_jsonld.compact(project_jsonld.expand(entity, loader=loader), context, loader=loader)

    def pyld_rereading() -> Any:
        return jsonld.compact(jsonld.expand(entity, dict(reread)), context, dict(reread))

    def pyld_static() -> Any:
        return jsonld.compact(jsonld.expand(entity, loader.pyld_options()), context, loader.pyld_options())

    fast_expanded = project_jsonld.expand(entity, loader=loader)
    if orjson.dumps(fast_expanded, option=orjson.OPT_SORT_KEYS) != orjson.dumps(
        jsonld.expand(entity, dict(reread)), option=orjson.OPT_SORT_KEYS
    ) or orjson.dumps(project(), option=orjson.OPT_SORT_KEYS) != orjson.dumps(
        pyld_rereading(), option=orjson.OPT_SORT_KEYS
    ):
        raise SystemExit("fast path output differs from pyld's: not timing a wrong answer")

    hot = throughput(lambda: ppi_schemas.is_valid(entity, ppi), seconds)
    reference = throughput(lambda: reference_validator.is_valid(entity), seconds)
    fast = throughput(project, seconds)
    slow = throughput(pyld_rereading, seconds)
    static = throughput(pyld_static, seconds)

    table = Table(title=f"{PPI_REF} / {EXAMPLE} ({seconds:g} s per figure)")
    for column in ("measure", "project", "reference", "ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("validations/s (is_valid vs jsonschema Draft202012Validator)",
                  f"{hot:,.0f}", f"{reference:,.0f}", f"{hot / reference:.1f}x")
    table.add_row("JSON-LD expand+compact docs/s (loader + fast path vs pyld re-reading loader)",
                  f"{fast:,.0f}", f"{slow:,.0f}", f"{fast / slow:.1f}x")
    table.add_row("  informative: pyld with the project's static loader",
                  f"{fast:,.0f}", f"{static:,.0f}", f"{fast / static:.1f}x")
    Console().print(table)
    print(f"summary: validation {hot / reference:.1f}x ({hot:.0f}/s), json-ld {fast / slow:.1f}x ({fast:.0f}/s)")


if __name__ == "__main__":
    main()
