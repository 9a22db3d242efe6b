"""`oup conformance`: run the suite against a component, list its checks, and make and verify the
certificates a certifying authority issues.

Exit codes: 0 certifiable (``run``) or valid (``verify``); 1 not certifiable or invalid; 2 when the
question cannot be asked (usage error, unreachable target, unreadable key).
"""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance import certificate, reports
from conformance.model import Check, Result
from conformance.registry import select
from conformance.runner import Report
from conformance.runner import run as run_checks
from conformance.session import Target

app = typer.Typer(no_args_is_help=True, help="Certify a component against a MIM: run, list, keygen, verify.")
console = Console(highlight=False)
CERTIFICATE_FILE = "certificate.jws"
_STYLES = {"passed": "green", "failed": "red", "error": "magenta", "skipped": "yellow", "not-run": "cyan"}


class Mim(str, Enum):
    identity = "identity"
    context = "context"
    marketplace = "marketplace"
    permit_check = "permit-check"
    gateway = "gateway"


class Profile(str, Enum):
    standard = "standard"
    mim = "mim"


def _usage(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            _usage(f"--option {pair!r}: expected key=value")
        options[key] = value
    return options


@app.command()
def run(
    mim: Annotated[Mim, typer.Option(help="The MIM the target implements.")],
    target: Annotated[str, typer.Option(help="The target's base URL, e.g. http://127.0.0.1:8002.")],
    profile: Annotated[Profile, typer.Option(help="standard: the standards only; mim: OUP's too.")] = Profile.mim,
    token: Annotated[Optional[str], typer.Option(help="An access token the checks use.")] = None,
    client_id: Annotated[Optional[str], typer.Option(help="Client for client-credentials tokens.")] = None,
    client_secret: Annotated[Optional[str], typer.Option(help="That client's secret.")] = None,
    token_url: Annotated[Optional[str], typer.Option(help="The token endpoint for client credentials.")] = None,
    option: Annotated[Optional[list[str]], typer.Option(help="MIM-specific setting key=value (repeatable).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the reports (and certificate).")] = Path("conformance-report"),
    only: Annotated[Optional[str], typer.Option(help="Only checks whose id matches (glob or part).")] = None,
    sign_key: Annotated[Optional[Path], typer.Option(help="Authority's private JWK: certify if certifiable.")] = None,
) -> None:
    """Run the checks of a MIM against a target; write report.json, report.junit.xml, report.html."""
    # an identity MIM's own token endpoint comes from its metadata
    credentials = [client_id, client_secret, token_url or (mim == "identity")]
    if any(credentials) and not all(credentials):
        _usage("--client-id, --client-secret and --token-url go together (--token-url is found in the metadata "
               "of an identity target)")
    authority = None
    if sign_key is not None:
        try:
            authority = certificate.load_authority(sign_key)
        except certificate.BadKey as error:
            _usage(str(error))
        if not authority.key.is_private:
            _usage(f"{sign_key} holds no private key: give the authority's private JWK")
    checks = select(mim.value, profile.value, only)
    if not checks:
        _usage(f"no check of {mim.value} (profile {profile.value}) matches {only!r}")
    chosen = Target(mim.value, target, profile.value, token, client_id, client_secret, token_url,
                    _options(option or []))
    _reachable(chosen.url)
    report = _run_with_progress(chosen, checks)
    _summary(report)
    paths = reports.write_reports(report, out)
    for kind, path in paths.items():
        console.print(f"{kind:>5} report: {path}")
    if report.certifiable:
        console.print(f"[green]Certifiable[/green]: every must-check of {len(checks)} checks passed or did not apply.")
        if authority is not None:
            issued = certificate.issue(report, paths["json"].read_bytes(), authority)
            (out / CERTIFICATE_FILE).write_text(issued + "\n")
            console.print(f" certificate: {out / CERTIFICATE_FILE} (signed by {authority.name})")
        raise typer.Exit(0)
    failed = [r.check.id for r in report.blocking if r.status != "not-run"]
    if failed:
        console.print(f"[red]Not certifiable[/red]: must-checks failed or broke: {', '.join(failed)}")
    not_run = [r for r in report.blocking if r.status == "not-run"]
    if not_run:
        console.print("[red]Not certifiable[/red]: must-checks not run for lack of input; give what they need:")
        for result in not_run:
            console.print(f"  [cyan]{result.check.id}[/cyan]: {escape(result.message)}")
    if authority is not None:
        console.print("No certificate issued: a certificate needs every must-check to pass or not apply.")
    raise typer.Exit(1)


def _reachable(url: str) -> None:
    """Usage error, not a run of failures, when nothing answers at the target."""
    if not url.startswith(("http://", "https://")):
        _usage(f"--target {url!r}: expected an http:// or https:// URL")
    try:
        httpx.get(url, timeout=10.0)
    except httpx.HTTPError as error:
        _usage(f"the target {url} is unreachable ({type(error).__name__}: {error}); is it running?")


def _run_with_progress(target: Target, checks: list[Check]) -> Report:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[last]}"))
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{target.mim} at {target.url}", total=len(checks), last="")

        def advanced(result: Result) -> None:
            progress.update(task, advance=1, last=f"{result.check.id}: {result.status}")

        return asyncio.run(run_checks(target, checks, progress=advanced))


