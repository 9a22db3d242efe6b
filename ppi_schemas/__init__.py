"""PPIs: the versioned contracts between OUP components, shipped as data with a small API.

>>> from ppi_schemas import get, validate
>>> validate({"name": "echo"}, get("mim-description@1"))[0].pointer
'/consumes'
"""

from ppi_schemas.registry import (
    PPI,
    Catalogue,
    Example,
    InvalidPPI,
    PPINotFound,
    Version,
    catalogue,
    get,
    load_catalogue,
)
from ppi_schemas.validation import Problem, UnresolvableReference, is_valid, json_pointer, validate

__all__ = [
    "PPI",
    "Catalogue",
    "Example",
    "InvalidPPI",
    "PPINotFound",
    "Problem",
    "UnresolvableReference",
    "Version",
    "catalogue",
    "get",
    "is_valid",
    "json_pointer",
    "load_catalogue",
    "validate",
]
