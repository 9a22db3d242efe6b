"""What the demo tests use: the platform as ``oup up`` runs it (shared with the portal's tests),
the entities the Rotterdam demo defines, and an environment wide enough for the CLI's tables."""

from __future__ import annotations

import os

from oup_platform import Platform, expected_counts, layers

__all__ = ["WIDE", "Platform", "expected_counts", "layers"]

WIDE = {**os.environ, "COLUMNS": "200"}
