"""The demo's catalogue entries: one DCAT-AP dataset (PPI ``dcat-dataset@1.0.0``) per kind of
data a city seeds, and ODRL offers (PPI ``odrl-offer@1.0.0``) on them.

Offers carry fixed ``uid`` s (UUID 5 of the dataset's English title and the offer's role), so a
second seed finds them taken (409) instead of adding copies. One offer is open (no constraints:
the marketplace agrees at once), one restricted (purpose and count constraints).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
THEMES = "http://publications.europa.eu/resource/authority/data-theme/"
ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
DEMO_KEYWORD = "demo"
"""Every demo dataset has this keyword, by which a later seed finds them."""
OPEN, RESTRICTED = "open", "restricted"
_UID_NAMESPACE = uuid.UUID("6f0d2c1e-9b7a-4e5d-8c3b-2a1f0e9d8c7b")


@dataclass(frozen=True, slots=True)
class Publisher:
    name: str
    url: str
    contact: str
    email: str


@dataclass(slots=True)
class DatasetEntry:
    """A dataset to publish and the roles of the offers to put on it (``open``, ``restricted``)."""

    document: dict[str, Any]
    offers: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        return self.document["title"]["en"]


def dataset(publisher: Publisher, *, title: dict[str, str], description: dict[str, str], keywords: list[str],
            themes: list[str], bbox: tuple[float, float, float, float], license: str = CC_BY,
            conforms_to: list[str] | None = None, digital_twin: dict[str, Any] | None = None,
            access_url: str | None = None) -> dict[str, Any]:
    """A dcat-dataset@1.0.0 document; ``bbox`` is (min lon, min lat, max lon, max lat)."""
    document: dict[str, Any] = {
        "title": title,
        "description": description,
        "publisher": {"name": publisher.name, "url": publisher.url},
        "contactPoint": {"name": publisher.contact, "email": publisher.email},
        "keywords": [*keywords, DEMO_KEYWORD],
        "themes": [THEMES + theme for theme in themes],
        "spatial": {"bbox": list(bbox)},
        "license": license,
    }
    if conforms_to:
        document["conformsTo"] = conforms_to
    if digital_twin is not None:
        document["digitalTwin"] = digital_twin
    if access_url is not None:
        document["distributions"] = [{"title": {"en": "NGSI-LD query of the digital twin"}, "accessURL": access_url,
                                      "mediaType": "application/ld+json"}]
    return document


def offer(entry: DatasetEntry, role: str, target: str, assigner: str) -> dict[str, Any]:
    """The ``role`` offer (open or restricted) on the dataset whose IRI is ``target``."""
    permission: dict[str, Any] = {"action": "use"}
    if role == RESTRICTED:
        permission = {
            "action": "use",
            "constraint": [
                {"leftOperand": "purpose", "operator": "isAnyOf",
                 "rightOperand": ["https://w3id.org/dpv#AcademicResearch", "https://w3id.org/dpv#ServiceOptimisation"]},
                {"leftOperand": "count", "operator": "lteq", "rightOperand": 1000},
            ],
            "duty": [{"action": "attribute"}],
        }
    return {
        "@context": ODRL_CONTEXT,
        "@type": "Offer",
        "uid": offer_uid(entry, role),
        "assigner": assigner,
        "target": target,
        "permission": [permission],
    }


def offer_uid(entry: DatasetEntry, role: str) -> str:
    return uuid.uuid5(_UID_NAMESPACE, f"{entry.title}|{role}").urn
