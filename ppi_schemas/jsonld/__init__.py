"""JSON-LD for PPI payloads: local context loading, expand/compact/RDF, and unmapped-term checks.

Contexts resolve from files shipped with the package (the NGSI-LD core context and every PPI's
own context) or preloaded from a folder; the network is used only for unknown contexts, once,
and can be switched off. See :mod:`.loader`, :mod:`.api`, :mod:`.fastpath` and :mod:`.terms`.
"""

from .api import compact, default_loader, expand, to_rdf
from .loader import NGSI_LD_CORE_CONTEXT_URL, ContextNotAvailable, DocumentLoader
from .terms import UnmappedTerm, unmapped_terms

__all__ = [
    "NGSI_LD_CORE_CONTEXT_URL",
    "ContextNotAvailable",
    "DocumentLoader",
    "UnmappedTerm",
    "compact",
    "default_loader",
    "expand",
    "to_rdf",
    "unmapped_terms",
]
