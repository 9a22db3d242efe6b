"""The portal's data marketplace pages: search the DCAT-AP catalogue with facets, read a dataset
(metadata, FAIR score and hints, ODRL offers in words), ask for access by the Dataspace Protocol,
and see the agreements made and their metered use.

Every answer comes from the marketplace's public API through this gateway, as the signed-in
person (the portal client ``demo-portal`` is the consumer of negotiations); the shaping into what
a page shows is in :mod:`gateway.portal.marketplace_view`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.portal import links, replies
from gateway.portal import marketplace_view as view
from gateway.portal.i18n import Words
from gateway.portal.pages import Page
from gateway.portal.upstream import Platform, UpstreamError

router = APIRouter(include_in_schema=False)

DATASETS = "/marketplace/datasets"
#: The RDF forms of a dataset the page links to: path suffix -> media type.
RDF_FORMS = {"turtle": "text/turtle", "json-ld": "application/ld+json"}


def render(page: Page, template: str, *, status: int = 200, **context: Any) -> Response:
    """``page.render`` with what the marketplace templates use to word and link what they show (a
    link from the data only when it is a web or mail address; this portal's dataset pages by id)."""
    return page.render(template, status=status, say=speaker(page.t), quote=quote, excerpt=view.excerpt,
                       licence_name=view.licence_name, page_size=view.PAGE_SIZE, known_states=view.STATES,
                       web_link=links.web_link, mail_link=links.mail_link, dataset_page=links.dataset_page,
                       **context)


def speaker(t: Words) -> Callable[[Any], str]:
    """``say(words)`` for templates: a :class:`view.Words` (with nested ones) in the page's language."""

    def say(item: Any) -> str:
        if isinstance(item, view.Words):
            return t(item.key, **{name: say(value) for name, value in item.fields.items()})
        return str(item)

    return say


@router.get("/data")
async def search(request: Request, q: str = "", page: str = "1") -> Response:
    """The catalogue searched: ``q``, the facet filters (repeatable), and the page number."""
    portal_page = Page(request)
    chosen = {name: request.query_params.getlist(name) for name in view.FACETS}
    number = replies.page_number(page)
    context: dict[str, Any] = {"q": q, "chosen": chosen, "error": None,
                               "answer": None, "results": [], "scores": {}, "facets": [], "pager": None}
    if number is None:
        context["error"] = portal_page.t("data.search.bad_page", page=page)
        return render(portal_page, "data/search.html", status=400, **context)
    params: list[tuple[str, str | int]] = [(name, value) for name, values in chosen.items() for value in values]
    if q.strip():
        params.append(("q", q.strip()))
    params += [("limit", view.PAGE_SIZE), ("offset", (number - 1) * view.PAGE_SIZE)]
    platform = await portal_page.platform()
    try:
        answer = await platform.get_json(DATASETS, params=params)
    except UpstreamError as error:
        if error.status == 401 or not 400 <= error.status < 500:  # 401: sign in again (mount.py)
            raise
        context["error"] = portal_page.t("data.search.refused", detail=error.detail)
        return render(portal_page, "data/search.html", status=400, **context)
    results = [view.dataset(item, portal_page.lang) for item in answer.get("items", [])]
    context.update(answer=answer, results=results, facets=view.facets(answer, chosen),
                   scores=await _scores(platform, results),
                   pager=_pager(request, number, answer.get("total", 0)))
    return render(portal_page, "data/search.html", **context)


async def _scores(platform: Platform, results: list[view.Dataset]) -> dict[str, float]:
    """The FAIR percentage of each result (a few milliseconds each); one the API cannot give is left out."""

    async def score(item: view.Dataset) -> tuple[str, float | None]:
        try:
            answer = await platform.get_json(f"{DATASETS}/{quote(item.id, safe='')}/fair")
        except UpstreamError:
            return item.id, None
        return item.id, answer.get("score", {}).get("percent")

    return {key: value for key, value in await asyncio.gather(*map(score, results)) if value is not None}


def _pager(request: Request, number: int, total: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / view.PAGE_SIZE))
    kept = [(name, value) for name, value in request.query_params.multi_items() if name != "page"]

    def link(target: int) -> str:
        return "/data?" + urlencode([*kept, ("page", target)])

    return {"number": number, "pages": pages, "previous": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < pages else None}


@router.get("/data/agreements")
async def agreements(request: Request) -> Response:
    """The portal client's negotiations and agreements, with the use metered on each agreement."""
    page = Page(request)
    page.require_person()
    platform = await page.platform()
    negotiations, made, usage = await asyncio.gather(
        platform.get_json("/marketplace/negotiations"), platform.get_json("/marketplace/agreements"),
        platform.get_json("/marketplace/usage"))
    rows = view.contracts(negotiations.get("negotiations", []), made.get("agreements", []), usage.get("usage", []))
    titles = await _titles(platform, {row.dataset_id for row in rows}, page.lang)
    return render(page, "data/agreements.html", rows=rows, titles=titles, totals=usage.get("totals", {}))


