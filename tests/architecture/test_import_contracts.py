"""The house rules on imports (DESIGN.md 3.1) hold, and cannot silently rot."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Packages under mims/ that are not MIMs: shared plumbing and the CLI.
NOT_MIMS = {"kit", "cli", "__pycache__"}


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_every_contract_is_kept():
    # In a subprocess: import-linter reconfigures logging for the whole process.
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_mim_package_is_under_the_independence_contract():
    mims = {f"mims.{p.name}" for p in (ROOT / "mims").iterdir()
            if p.is_dir() and p.name not in NOT_MIMS and (p / "__init__.py").exists()}
    independence = next(c for c in _contracts() if c["type"] == "independence")
    forbidden_sources = {m for c in _contracts() if c["type"] == "forbidden"
                         for m in c["source_modules"]}
    assert mims <= set(independence["modules"]), "add new MIMs to the independence contract"
    assert mims <= forbidden_sources, "add new MIMs to the gateway/conformance contract"
    demo = next(c for c in _contracts() if c.get("source_modules") == ["mims.cli.demo"])
    assert mims <= set(demo["forbidden_modules"]), "the demo reaches every MIM over HTTP only: add new MIMs to its contract"
