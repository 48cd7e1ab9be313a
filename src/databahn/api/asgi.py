"""ASGI entry point for `databahn serve` (and any ASGI server): builds the hub from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from databahn.api.app import create_app
from databahn.services.hub import Hub


def app_factory() -> FastAPI:
    return create_app(Hub())
