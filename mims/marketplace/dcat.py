"""The catalogue's domain: datasets as publishers describe them (PPI ``dcat-dataset``), and the use
cases publish, update, withdraw, read and search.

Plain Python, no web framework. A dataset is kept as the publisher's document plus the identifier
and dates the catalogue gives it; its DCAT-AP form is derived when it is read (``rdf.py``), so a
change of rendering never needs a data migration. Storage is anything that implements
:class:`DatasetStore`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson
from shapely.geometry import shape

import ppi_schemas
from mims.kit.problems import ProblemError
from ppi_schemas import PPINotFound

DATASET_PPI = "dcat-dataset@1.0.0"

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000

# The facets a search counts, named as the query parameters that filter on them.
FACETS = ("theme", "keyword", "publisher", "licence", "format")


class DatasetNotFound(LookupError):
    def __init__(self, dataset_id: str) -> None:
        super().__init__(f"no dataset {dataset_id!r}")
        self.dataset_id = dataset_id


class InvalidDataset(ValueError):
    """What the PPI's schema cannot say: a member that names something the platform does not know."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(reason)
        self.pointer = pointer
        self.reason = reason


class InvalidSearch(ValueError):
    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """WGS84 degrees; datasets and queries meet when their boxes intersect."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, text: str) -> BoundingBox:
        """``minLon,minLat,maxLon,maxLat`` as the ``bbox`` query parameter gives it."""
        parts = text.split(",")
        if len(parts) != 4:
            raise InvalidSearch("bbox", "expected four numbers: minLon,minLat,maxLon,maxLat")
        try:
            min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
        except ValueError:
            raise InvalidSearch("bbox", "expected four numbers: minLon,minLat,maxLon,maxLat") from None
        box = cls(min_lon, min_lat, max_lon, max_lat)
        if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
            raise InvalidSearch("bbox", "minLon <= maxLon within [-180, 180] and minLat <= maxLat within [-90, 90]")
        return box

    def wkt(self) -> str:
        """The box as a WKT polygon, the literal DCAT's ``dcat:bbox`` recommends."""
        w, s, e, n = self.min_lon, self.min_lat, self.max_lon, self.max_lat
        return f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


@dataclass(frozen=True, slots=True)
class Dataset:
    """A published dataset: the publisher's ``dcat-dataset`` document, its id and its dates."""

    id: str
    document: Mapping[str, Any]
    issued: datetime
    modified: datetime
    # A harvested dataset keeps the IRI it has in the catalogue it came from, named by ``source``.
    iri: str | None = None
    source: str | None = None

    @property
    def bbox(self) -> BoundingBox | None:
        spatial = self.document.get("spatial")
        if spatial is None:
            return None
        if "bbox" in spatial:
            return BoundingBox(*spatial["bbox"])
        return BoundingBox(*shape(spatial["geometry"]).bounds)

    def text(self) -> str:
        """What full-text search looks at: titles, descriptions and keywords, all languages."""
        parts = [*self.document["title"].values(), *self.document["description"].values()]
        parts.extend(self.document.get("keywords", ()))
        return "\n".join(parts)

    def facet_values(self) -> list[tuple[str, str]]:
        """Every (facet, value) pair the dataset is counted under."""
        doc = self.document
        pairs = [("theme", theme) for theme in doc.get("themes", ())]
        pairs += [("keyword", keyword) for keyword in doc.get("keywords", ())]
        pairs += [("publisher", doc["publisher"]["name"]), ("licence", doc["license"])]
        formats = {d["format"] for d in doc.get("distributions", ()) if "format" in d}
        if "digitalTwin" in doc:
            formats.add(JSON_LD_FILE_TYPE)
        pairs += [("format", fmt) for fmt in sorted(formats)]
        return list(dict.fromkeys(pairs))


JSON_LD_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/JSON_LD"

# The EU data-theme vocabulary (Publications Office authority table), with its English and Dutch
# labels: DCAT-AP wants each skos:Concept a dataset points at to carry its skos:prefLabel.
DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
DATA_THEME_LABELS: Mapping[str, Mapping[str, str]] = {
    "AGRI": {"en": "Agriculture, fisheries, forestry and food", "nl": "Landbouw, visserij, bosbouw en voeding"},
    "ECON": {"en": "Economy and finance", "nl": "Economie en financiën"},
    "EDUC": {"en": "Education, culture and sport", "nl": "Onderwijs, cultuur en sport"},
    "ENER": {"en": "Energy", "nl": "Energie"},
    "ENVI": {"en": "Environment", "nl": "Milieu"},
    "GOVE": {"en": "Government and public sector", "nl": "Overheid en publieke sector"},
    "HEAL": {"en": "Health", "nl": "Gezondheid"},
    "INTR": {"en": "International issues", "nl": "Internationale vraagstukken"},
    "JUST": {"en": "Justice, legal system and public safety", "nl": "Justitie, rechtsstelsel en openbare veiligheid"},
    "OP_DATPRO": {"en": "Provisional data", "nl": "Voorlopige gegevens"},
    "REGI": {"en": "Regions and cities", "nl": "Regio's en steden"},
    "SOCI": {"en": "Population and society", "nl": "Bevolking en samenleving"},
    "TECH": {"en": "Science and technology", "nl": "Wetenschap en technologie"},
    "TRAN": {"en": "Transport", "nl": "Vervoer"},
}


