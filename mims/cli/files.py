"""Files the command line keeps in a platform's data folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson


def write_json(path: Path, document: Any) -> None:
    """``document`` as ``path`` (mode 0600), whole or not at all: written beside it, then renamed."""
    descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
