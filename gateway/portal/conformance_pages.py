"""The portal's conformance pages: the certificates this city keeps, one run's checks, and a
verification of a certificate anyone uploads (no sign-in needed: a certificate is public).

What is shown comes from the folder of kept runs (:mod:`gateway.portal.conformance_runs`); every
verdict is ``conformance.certificate``'s own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from gateway.portal.conformance_runs import (
    authorities,
    conformance_dir,
    list_runs,
    read_run,
    report_html_path,
    stated_claims,
    verify,
)
from gateway.portal.pages import Page

router = APIRouter(include_in_schema=False)

#: Largest certificate accepted for verification (a certificate is a few kilobytes).
MAX_CERTIFICATE_BYTES = 64 * 1024
#: Largest report.json accepted beside it (reports carry excerpts of every exchange).
MAX_REPORT_BYTES = 16 * 1024 * 1024
#: The saved HTML report is a page of its own: inline CSS only, no scripts, no outside requests.
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


@router.get("/certificates")
async def certificates(request: Request) -> Response:
    page = Page(request)
    folder = conformance_dir(request.app.state.settings)
    return page.render("conformance/list.html", runs=list_runs(folder), has_keys=bool(authorities(folder)))


@router.get("/certificates/verify")
async def verify_form(request: Request) -> Response:
    page = _with_session(request)
    return page.render("conformance/verify.html", verdict=None, error=None, field=None, stated={},
                       report_checked=False)


@router.post("/certificates/verify")
async def verify_upload(request: Request) -> Response:
    page = _with_session(request)
    async with request.form(max_files=2, max_fields=4) as form:
        if not page.csrf_valid(form):
            return _verify_error(page, "form.expired_detail", None, status=400)
        certificate_file, report_file = form.get("certificate"), form.get("report")
        if not isinstance(certificate_file, UploadFile) or not certificate_file.filename:
            return _verify_error(page, "conformance.verify.missing", "certificate")
        raw = await certificate_file.read(MAX_CERTIFICATE_BYTES + 1)
        if len(raw) > MAX_CERTIFICATE_BYTES:
            return _verify_error(page, "conformance.verify.too_large", "certificate", status=413)
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            text = ""
        if not text:
            return _verify_error(page, "conformance.verify.not_text", "certificate")
        report_bytes = None
        if isinstance(report_file, UploadFile) and report_file.filename:
            report_bytes = await report_file.read(MAX_REPORT_BYTES + 1)
            if len(report_bytes) > MAX_REPORT_BYTES:
                return _verify_error(page, "conformance.verify.report_too_large", "report", status=413)
    verdict = verify(text, authorities(conformance_dir(request.app.state.settings)), report_bytes)
    return page.render("conformance/verify.html", verdict=verdict, error=None, field=None,
                       stated=verdict.claims or stated_claims(text), report_checked=report_bytes is not None)


@router.get("/certificates/{name}")
async def certificate_run(request: Request, name: str) -> Response:
    page = Page(request)
    run = read_run(conformance_dir(request.app.state.settings), name)
    if run is None:
        return page.render("error.html", status=404, heading=page.t("error.not_found"),
                           detail=page.t("conformance.run.missing", name=name))
    return page.render("conformance/run.html", run=run)


@router.get("/certificates/{name}/report.html")
async def certificate_report(request: Request, name: str) -> Response:
    """The run's own HTML report, served as a sandboxed document of its own."""
    path = report_html_path(conformance_dir(request.app.state.settings), name)
    if path is None:
        page = Page(request)
        return page.render("error.html", status=404, heading=page.t("error.not_found"),
                           detail=page.t("conformance.run.no_report", name=name))
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={
        "content-security-policy": REPORT_POLICY, "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer", "cache-control": "no-cache"})


def _with_session(request: Request) -> Page:
    """A page with a session, so that its form carries a CSRF token even for a visitor who is not
    signed in."""
    page = Page(request)
    page.session = page.portal.sessions.open(request)
    return page


def _verify_error(page: Page, key: str, field: str | None, status: int = 400) -> Response:
    return page.render("conformance/verify.html", status=status, verdict=None, error=page.t(key),
                       field=field, stated={}, report_checked=False)