def digital_twin_query_url(gateway_url: str, twin: Mapping[str, Any]) -> str:
    """The gateway's NGSI-LD query (ETSI GS CIM 009, 6.4.3.2) that returns the dataset's entities."""
    params = {"type": ",".join(twin["entityTypes"])}
    if "q" in twin:
        params["q"] = twin["q"]
    if "georel" in twin:
        params["georel"] = twin["georel"]
        params["geometry"] = twin["geometry"]
        params["coordinates"] = orjson.dumps(twin["coordinates"]).decode()
    return f"{gateway_url.rstrip('/')}/ngsi-ld/v1/entities?{urlencode(params)}"


def check_references(document: Mapping[str, Any]) -> None:
    """Refuse what the schema lets through but the catalogue cannot keep: a NUL character
    (PostgreSQL text cannot hold one), or a digital twin naming a PPI the platform does not have."""
    pointer = nul_pointer(document, "")
    if pointer is not None:
        raise InvalidDataset(pointer, "text must not contain a NUL character")
    twin = document.get("digitalTwin")
    if twin is None:
        return
    try:
        ppi_schemas.get(twin["ppi"])
    except PPINotFound:
        raise InvalidDataset("/digitalTwin/ppi", f"there is no PPI {twin['ppi']!r}") from None


def nul_pointer(value: Any, pointer: str) -> str | None:
    """The JSON pointer of the first string (member name or value) holding a NUL, if any."""
    if isinstance(value, str):
        return pointer if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
            found = here if "\x00" in key else nul_pointer(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_pointer(item, f"{pointer}/{index}")
            if found is not None:
                return found
    return None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A catalogue search: text, facet filters (all must hold), a box, and a page."""

    text: str | None = None
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bbox: BoundingBox | None = None
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.filters) - set(FACETS)
        if unknown:
            raise InvalidSearch(sorted(unknown)[0], f"not a facet; facets are {', '.join(FACETS)}")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidSearch("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidSearch("offset", f"must be between 0 and {MAX_OFFSET}")
        if self.text is not None and not self.text.strip():
            raise InvalidSearch("q", "must not be blank")
        if self.text is not None and "\x00" in self.text:
            raise InvalidSearch("q", "must not contain a NUL character")
        for name, values in self.filters.items():
            if any("\x00" in value for value in values):
                raise InvalidSearch(name, "must not contain a NUL character")


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: SearchQuery
    total: int
    items: list[Dataset]
    # facet -> [(value, count)], most frequent first
    facets: Mapping[str, list[tuple[str, int]]]


class DatasetStore(Protocol):
    async def add(self, dataset: Dataset) -> None: ...

    async def replace(self, dataset: Dataset) -> bool:
        """Store the new version of an existing dataset; False when there is none."""
        ...

    async def get(self, dataset_id: str) -> Dataset | None: ...

    async def delete(self, dataset_id: str) -> bool: ...

    async def all(self) -> list[Dataset]:
        """Every dataset in publication order."""
        ...

    async def search(self, query: SearchQuery) -> SearchResult: ...


class Catalogue:
    """The catalogue use cases; documents arrive already valid against the ``dcat-dataset`` PPI."""

    def __init__(self, store: DatasetStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._clock = clock

    async def publish(self, document: Mapping[str, Any]) -> Dataset:
        check_references(document)
        now = self._clock()
        dataset = Dataset(id=uuid.uuid4().hex, document=document, issued=now, modified=now)
        await self._store.add(dataset)
        return dataset

    async def update(self, dataset_id: str, document: Mapping[str, Any]) -> Dataset:
        """Replace the description; the id (hence the IRI) and the issue date stay."""
        check_references(document)
        current = await self.get(dataset_id)
        if current.source is not None:
            raise ProblemError(
                409, "Conflict",
                f"dataset {dataset_id!r} is harvested from {current.source}: it is edited there, and harvested again",
                extensions={"source": current.source},
            )
        dataset = Dataset(id=dataset_id, document=document, issued=current.issued, modified=self._clock())
        if not await self._store.replace(dataset):
            raise DatasetNotFound(dataset_id)
        return dataset

    async def withdraw(self, dataset_id: str) -> None:
        if not await self._store.delete(dataset_id):
            raise DatasetNotFound(dataset_id)

    async def get(self, dataset_id: str) -> Dataset:
        dataset = await self._store.get(dataset_id)
        if dataset is None:
            raise DatasetNotFound(dataset_id)
        return dataset

    async def all(self) -> list[Dataset]:
        return await self._store.all()

    async def search(self, query: SearchQuery) -> SearchResult:
        return await self._store.search(query)