async def _titles(platform: Platform, ids: set[str], lang: str) -> dict[str, str]:
    """The title of each dataset still in the catalogue (a withdrawn one is named by its IRI)."""

    async def title(dataset_id: str) -> tuple[str, str | None]:
        try:
            node = await platform.get_json(f"{DATASETS}/{quote(dataset_id, safe='')}")
        except UpstreamError:
            return dataset_id, None
        return dataset_id, view.text(node.get("title"), lang)

    return {key: value for key, value in await asyncio.gather(*map(title, sorted(ids))) if value}


@router.get("/data/{dataset_id}")
async def dataset(request: Request, dataset_id: str) -> Response:
    """One dataset: its DCAT-AP metadata, FAIR score with hints, and offers to request."""
    page = Page(request)
    return render(page, "data/dataset.html", **await _dataset_context(page, dataset_id))


async def _dataset_context(page: Page, dataset_id: str) -> dict[str, Any]:
    platform = await page.platform()
    path = f"{DATASETS}/{quote(dataset_id, safe='')}"
    node, fair, offers = await asyncio.gather(
        platform.get_json(path), platform.get_json(f"{path}/fair"), platform.get_json(f"{path}/offers"))
    return {"dataset": view.dataset(node, page.lang), "fair": view.fair_score(fair),
            "offers": [view.offer(item) for item in offers.get("offers", [])],
            "refusal": None, "refused_offer": None, "rdf_forms": RDF_FORMS}


@router.get("/data/{dataset_id}/{form}")
async def rdf(request: Request, dataset_id: str, form: str) -> Response:
    """The dataset as RDF (Turtle or JSON-LD) by a plain link, where the API needs an ``Accept``."""
    page = Page(request)
    if form not in RDF_FORMS:
        return replies.not_found(page, page.t("data.rdf.unknown", form=form, forms=", ".join(RDF_FORMS)))
    platform = await page.platform()
    answer = await platform.call("GET", f"{DATASETS}/{quote(dataset_id, safe='')}",
                                 headers={"accept": RDF_FORMS[form]}, ok=(200,))
    return Response(answer.content, media_type=RDF_FORMS[form])


@router.post("/data/{dataset_id}/offers/{offer_uid:path}/request")
async def request_access(request: Request, dataset_id: str, offer_uid: str) -> Response:
    """Start a contract negotiation on the offer (Dataspace Protocol ContractRequestMessage).

    An open offer is agreed at once; a restricted one waits for the provider; a request the offer
    cannot permit (403, naming the constraint) is shown on the dataset page with the reason."""
    page = Page(request)
    if page.person is None:
        return page.redirect("/auth/login?" + urlencode({"next": links.dataset_page(dataset_id)}))
    form = await request.form()
    if not page.csrf_valid(form):
        return replies.form_expired(page)
    context = await _dataset_context(page, dataset_id)
    offer = next((item for item in context["offers"] if item.uid == offer_uid), None)
    if offer is None:
        return replies.not_found(page, page.t("data.request.no_offer", offer=offer_uid))
    body: dict[str, Any] = {"offer": offer.uid}
    purpose = str(form.get("purpose") or "").strip()
    if purpose:
        body["purpose"] = purpose
    try:
        location = _location(form)
    except ValueError:
        context.update(refusal=page.t("data.request.bad_location"), refused_offer=offer.uid)
        return render(page, "data/dataset.html", status=400, **context)
    if location is not None:
        body["location"] = location
    platform = await page.platform()
    try:
        negotiation = await platform.post_json("/marketplace/negotiations/request", body, ok=(200, 201))
    except UpstreamError as error:
        if error.status not in (400, 403, 409, 422):
            raise
        context.update(refusal=error.detail, refused_offer=offer.uid)
        return render(page, "data/dataset.html", status=error.status, **context)
    agreement = None
    if negotiation.get("agreement"):
        agreement = await platform.get_json(f"/marketplace/agreements/{quote(negotiation['agreement'], safe='')}")
    return render(page, "data/request.html", status=201, dataset=context["dataset"], offer=offer,
                  negotiation=negotiation, agreement=agreement)


def _location(form: Any) -> list[float] | None:
    """``[lon, lat]`` from the form's WGS84 fields, None when both are empty; ValueError when they
    are not two numbers in range."""
    raw = [str(form.get(name) or "").strip() for name in ("lon", "lat")]
    if not any(raw):
        return None
    lon, lat = (float(value) for value in raw)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90 and math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError("not a WGS84 position")
    return [lon, lat]
