"""PPI contracts at the door: request bodies validated, PPI versions negotiated by media type profile.

A client names the PPI version it sends or wants with the ``profile`` parameter of
``Content-Type`` or ``Accept`` (RFC 6906): either ``name@version`` or a PPI URL
(``https://w3id.org/oup/ppi/<name>/<version>/...``). Profiles that name no PPI are not ours
and pass; a PPI version the route does not speak is 406 with the versions it does.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from mims.kit.ppi import is_json_media_type, parse_json, validate_body
from mims.kit.problems import ProblemError

__all__ = ["is_json_media_type", "negotiate", "parse_json", "profiles", "validate_body"]

_PPI_REF = re.compile(r"^([a-z0-9][a-z0-9-]*)@(\d+\.\d+\.\d+)$")
_PPI_URL = re.compile(r"/ppi/([a-z0-9][a-z0-9-]*)/(\d+\.\d+\.\d+)(?:/|$)")
_PROFILE = re.compile(r';\s*profile\s*=\s*(?:"([^"]*)"|([^;,\s]+))', re.IGNORECASE)


def profiles(header: str | None) -> list[str]:
    """The PPI references (``name@version``) the profile parameters of a media type header name."""
    if not header:
        return []
    found: list[str] = []
    for quoted, bare in _PROFILE.findall(header):
        for token in (quoted or bare).split():
            ref = _PPI_REF.match(token)
            url = _PPI_URL.search(token)
            match = ref or url
            if match:
                found.append(f"{match.group(1)}@{match.group(2)}")
    return found


def negotiate(header_name: str, asked: list[str], supported: Collection[str]) -> None:
    """406 unless one of the ``asked`` PPI versions is ``supported`` (or none was asked for a PPI we know).

    Only PPIs ``supported`` has some version of are judged: asking for a PPI the route
    has nothing to do with is not a version conflict.
    """
    names = {ref.partition("@")[0] for ref in supported}
    relevant = [ref for ref in asked if ref.partition("@")[0] in names]
    if not relevant or any(ref in supported for ref in relevant):
        return
    raise ProblemError(
        406,
        "Not Acceptable",
        f"{header_name} profile asks for {', '.join(relevant)}; supported: {', '.join(sorted(supported))}",
        extensions={"supported": sorted(supported)},
    )