def _summary(report: Report) -> None:
    table = Table(title=f"Conformance of {report.target.url} ({report.target.mim}, profile {report.target.profile})")
    table.add_column("Check", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Message", overflow="fold")
    for result in report.results:
        style = _STYLES[result.status]
        table.add_row(result.check.id, result.check.severity, f"[{style}]{result.status}[/{style}]", result.message)
    console.print(table)
    counts = report.counts()
    console.print(", ".join(f"[{_STYLES[k]}]{counts[k]} {k}[/{_STYLES[k]}]"
                            for k in ("passed", "failed", "skipped", "not-run", "error"))
                  + f"; must-checks failed: {counts['must_failed']}, not run: {counts['must_not_run']}")


@app.command("list")
def list_checks(
    mim: Annotated[Optional[Mim], typer.Option(help="Only this MIM's checks.")] = None,
    profile: Annotated[Optional[Profile], typer.Option(help="Only checks in this profile.")] = None,
) -> None:
    """List every check: id, title, MIM, profile, severity, and the clause or PPI it comes from."""
    checks = select(mim.value if mim else None, profile.value if profile else None)
    table = Table(title=f"{len(checks)} conformance checks")
    table.add_column("Check", no_wrap=True)
    for column in ("Profile", "Severity"):
        table.add_column(column, no_wrap=True)
    table.add_column("Title and source", ratio=1)
    for one in checks:
        table.add_row(one.id, one.profile, one.severity, f"{escape(one.title)} [dim]({escape(one.source)})[/dim]")
    console.print(table)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option(help="Folder for the key pair.")],
    authority: Annotated[str, typer.Option(help="The certifying authority's name (the certificates' iss).")]
    = "OUP conformance authority",
) -> None:
    """Make a certifying authority's Ed25519 key pair: a private JWK (mode 0600) and a public JWK."""
    private, public = certificate.keygen(out, authority)
    console.print(f"private key: {private} (keep it secret)\n public key: {public} (give it to verifiers)")


@app.command()
def verify(
    cert: Annotated[Path, typer.Argument(help="The certificate (certificate.jws).")],
    key: Annotated[Path, typer.Option(help="The authority's public JWK.")],
    report: Annotated[Optional[Path], typer.Option(help="The report.json the certificate is for.")] = None,
) -> None:
    """Check a certificate's signature, type, expiry and (with --report) the report's hash."""
    try:
        token = cert.read_text()
        report_bytes = report.read_bytes() if report is not None else None
    except OSError as error:
        _usage(str(error))
    try:
        authority = certificate.load_authority(key)
    except certificate.BadKey as error:
        _usage(str(error))
    try:
        claims = certificate.verify(token, authority, report_bytes)
    except certificate.InvalidCertificate as error:
        console.print(f"[red]invalid certificate[/red]: {error}")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(claims))
    console.print(f"[green]valid certificate[/green]: signed by {authority.name}"
                  + (", for this report" if report is not None else " (report not checked: no --report)"))
