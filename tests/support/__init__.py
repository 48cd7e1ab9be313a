"""Test infrastructure: throwaway SeaweedFS (S3) and PostgreSQL databases for scale-out tests."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def require_scaleout(reason: str) -> NoReturn:
    """Skip (or, under DATABAHN_REQUIRE_SCALEOUT=1, fail) a test whose service is unavailable."""
    if os.environ.get("DATABAHN_REQUIRE_SCALEOUT") == "1":
        pytest.fail(f"{reason}; DATABAHN_REQUIRE_SCALEOUT=1 demands the scale-out services", pytrace=False)
    pytest.skip(reason)
