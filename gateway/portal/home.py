"""The front page and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from gateway.portal.i18n import LANGUAGES
from gateway.portal.pages import Page, local_path, remember_language

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request) -> Response:
    return Page(request).render("home.html")


@router.get("/language/{lang}")
async def language(request: Request, lang: str, next: str | None = None) -> Response:
    """Switch to ``lang`` and remember it (a link: works without JavaScript), then back."""
    if lang not in LANGUAGES:
        page = Page(request)
        return page.render("error.html", status=404, heading=page.t("error.not_found"),
                           detail=page.t("language.unknown", lang=lang))
    response = RedirectResponse(local_path(next), status_code=303)
    remember_language(response, lang, request)
    return response
