"""The interoperability plugin: OAI-PMH, OPTIMADE, FAIR signposting and content negotiation, plus
publishing to trusted repositories and the FAIR gate (their modules plug in through this one).

One plugin module serves the whole `interop` package, so the hub loads it once; the publishing
and FAIR-gate modules are optional (a hub without them still harvests and signposts).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

if TYPE_CHECKING:
    from fastapi import FastAPI
    from typer import Typer

    from databahn.services.hub import Hub


def _optional(name: str) -> ModuleType | None:
    """A sibling module that may not exist yet (publishing, FAIR gate); its own broken imports still fail."""
    full = f"databahn.interop.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name in (full, "databahn.interop"):
            return None
        raise


def _siblings() -> list[ModuleType]:
    return [m for m in (_optional("publishing"), _optional("fair_gate")) if m is not None]


def setup(hub: Hub) -> None:
    from databahn.interop.oai import OaiService, record_exposure
    from databahn.interop.optimade import OptimadeService

    hub.ext["oai"] = OaiService(hub)
    hub.ext["optimade"] = OptimadeService(hub)
    hub.hooks.after_publish.append(record_exposure)
    for module in _siblings():
        fn = getattr(module, "setup", None)
        if fn is not None:
            fn(hub)


def routers() -> list[APIRouter]:
    from databahn.interop.oai import router as oai_router
    from databahn.interop.optimade import router as optimade_router
    from databahn.interop.signposting import router as signposting_router
    from databahn.interop.signposting import setup_web

    setup_web()  # the landing page's JSON-LD panel (only web apps need it, not the CLI)
    out: list[APIRouter] = [oai_router, optimade_router, signposting_router]
    for module in _siblings():
        fn = getattr(module, "routers", None)
        if fn is not None:
            out.extend(fn())
    return out


def configure_app(app: FastAPI, hub: Hub) -> None:
    from databahn.interop.signposting import SignpostingMiddleware

    app.add_middleware(SignpostingMiddleware)
    for module in _siblings():
        fn = getattr(module, "configure_app", None)
        if fn is not None:
            fn(app, hub)


def register_commands(app: Typer) -> None:
    for module in _siblings():
        fn: Any = getattr(module, "register_commands", None)
        if fn is not None:
            fn(app)
