"""The portal's conformance pages: the certificates this city keeps, one run's checks, and a
verification of a certificate anyone uploads (no sign-in needed: a certificate is public, and
checking one changes nothing, so that form needs no session either).

What is shown comes from the folder of kept runs (:mod:`gateway.portal.conformance_runs`); every
verdict is ``conformance.certificate``'s own. Reading the folder and verifying signatures is file
and CPU work, done in a worker thread, never on the gateway's event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response

from gateway.portal import replies
from gateway.portal.conformance_runs import (
    Run,
    conformance_dir,
    keys,
    list_runs,
    read_run,
    report_html_path,
    stated_claims,
    verify,
)
from gateway.portal.pages import SANDBOXED_DOCUMENT, Page

router = APIRouter(include_in_schema=False)

#: Largest certificate accepted for verification (a certificate is a few kilobytes). The report
#: beside it is bounded by the gateway's ``max_body_bytes``, which the form states.
MAX_CERTIFICATE_BYTES = 64 * 1024


@router.get("/certificates")
async def certificates(request: Request) -> Response:
    page = Page(request)
    folder = conformance_dir(request.app.state.settings)

    def read() -> tuple[list[Run], bool]:
        known = keys(folder)
        return list_runs(folder, known), bool(known.authorities)

    runs, has_keys = await run_in_threadpool(read)
    return page.render("conformance/list.html", runs=runs, has_keys=has_keys)


@router.get("/certificates/verify")
async def verify_form(request: Request) -> Response:
    return _verify_page(Page(request))


@router.post("/certificates/verify")
async def verify_upload(request: Request) -> Response:
    page = Page(request)
    try:
        async with request.form(max_files=2, max_fields=4) as form:
            certificate_file, report_file = form.get("certificate"), form.get("report")
            if not isinstance(certificate_file, UploadFile) or not certificate_file.filename:
                return _verify_page(page, "conformance.verify.missing", "certificate")
            raw = await certificate_file.read(MAX_CERTIFICATE_BYTES + 1)
            if len(raw) > MAX_CERTIFICATE_BYTES:
                return _verify_page(page, "conformance.verify.too_large", "certificate", status=413)
            report_bytes = None
            if isinstance(report_file, UploadFile) and report_file.filename:
                report_bytes = await report_file.read()  # bounded by the gateway's max_body_bytes
    except HTTPException:  # not a form of files, or more files or fields than it has
        return _verify_page(page, "conformance.verify.unreadable", None)
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = ""
    if not text:
        return _verify_page(page, "conformance.verify.not_text", "certificate")
    folder = conformance_dir(request.app.state.settings)
    verdict = await run_in_threadpool(lambda: verify(text, keys(folder).authorities, report_bytes))
    return page.render("conformance/verify.html", verdict=verdict, error=None, field=None, max_mb=_max_mb(page),
                       stated=verdict.claims or stated_claims(text), report_checked=report_bytes is not None)


@router.get("/certificates/{name}")
async def certificate_run(request: Request, name: str) -> Response:
    page = Page(request)
    run = await run_in_threadpool(read_run, conformance_dir(request.app.state.settings), name)
    if run is None:
        return replies.not_found(page, page.t("conformance.run.missing", name=name))
    return page.render("conformance/run.html", run=run)


@router.get("/certificates/{name}/report.html")
async def certificate_report(request: Request, name: str) -> Response:
    """The run's own HTML report, served as a sandboxed document of its own."""
    path = report_html_path(conformance_dir(request.app.state.settings), name)
    if path is None:
        page = Page(request)
        return replies.not_found(page, page.t("conformance.run.no_report", name=name))
    return FileResponse(path, media_type="text/html; charset=utf-8",
                        headers={**SANDBOXED_DOCUMENT, "cache-control": "no-cache"})


def _verify_page(page: Page, error: str | None = None, field: str | None = None, status: int = 400) -> Response:
    """The verification form, with ``error`` (a locale key) about ``field`` when there is one."""
    return page.render("conformance/verify.html", status=status if error else 200, verdict=None,
                       error=page.t(error) if error else None, field=field, stated={}, report_checked=False,
                       max_mb=_max_mb(page))


def _max_mb(page: Page) -> str:
    """The most the form takes (certificate and report together), in MB: the gateway refuses a
    larger request before it reaches this page."""
    return f"{page.request.app.state.settings.max_body_bytes / 1024 / 1024:g}"
