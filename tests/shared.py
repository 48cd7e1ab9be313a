"""Access to ../shared (real data, ontology, schemas) for tests.

The material is read from where it lies, never copied into the project. On a user's machine
it may be absent: tests that need it skip with a clear reason. CI sets
DATABAHN_REQUIRE_SHARED=1, which turns those skips into failures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("DATABAHN_SHARED", REPO.parent / "shared")).resolve()


def require_shared(*parts: str) -> Path:
    """Return ../shared/<parts>, or skip (fail under DATABAHN_REQUIRE_SHARED=1) if absent."""
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        reason = f"needs {path} (the shared real-data/ontology/schema folder beside the repo)"
        if os.environ.get("DATABAHN_REQUIRE_SHARED") == "1":
            pytest.fail(reason + "; DATABAHN_REQUIRE_SHARED=1 demands it", pytrace=False)
        pytest.skip(reason)
    return path
