"""Runs the chosen checks against one target, one after another, and gathers the report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from conformance import SUITE_VERSION
from conformance.model import Check, Failed, NotRun, Result, Skipped
from conformance.session import NoCredentials, Session, Target, TokenUnavailable

CHECK_TIMEOUT = 60.0
"""Seconds one check may take (notification waits included)."""


@dataclass
class Report:
    target: Target
    started: datetime
    finished: datetime
    results: list[Result]
    declared: list[dict[str, str]] = field(default_factory=list)
    """The PPIs (name, version) the target declares at ``/.well-known/mim``, where it has one."""
    suite_version: str = SUITE_VERSION

    def counts(self) -> dict[str, int]:
        counts = {"passed": 0, "failed": 0, "skipped": 0, "not-run": 0, "error": 0}
        for result in self.results:
            counts[result.status] += 1
        counts["must_failed"] = sum(1 for r in self.results if r.check.severity == "must" and r.status in ("failed", "error"))
        counts["should_failed"] = sum(1 for r in self.results if r.check.severity == "should" and r.status == "failed")
        counts["must_not_run"] = sum(1 for r in self.results if r.check.severity == "must" and r.status == "not-run")
        return counts

    @property
    def certifiable(self) -> bool:
        """Every must-check passed or did not apply, none lacked the operator's input, and none broke."""
        return bool(self.results) and not self.blocking

    @property
    def blocking(self) -> list[Result]:
        """The results that keep the report from being certifiable: errors, and failed or not-run must-checks."""
        return [r for r in self.results if r.status == "error"
                or (r.check.severity == "must" and r.status in ("failed", "not-run"))]


async def run(target: Target, checks: Sequence[Check],
              progress: Callable[[Result], None] | None = None) -> Report:
    """Every check of ``checks`` against ``target``; ``progress`` hears of each result as it comes."""
    started = datetime.now(UTC)
    session = Session(target)
    results = []
    try:
        declared = await _declared(session)
        for check in checks:
            result = await _run_one(session, check)
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        await session.aclose()
    return Report(target, started, datetime.now(UTC), results, declared)


async def _run_one(session: Session, check: Check) -> Result:
    started = time.perf_counter()
    with session.recording():
        try:
            await asyncio.wait_for(check.run(session), CHECK_TIMEOUT)
            status, message = "passed", ""
        except Failed as failure:
            status, message = "failed", str(failure)
        except Skipped as skipped:
            status, message = "skipped", str(skipped)
        except NotRun as missing:
            status, message = "not-run", str(missing)
        except NoCredentials as missing:
            status, message = "not-run", f"the check needs an access token: {missing}"
        except TokenUnavailable as error:
            status, message = "failed", f"the check needs an access token: {error}"
        except httpx.HTTPError as error:
            status, message = "failed", f"the target did not answer: {type(error).__name__} {error}".strip()
        except TimeoutError:
            status, message = "failed", f"no result within {CHECK_TIMEOUT:.0f} s"
        except Exception as error:  # a fault of the suite, reported as such, never as a pass
            status, message = "error", f"the check itself broke: {type(error).__name__}: {error}"
        return Result(check, status, message, list(session.notes), list(session.evidence),
                      round(time.perf_counter() - started, 3))


async def _declared(session: Session) -> list[dict[str, Any]]:
    try:
        answer = await session.http.get("/.well-known/mim")
        document = answer.json() if answer.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return []
    ppis = {(p.get("ppi"), p.get("version")) for key in ("consumes", "produces")
            for p in (document.get(key) or []) if isinstance(p, dict)}
    return [{"ppi": str(name), "version": str(version)} for name, version in sorted(ppis, key=str)]
