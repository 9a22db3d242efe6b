"""`oup ppi`: inspect, validate and compare the PPI contracts from the command line.

Exit codes follow the usual convention for checkers: 0 for success (valid, compatible), 1 when
the answer is "no" (invalid payload, breaking change), 2 when the question cannot be answered
(unknown PPI, unreadable or non-JSON file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

import ppi_schemas
from ppi_schemas import PPI, PPINotFound, compat
from ppi_schemas.rdf import catalogue_to_graph, ppi_to_graph

_VERDICTS = {
    compat.Compatibility.FULL: "old and new payloads are valid under both versions",
    compat.Compatibility.BACKWARD: "every old payload is valid under the new version",
    compat.Compatibility.FORWARD: "only forward: old payloads may be rejected by the new version",
    compat.Compatibility.BREAKING: "neither direction is safe",
}

app = typer.Typer(no_args_is_help=True, help="Inspect, validate and compare PPI contracts.")
console = Console(highlight=False)


@app.command("list")
def list_ppis() -> None:
    """List every PPI version in the catalogue."""
    table = Table(title="PPI catalogue")
    for column in ("PPI", "Version", "Status", "Media type"):
        table.add_column(column, no_wrap=True)
    table.add_column("Title", overflow="fold")
    for ppi in ppi_schemas.catalogue():
        _row(table, ppi.name, ppi.version, ppi.status, ppi.media_type, ppi.title)
    console.print(table)


@app.command()
def show(ref: Annotated[str, typer.Argument(metavar="NAME[@VERSION]", help="e.g. ngsi-ld-entity@1")]) -> None:
    """Show the metadata of one PPI (the latest version unless one is given)."""
    ppi = _lookup(ref)
    rows = {
        "Name": ppi.name,
        "Version": ppi.version,
        "All versions": ", ".join(ppi_schemas.catalogue().versions(ppi.name)),
        "Status": ppi.status,
        "Title": ppi.title,
        "Description": ppi.description,
        "Media type": ppi.media_type,
        "Schema": ppi.schema_id,
        "Context": ppi.context_url,
        "Licence": ppi.license,
        "Producers": ", ".join(ppi.producers),
        "Consumers": ", ".join(ppi.consumers),
        "Keywords": ", ".join(ppi.keywords),
        "Based on": "\n".join(ppi.based_on),
        "Examples": f"{len(ppi.examples_valid)} valid, {len(ppi.examples_invalid)} invalid",
        "Folder": str(ppi.path),
    }
    table = Table(title=ppi.ref, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows.items():
        _row(table, label, value)
    console.print(table)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="JSON file to check; - reads standard input")],
    ppi: Annotated[str, typer.Option("--ppi", metavar="NAME@VERSION", help="PPI to check against")],
) -> None:
    """Validate a JSON file against a PPI; print every problem with its JSON pointer."""
    target = _lookup(ppi)
    payload = _read_json(file)
    problems = ppi_schemas.validate(payload, target)
    if not problems:
        _say(f"valid: {file} matches {target.ref}")
        return
    _say(f"invalid: {file} has {len(problems)} problem(s) against {target.ref}")
    for problem in problems:
        _say(f"  {problem.pointer or '(root)'}: {problem.message}")
    raise typer.Exit(1)


@app.command("compat")
def compatibility(
    name: Annotated[str, typer.Argument(help="PPI name")],
    old: Annotated[str, typer.Argument(help="Old version")],
    new: Annotated[str, typer.Argument(help="New version")],
) -> None:
    """Compare two versions of a PPI; exit 1 unless the new one is backward compatible."""
    report = compat.check(_lookup(f"{name}@{old}"), _lookup(f"{name}@{new}"))
    meaning = _VERDICTS[report.verdict]
    _say(f"{report.old} -> {report.new}: {report.verdict} ({meaning})")
    if report.changes:
        table = Table(title="Reasons")
        for column in ("Rule", "Breaks", "Pointer", "Message"):
            table.add_column(column, overflow="fold")
        for change in report.changes:
            _row(table, change.rule, change.breaks, change.pointer or "(root)", change.message)
        console.print(table)
    if not report.backward:
        raise typer.Exit(1)


@app.command()
def rdf(
    ref: Annotated[
        Optional[str],
        typer.Argument(metavar="[NAME[@VERSION]]", help="PPI to describe; omit for the whole catalogue"),
    ] = None,
) -> None:
    """Print a PPI's metadata (or the whole catalogue's) as RDF Turtle (DCAT, Dublin Core, ADMS)."""
    graph = catalogue_to_graph() if ref is None else ppi_to_graph(_lookup(ref))
    typer.echo(graph.serialize(format="turtle"))


def _say(line: str) -> None:
    """Print verbatim: payload text may contain [brackets] that rich would read as markup."""
    console.print(line, markup=False, soft_wrap=True)


def _row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(cell) for cell in cells))


def _lookup(ref: str) -> PPI:
    try:
        return ppi_schemas.get(ref)
    except PPINotFound as error:
        _fail(str(error))


def _read_json(file: Path) -> object:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read {file}: {error}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        _fail(f"{file} is not JSON: {error.msg} at line {error.lineno}, column {error.colno}")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
