"""Compatibility between two versions of a PPI.

Definitions, for payloads (JSON documents) judged by each version's schema:

- **backward compatible**: every payload valid under OLD is valid under NEW, so consumers on the
  new version read data produced for the old one;
- **forward compatible**: every payload valid under NEW is valid under OLD, so consumers still on
  the old version read data produced for the new one;
- **full**: both; **breaking**: neither.

``check`` combines three sources: a structural diff of the JSON Schemas (``compare_schemas``), a
diff of the JSON-LD contexts' term IRIs (``compare_contexts``; a change of meaning breaks both
ways even when the shape is unchanged), and an empirical pass that validates every valid example
of OLD under NEW. Each ``Change`` names the directions it breaks and the verdict follows from the
union, so a report can always be traced back to its reasons.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ppi_schemas
from ppi_schemas.compat.json_ld import compare_contexts
from ppi_schemas.compat.json_schema import compare_schemas
from ppi_schemas.compat.model import Change, Compatibility, CompatReport, verdict

if TYPE_CHECKING:
    from ppi_schemas import PPI

__all__ = ["Change", "CompatReport", "Compatibility", "check", "compare_contexts", "compare_schemas"]


def check(old: PPI, new: PPI) -> CompatReport:
    """Compare two versions of a PPI: schema, context, and OLD's valid examples under NEW."""
    changes = compare_schemas(old.schema, new.schema) + compare_contexts(old.context, new.context)
    failures: list[str] = []
    for example in old.examples_valid:
        problems = ppi_schemas.validate(example.payload, new)
        if problems:
            detail = "; ".join(f"{problem.pointer or '/'}: {problem.message}" for problem in problems)
            failures.append(f"examples/valid/{example.name}.json: {detail}")
            message = f"valid example {example.name}.json of {old.ref} is rejected by {new.ref}: {detail}"
            changes.append(Change("example-rejected", problems[0].schema_path, message, "backward"))
    return CompatReport(old.ref, new.ref, verdict(changes), changes, failures)
