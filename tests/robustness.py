"""Schemathesis runs that every operation of a served OpenAPI document must survive without a
server error: derandomized (repeatable), every failing operation reported at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Response
from schemathesis.core import NOT_SET

LD_CONTEXT_NOT_AVAILABLE = "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"


def unavailable_ld_context(response: Response) -> bool:
    """The one 5xx NGSI-LD asks for: an @context URL that cannot be fetched (clause 6.3.2, 503).

    Generated bodies name random remote @contexts and the broker under test fetches none.
    """
    return response.status_code == 503 and response.json().get("type") == LD_CONTEXT_NOT_AVAILABLE


def server_errors(
    base_url: str,
    runs: Iterable[tuple[object, dict[str, str] | None]],
    *,
    examples: int,
    timeout: float = 10,
    expected: Callable[[Response], bool] = lambda response: False,
) -> tuple[list[str], list[str]]:
    """Generated requests for each ``(operation, headers)``: the 5xx answers (unless ``expected``),
    and the operations that take a body but were never sent one."""
    failures: list[str] = []
    without_body: list[str] = []
    for operation, headers in runs:
        bodies: list[object] = []

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case) -> None:
            if case.body is not NOT_SET:
                bodies.append(case.body)
            response = case.call(base_url=base_url, headers=headers, timeout=timeout)
            if response.status_code >= 500 and not expected(response):
                raise AssertionError(f"{response.status_code} {response.text[:800]}\n{case.as_curl_command()}")

        try:
            exercise()
        except Exception as error:  # noqa: BLE001 - every failing operation is reported at once
            failures.append(f"{operation.label} ({'with' if headers else 'without'} a token): {error}")
        if operation.body and not bodies:
            without_body.append(operation.label)
    return failures, without_body
