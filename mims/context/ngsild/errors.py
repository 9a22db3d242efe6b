"""NGSI-LD error types (ETSI GS CIM 009 V1.8.1, clause 5.5.2 and the HTTP mapping of clause 6.3.2).

Each type is a :class:`~mims.kit.problems.ProblemError` whose ``type`` is the spec's own URI
(``https://uri.etsi.org/ngsi-ld/errors/<Type>``) and whose status is the one clause 6.3.2 gives,
so domain code raises e.g. ``BadRequestData("...")`` and the kit renders RFC 9457 problem details.
``NotAcceptable`` and ``UnsupportedMediaType`` are the HTTP-level answers of clause 6.3.4 under
the same namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from mims.kit.problems import NGSI_LD_ERRORS, ProblemError, ProblemItem


class NgsiLdError(ProblemError):
    """Base of the NGSI-LD error types; subclasses fix the type name, status and title."""

    type_name: ClassVar[str]
    http_status: ClassVar[int]
    summary: ClassVar[str]

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Iterable[ProblemItem] = (),
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            self.http_status,
            self.summary,
            detail,
            type=NGSI_LD_ERRORS + self.type_name,
            errors=list(errors),
            headers=dict(headers or {}),
            extensions=dict(extensions or {}),
        )


class InvalidRequest(NgsiLdError):
    type_name, http_status, summary = "InvalidRequest", 400, "The request is syntactically invalid"


class BadRequestData(NgsiLdError):
    type_name, http_status, summary = "BadRequestData", 400, "The request includes input data that does not meet the requirements of the operation"


class AlreadyExists(NgsiLdError):
    type_name, http_status, summary = "AlreadyExists", 409, "The referred element already exists"


class Conflict(NgsiLdError):
    """E.g. an exclusive registration overlapping one already made (clause 4.3.6.3)."""

    type_name, http_status, summary = "Conflict", 409, "The request conflicts with the current state of the resource"


class OperationNotSupported(NgsiLdError):
    type_name, http_status, summary = "OperationNotSupported", 422, "The operation is not supported"


class ResourceNotFound(NgsiLdError):
    type_name, http_status, summary = "ResourceNotFound", 404, "The referred resource has not been found"


class InternalError(NgsiLdError):
    type_name, http_status, summary = "InternalError", 500, "There has been an error during the operation execution"


class TooComplexQuery(NgsiLdError):
    type_name, http_status, summary = "TooComplexQuery", 403, "The query is too complex and cannot be resolved"


class TooManyResults(NgsiLdError):
    type_name, http_status, summary = "TooManyResults", 403, "The query would give too many results"


class LdContextNotAvailable(NgsiLdError):
    type_name, http_status, summary = "LdContextNotAvailable", 503, "A remote JSON-LD @context could not be retrieved"


class NoMultiTenantSupport(NgsiLdError):
    type_name, http_status, summary = "NoMultiTenantSupport", 501, "Multi-tenancy is not supported"


class NonexistentTenant(NgsiLdError):
    type_name, http_status, summary = "NonexistentTenant", 404, "The addressed tenant does not exist"


class NotAcceptable(NgsiLdError):
    type_name, http_status, summary = "NotAcceptable", 406, "No acceptable representation"


class UnsupportedMediaType(NgsiLdError):
    type_name, http_status, summary = "UnsupportedMediaType", 415, "Unsupported request media type"
