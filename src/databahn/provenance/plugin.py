"""The provenance plugin: activities, samples, lineage, model cards, AiiDA import, PROV exports.

Wires `ProvenanceService` into the hub (`hub.ext["provenance"]`), the deposit options
(--derived-from, --activity, --software, --instrument), a provenance summary on every record,
the JSON API, the dataset-page graph, the sample pages and the CLI commands.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from databahn.db.models import Version
from databahn.services.hub import Hub
from databahn.services.policy import Principal


def setup(hub: Hub) -> None:
    from databahn.provenance.store import ProvenanceService

    svc = ProvenanceService(hub)
    hub.ext["provenance"] = svc
    hub.hooks.create_options.append(svc.apply_options)

    def extras(s: Session, version: Version, principal: Principal) -> dict[str, Any]:
        summary = svc.graph_for_record(s, version, principal)
        return {"provenance": summary} if summary else {}

    hub.hooks.record_extras.append(extras)
    _register_web()


_WEB_DONE = False


def _register_web() -> None:
    """Template folder and dataset-page panel, once per process (the lists are module-global)."""
    global _WEB_DONE
    if _WEB_DONE:
        return
    from databahn.provenance.web import TEMPLATES, dataset_panel
    from databahn.web.render import DATASET_PANELS, NAV_ITEMS, NavItem, add_template_dir

    add_template_dir(TEMPLATES)
    if dataset_panel not in DATASET_PANELS:
        DATASET_PANELS.append(dataset_panel)
    if not any(item.href == "/samples" for item in NAV_ITEMS):
        NAV_ITEMS.insert(max(0, len(NAV_ITEMS) - 2), NavItem("Samples", "/samples"))
    _WEB_DONE = True


def routers() -> list[Any]:
    from databahn.provenance.api import router as api_router
    from databahn.provenance.web import router as web_router

    return [api_router, web_router]


def register_commands(app: Any) -> None:
    from databahn.provenance.cli import register

    register(app)
