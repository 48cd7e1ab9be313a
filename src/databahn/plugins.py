"""Plugins: how capabilities beyond the core plug into the hub, the API, the web pages and the CLI.

Like Datasette's default plugins, the hub's own capabilities (access, ontology, DMP, provenance,
interoperability, ...) are built through the same few hooks a third-party plugin would use. A
plugin is a module that may define any of:

    setup(hub)                 attach services (`hub.ext["name"] = ...`) and register `hub.hooks`
    routers() -> [APIRouter]   HTTP routes: JSON API under /api/..., pages, protocol endpoints
    configure_app(app, hub)    anything else on the ASGI app (middleware, e.g. Link headers)
    register_commands(app)     Typer commands on the `databahn` CLI

Internal plugins are listed in DEFAULT_PLUGINS (a module that does not exist yet is skipped, so a
capability can be removed by deleting its package); third-party ones register in the
`databahn.plugins` entry-point group.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from databahn.db.models import Version
    from databahn.errors import FieldError

log = logging.getLogger("databahn.plugins")

DEFAULT_PLUGINS: tuple[str, ...] = (
    "databahn.extractors.plugin",  # automatic metadata and open formats after upload
    "databahn.access.plugin",  # accounts, groups, openness, embargo, access requests, audit
    "databahn.ontology.plugin",  # BattINFO terms: deposit rules, semantic search, browser
    "databahn.dmp.plugin",  # the DMP as a living tool
    "databahn.provenance.plugin",  # activities, samples, lineage, PROV exports
    "databahn.interop.plugin",  # OAI-PMH, OPTIMADE, signposting, publishing to repositories
)


@dataclass
class Hooks:
    """Extension points the core calls. Each is a list; plugins append callables.

    - prepare_metadata(metadata) -> metadata: normalise what a depositor sent before validation
      (e.g. ontology labels → IRIs); raise databahn.errors.InvalidInput to refuse.
    - create_options(s, version, options) -> set[str]: apply deposit options (e.g. share_with,
      embargo_until, delivers, derived_from) inside the create/new-version transaction; return
      the option names handled. Options nobody handles are refused with a clear message.
    - publish_checks(s, version) -> list[FieldError]: reasons a draft may not be published yet.
    - after_publish(s, version): inside the publish transaction (e.g. record flows, provenance).
    - after_file_added(version_pid, key): after the file's transaction committed (extraction).
    - index_facets(version) -> list[(key, value)]: extra facet values for the search index.
    - search_clauses(params) -> list[clause]: extra SQL clauses over SearchDoc for a search,
      from plugin-specific parameters (e.g. {"term": [...]} for ontology expansion).
    - record_extras(s, version, principal) -> dict: extra read-only fields for the API record.
    """

    prepare_metadata: list[Callable[[dict[str, Any]], dict[str, Any]]] = field(default_factory=list)
    create_options: list[Callable[[Session, Version, dict[str, Any]], set[str]]] = field(default_factory=list)
    publish_checks: list[Callable[[Session, Version], list[FieldError]]] = field(default_factory=list)
    after_publish: list[Callable[[Session, Version], None]] = field(default_factory=list)
    after_file_added: list[Callable[[str, str], None]] = field(default_factory=list)
    index_facets: list[Callable[[Version], list[tuple[str, str]]]] = field(default_factory=list)
    search_clauses: list[Callable[[dict[str, Any]], list[Any]]] = field(default_factory=list)
    record_extras: list[Callable[[Session, Version, Any], dict[str, Any]]] = field(default_factory=list)


def _import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # only "this plugin is not installed" is silent; a plugin's own broken import is not
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise


def load_plugins() -> list[ModuleType]:
    modules = [m for m in (_import(name) for name in DEFAULT_PLUGINS) if m is not None]
    for ep in importlib.metadata.entry_points(group="databahn.plugins"):
        try:
            modules.append(ep.load())
        except Exception:  # a broken third-party plugin must not take the hub down
            log.exception("could not load plugin %s", ep.name)
    return modules


def plugin_routers() -> list[Any]:
    routers: list[Any] = []
    for module in load_plugins():
        fn = getattr(module, "routers", None)
        if fn is not None:
            routers.extend(fn())
    return routers


def configure_plugin_apps(app: Any, hub: Any) -> None:
    for module in load_plugins():
        fn = getattr(module, "configure_app", None)
        if fn is not None:
            fn(app, hub)


def register_plugin_commands(app: Any) -> None:
    for module in load_plugins():
        fn = getattr(module, "register_commands", None)
        if fn is not None:
            fn(app)
