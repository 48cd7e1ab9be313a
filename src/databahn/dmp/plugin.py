"""The DMP plugin: the plan as a living tool inside the hub (issue 6).

`setup(hub)` puts a `DmpService` in `hub.ext["dmp"]` and registers the hooks: the `delivers`
deposit option (validated against the current plan; unplanned pairs are recorded as unplanned), a
publish check that the declared flows still leave the dataset's work package, and the record
extras (declared and suggested flows). `routers()` adds the JSON API under /api/dmp and the /dmp
pages. The `databahn dmp ...` commands live in `databahn.dmp.cli` (mounted by the main CLI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from databahn.dmp.service import DmpService

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from databahn.db.models import Version
    from databahn.errors import FieldError
    from databahn.services.hub import Hub


def setup(hub: Hub) -> None:
    import databahn.dmp.store  # noqa: F401  (registers the tables on the shared metadata)

    service = DmpService(hub)
    hub.ext["dmp"] = service

    def create_options(s: Session, version: Version, options: dict[str, Any]) -> set[str]:
        if options.get("delivers") in (None, [], ""):
            return {"delivers"} if "delivers" in options else set()
        service.declare(s, version, options["delivers"])
        return {"delivers"}

    def publish_checks(s: Session, version: Version) -> list[FieldError]:
        return service.publish_problems(s, version)

    hub.hooks.create_options.append(create_options)
    hub.hooks.publish_checks.append(publish_checks)
    hub.hooks.record_extras.append(service.record_extras)


def routers() -> list[Any]:
    from databahn.dmp.api import router as api_router
    from databahn.dmp.web import TEMPLATES, dataset_panel
    from databahn.dmp.web import router as web_router
    from databahn.web.render import DATASET_SIDE_PANELS, NAV_ITEMS, NavItem, add_template_dir

    add_template_dir(TEMPLATES)
    if dataset_panel not in DATASET_SIDE_PANELS:
        DATASET_SIDE_PANELS.append(dataset_panel)
    if not any(item.href == "/dmp" for item in NAV_ITEMS):
        # before "Admin" so the consortium's pages stay together
        admin = next((i for i, item in enumerate(NAV_ITEMS) if item.href == "/admin"), len(NAV_ITEMS))
        NAV_ITEMS.insert(admin, NavItem("DMP", "/dmp"))
    return [api_router, web_router]
