"""RFC 9457 problem details: the one error shape every OUP service answers with.

Domain code raises :class:`ProblemError`; the app factory renders it as
``application/problem+json``. NGSI-LD error types (ETSI GS CIM 009, 6.3.2) are
exposed as constants so the context MIM can use the spec's own type URIs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_JSON = "application/problem+json"

NGSI_LD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
NGSI_LD_ERROR_TYPES = (
    "InvalidRequest",
    "BadRequestData",
    "AlreadyExists",
    "OperationNotSupported",
    "ResourceNotFound",
    "InternalError",
    "TooComplexQuery",
    "TooManyResults",
    "LdContextNotAvailable",
    "NoMultiTenantSupport",
    "NonexistentTenant",
    "Conflict",
    "Gone",
    "NotAcceptable",
    "UnsupportedMediaType",
)


@dataclass(frozen=True, slots=True)
class ProblemItem:
    """One concrete problem: where (JSON pointer into ``location``) and what."""

    pointer: str
    detail: str
    location: str = "body"

    def to_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail, "location": self.location}


@dataclass(eq=False)
class ProblemError(Exception):
    """An error the client should see, as RFC 9457 problem details."""

    status: int
    title: str
    detail: str | None = None
    type: str = "about:blank"
    errors: list[ProblemItem] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail or self.title)

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.to_dict() for e in self.errors]
        body.update(self.extensions)
        return body
