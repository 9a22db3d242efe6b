"""The demo city certifies its own MIMs: after `oup up`'s first start the conformance folder holds
the demo authority's key and a certified run per MIM, which the portal lists as valid, and
`oup demo certify` replaces them with fresh ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance import certificate
from oup_platform import WIDE, Platform
from tests.serving import ROOT

CERTIFIED = ("identity", "context", "permit-check")
MARKER_WAIT_SECONDS = 180.0


def _wait_for_certification(data_dir: Path) -> dict:
    """The marker `oup up` writes once the background certification is done."""
    marker = data_dir / "demo-certified.json"
    deadline = time.monotonic() + MARKER_WAIT_SECONDS
    while not marker.exists():
        assert time.monotonic() < deadline, f"no {marker.name} within {MARKER_WAIT_SECONDS} s"
        time.sleep(0.5)
    return json.loads(marker.read_text())


@pytest.fixture(scope="module")
def certified(platform: Platform) -> Platform:
    _wait_for_certification(platform.data_dir)
    return platform


def _verified(folder: Path, mim: str) -> dict:
    run = folder / "runs" / f"rotterdam-{mim}"
    authority = certificate.load_authority(folder / "demo-authority.public.jwk")
    return certificate.verify((run / "certificate.jws").read_text(), authority, (run / "report.json").read_bytes())


def test_first_start_certifies_identity_context_and_the_permit_check(certified: Platform) -> None:
    marker = json.loads((certified.data_dir / "demo-certified.json").read_text())
    assert {run["mim"]: run["certified"] for run in marker["runs"]} == dict.fromkeys(CERTIFIED, True)
    folder = certified.data_dir / "conformance"
    assert (folder / "demo-authority.private.jwk").stat().st_mode & 0o777 == 0o600
    assert "illustrative" in certificate.load_authority(folder / "demo-authority.public.jwk").name
    for mim in CERTIFIED:
        claims = _verified(folder, mim)
        assert (claims["mim"], claims["profile"]) == (mim, "mim")
        assert claims["counts"]["must_failed"] == claims["counts"]["must_not_run"] == 0
    assert _verified(folder, "permit-check")["sub"] == f"{certified.gateway}/permit-check"


def test_the_portal_lists_the_certificates_as_valid(certified: Platform) -> None:
    response = certified.http.get("/certificates", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    rows = dict(re.findall(r'<tr>\s*<th scope="row"><a href="/certificates/([^"]+)">(.*?)</tr>',
                           response.text, flags=re.S))
    assert rows.keys() == {f"rotterdam-{mim}" for mim in CERTIFIED}
    for row in rows.values():
        assert '<span class="verdict-pass">Valid</span>' in row, row


def test_certifying_again_replaces_the_runs_with_fresh_certificates(certified: Platform) -> None:
    folder = certified.data_dir / "conformance"
    before = {mim: (folder / "runs" / f"rotterdam-{mim}" / "certificate.jws").read_text() for mim in CERTIFIED}
    key = (folder / "demo-authority.public.jwk").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "mims.cli", "demo", "certify", "--gateway", certified.gateway,
         "--data-dir", str(certified.data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=WIDE)
    assert result.returncode == 0, result.stderr
    assert "identity, context, permit-check certified" in result.stdout
    assert (folder / "demo-authority.public.jwk").read_text() == key  # the authority is made once
    for mim in CERTIFIED:
        assert (folder / "runs" / f"rotterdam-{mim}" / "certificate.jws").read_text() != before[mim]
        _verified(folder, mim)


@pytest.mark.parametrize(("arguments", "said"), [
    (["--city", "utrecht"], "rotterdam, den-haag, zuid-holland"),
    (["--data-dir", "no-such-folder"], "no identity.db"),
])
def test_bad_input_is_refused_with_a_usage_error(arguments: list[str], said: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "mims.cli", "demo", "certify", *arguments],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60, env=WIDE)
    assert result.returncode == 2
    assert said in result.stderr
