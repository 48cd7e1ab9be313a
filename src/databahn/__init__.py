"""Databahn: the data highway for research consortia."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Client", "ClientError", "__version__"]


def __getattr__(name: str) -> Any:
    # imported lazily so that `import databahn` stays cheap for the server and the plugins
    if name in ("Client", "ClientError"):
        from databahn import client

        return getattr(client, name)
    raise AttributeError(f"module 'databahn' has no attribute {name!r}")
