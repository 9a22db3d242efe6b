"""The portal's dataset page over HTTP, with a marketplace that answers what a careless or hostile
publisher could put in a catalogue: links from the data are links only when they are web (or mail)
addresses, anything else is shown as text; a FAIR answer with odd principle names still renders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi import FastAPI
from serving import closed_port, free_port, served
from starlette.testclient import TestClient

from gateway.service import create_app

SCRIPT = "javascript:alert(document.domain)"
DATASET = {
    "@id": "javascript:alert(1)//datasets/odd",
    "title": [{"@value": "Odd links", "@language": "en"}],
    "description": "A dataset whose links are not all web addresses.",
    "publisher": {"@id": SCRIPT, "name": ["Gemeente Nergens"]},
    "licence": {"@id": "data:text/html,<script>alert(1)</script>"},
    "accessRights": {"@id": "vbscript:msgbox(1)"},
    "conformsTo": [{"@id": "https://www.w3.org/TR/vocab-dcat-3/"}, {"@id": SCRIPT}],
    "http://purl.org/dc/terms/isPartOf": [{"@id": " JaVaScRiPt:alert(2)"}],
    "contactPoint": [{"http://www.w3.org/2006/vcard/ns#fn": "Data team",
                      "http://www.w3.org/2006/vcard/ns#hasEmail": {"@id": "mailto:javascript:alert(3)"}}],
    "datasetDistribution": [
        {"title": "Web", "accessUrl": [{"@id": "https://data.example/odd.csv"}],
         "downloadUrl": [{"@id": SCRIPT}]},
        {"title": "Script", "accessUrl": [{"@id": SCRIPT}]},
    ],
}
FAIR = {"score": {"percent": 100.0, "earned": 1, "total": 1},
        "principles": {"F": {"earned": 1, "total": 1, "percent": 100.0}}, "metrics": [], "hints": []}
ODD_FAIR = {
    "score": {"percent": 50.0, "earned": 1, "total": 2},
    "principles": {"F": {"earned": 1, "total": 1, "percent": 100.0}, "": {"earned": 0, "total": 1, "percent": 0.0},
                   "FA": {"earned": 0, "total": 0, "percent": 0.0}},
    "metrics": [{"id": "X-1", "name": "Odd metric"}],
    "hints": [{"metric": "X-1", "text": "An odd hint."}, {"metric": "FsF-", "text": "A hint without a letter."}],
}


def marketplace() -> FastAPI:
    app = FastAPI()

    @app.get("/datasets/{dataset_id}")
    async def dataset(dataset_id: str) -> dict[str, object]:
        return DATASET

    @app.get("/datasets/{dataset_id}/fair")
    async def fair(dataset_id: str) -> dict[str, object]:
        return ODD_FAIR if dataset_id == "odd-fair" else FAIR

    @app.get("/datasets/{dataset_id}/offers")
    async def offers(dataset_id: str) -> dict[str, object]:
        return {"offers": []}

    return app


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    port, nowhere = free_port(), f"http://127.0.0.1:{closed_port()}"
    with served(marketplace(), port) as upstream:
        gateway = create_app(data_dir=Path(tmp_path_factory.mktemp("gateway")), identity_url=nowhere,
                             context_url=nowhere, marketplace_url=upstream)
        with TestClient(gateway, cookies={"oup_lang": "en"}) as client:
            yield client


def test_only_web_and_mail_addresses_from_the_data_become_links(portal: TestClient) -> None:
    page = portal.get("/data/odd")
    assert page.status_code == 200, page.text
    hrefs = [unescape(href) for href in re.findall(r'href="([^"]*)"', page.text)]
    assert all(href.startswith(("/", "#", "https://", "http://", "mailto:")) for href in hrefs), hrefs
    assert "https://www.w3.org/TR/vocab-dcat-3/" in hrefs and "https://data.example/odd.csv" in hrefs
    assert not any(href.startswith("mailto:") for href in hrefs)  # "javascript:alert(3)" is no address
    text = unescape(page.text)
    for shown in (SCRIPT, "vbscript:msgbox(1)", "JaVaScRiPt:alert(2)", "Gemeente Nergens", "javascript:alert(3)"):
        assert shown in text  # shown as text
    assert "/data/odd/turtle" in hrefs  # this portal's own pages stay linked


def test_a_fair_answer_with_odd_principle_names_still_renders(portal: TestClient) -> None:
    page = portal.get("/data/odd-fair")
    assert page.status_code == 200
    rows = re.findall(r'<th scope="row">(.*?)</th>', page.text)
    assert "FA" in rows and "" in rows and any("Findable" in row for row in rows)
