"""Identifiers: hub PIDs and normalisation of external identifiers (DOI, handle, URL, ...)."""

from __future__ import annotations

import re
import secrets

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_VERSION_PID = re.compile(r"^([0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4})\.v(\d{1,6})$")
_CONCEPT_PID = re.compile(r"^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$")
_DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


def new_concept_pid() -> str:
    """8 Crockford base32 characters (40 bits), e.g. '3k7q-m2x9': short, unambiguous to read aloud."""
    chars = "".join(secrets.choice(_CROCKFORD) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def version_pid(concept_pid: str, number: int) -> str:
    return f"{concept_pid}.v{number}"


def parse_pid(pid: str) -> tuple[str, int | None] | None:
    """('concept', None) for a concept PID, ('concept', n) for a version PID, None otherwise."""
    text = pid.strip().lower()
    m = _VERSION_PID.match(text)
    if m:
        return m.group(1), int(m.group(2))
    if _CONCEPT_PID.match(text):
        return text, None
    return None


SCHEMES = {"hub", "doi", "handle", "url", "ark", "lab", "facility-doi", "igsn", "other"}


def normalise_identifier(scheme: str, value: str) -> tuple[str, str, str]:
    """Return (scheme, display value, comparison key); raises ValueError with a reason."""
    scheme = scheme.strip().lower()
    value = value.strip()
    if not value:
        raise ValueError("an identifier needs a value")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown identifier scheme {scheme!r}; use one of {', '.join(sorted(SCHEMES))}")
    if scheme in {"doi", "facility-doi"}:
        m = _DOI.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a DOI (expected 10.NNNN/suffix)")
        doi = m.group(1)
        return scheme, doi, doi.lower()
    if scheme == "url" and not re.match(r"^https?://\S+$", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return scheme, value, value.lower()


def guess_scheme(value: str) -> list[tuple[str, str]]:
    """Candidate (scheme, key) pairs for a bare identifier typed by a user."""
    text = value.strip()
    out: list[tuple[str, str]] = []
    m = _DOI.match(text)
    if m:
        out += [("doi", m.group(1).lower()), ("facility-doi", m.group(1).lower())]
    out.append(("*", text.lower()))
    return out
