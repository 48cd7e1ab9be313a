"""The FAIR gate and the FAIR report: a configurable minimum before publication, and advice in the UI.

The assessment itself lives in `databahn.fair` (F-UJI-style metrics computed from the record). This
module connects it to the hub: a `publish_checks` hook refuses to publish a draft whose score is
below `DATABAHN_FAIR_MINIMUM` (percent; 0 = off) or that fails a metric listed in
`DATABAHN_FAIR_REQUIRED` (comma-separated ids such as FsF-R1.1-01M), with field errors that name the
metric and say what to fix; `GET /api/datasets/{pid}/fair` and the page `/datasets/{pid}/fair` show
the score, each metric's reason and the advice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from databahn.api.deps import get_hub, get_principal
from databahn.db.models import Version
from databahn.domain.records import VersionRecord
from databahn.errors import DatabahnError, FieldError
from databahn.fair import FairConfig, FairReport, assess, gate, publication_problems
from databahn.fair.assess import METRICS
from databahn.services.hub import Hub
from databahn.services.policy import SYSTEM, Principal

MINIMUM_ENV = "DATABAHN_FAIR_MINIMUM"
REQUIRED_ENV = "DATABAHN_FAIR_REQUIRED"
TEMPLATES = Path(__file__).resolve().parent / "templates"


class FairGateConfigError(DatabahnError):
    title = "FAIR gate configuration error"


def config_from_env(environ: dict[str, str] | None = None) -> FairConfig:
    """The gate's policy from the environment; a wrong value stops the hub with a message naming it."""
    env = os.environ if environ is None else environ
    raw_min = env.get(MINIMUM_ENV, "").strip() or "0"
    try:
        minimum = float(raw_min)
    except ValueError:
        raise FairGateConfigError(
            f"{MINIMUM_ENV}={raw_min!r} is not a number; use a score from 0 to 100"
        ) from None
    if not 0 <= minimum <= 100:
        raise FairGateConfigError(f"{MINIMUM_ENV}={raw_min} must be between 0 (gate off) and 100")
    required = frozenset(x.strip() for x in env.get(REQUIRED_ENV, "").split(",") if x.strip())
    known = {m[0] for m in METRICS}
    unknown = sorted(required - known)
    if unknown:
        raise FairGateConfigError(
            f"{REQUIRED_ENV} names unknown FAIR metric(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return FairConfig(minimum_score=minimum, required=required)


def gate_active(config: FairConfig) -> bool:
    return config.minimum_score > 0 or bool(config.required)


class FairGate:
    """Holds the gate's config and answers the publish check and the report."""

    def __init__(self, hub: Hub, config: FairConfig) -> None:
        self.hub = hub
        self.config = config

    def publish_check(self, s: Session, version: Version) -> list[FieldError]:
        if not gate_active(self.config):
            return []
        # judged with everything the owner will publish (files included), not as a stranger sees it
        record = self.hub.datasets.to_record(s, version, SYSTEM)
        # fields are the metadata fields to fix (so forms show the error there); messages name the metric
        return [FieldError(field, message) for field, message in publication_problems(record, self.config)]

    def report(self, principal: Principal, pid: str) -> tuple[VersionRecord, FairReport]:
        record = self.hub.datasets.get(principal, pid)
        return record, assess(record, config=self.config)

    def report_dict(self, principal: Principal, pid: str) -> dict[str, Any]:
        _record, report = self.report(principal, pid)
        return self.as_dict(report)

    def as_dict(self, report: FairReport) -> dict[str, Any]:
        decision = gate(report, config=self.config)
        active = gate_active(self.config)
        return report.to_dict() | {
            "advice": [
                {"id": m.id, "name": m.name, "advice": m.advice, "field": m.field} for m in report.advice()
            ],
            "gate": {
                "active": active,
                "minimum": self.config.minimum_score,
                "required": sorted(self.config.required),
                "allowed": decision.allowed if active else True,
                "message": decision.message if active else "the hub has no FAIR minimum for publication",
            },
        }


def setup(hub: Hub) -> None:
    if "fair_gate" in hub.ext:
        return
    fair_gate = FairGate(hub, config_from_env())
    hub.ext["fair_gate"] = fair_gate
    hub.hooks.publish_checks.append(fair_gate.publish_check)
    from databahn.web.render import DATASET_SIDE_PANELS, add_template_dir

    add_template_dir(TEMPLATES)
    if side_panel not in DATASET_SIDE_PANELS:
        DATASET_SIDE_PANELS.append(side_panel)


def _gate(hub: Hub) -> FairGate:
    if "fair_gate" not in hub.ext:
        setup(hub)
    fg = hub.ext["fair_gate"]
    assert isinstance(fg, FairGate)
    return fg


def side_panel(request: Request, record: VersionRecord) -> Markup | None:
    """A small card on the dataset page: the score and the top advice, linking to the full report."""
    from databahn.web.render import templates

    hub: Hub = request.app.state.hub
    fg = hub.ext.get("fair_gate")
    config = fg.config if isinstance(fg, FairGate) else FairConfig(minimum_score=0)
    report = assess(record, config=config)
    html = templates.env.get_template("fair_panel.html").render(
        r=record, report=report, todo=report.advice()[:3]
    )
    return Markup(html)  # rendered by the autoescaping environment


HubDep = Annotated[Hub, Depends(get_hub)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def routers() -> list[APIRouter]:
    from databahn.web.render import HtmlRoute, render

    api = APIRouter(prefix="/api", tags=["fair"])

    @api.get("/datasets/{pid}/fair")
    def fair_report(pid: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
        """FAIR self-assessment of a version (F-UJI-style): score, per-metric reasons, advice and the gate."""
        return _gate(hub).report_dict(principal, pid)

    pages = APIRouter(route_class=HtmlRoute, include_in_schema=False)

    @pages.get("/datasets/{pid}/fair")
    def fair_page(request: Request, pid: str) -> Response:
        hub: Hub = request.app.state.hub
        principal = get_principal(request)
        fg = _gate(hub)
        record, report = fg.report(principal, pid)
        data = fg.as_dict(report)
        return render(
            request,
            "fair_report.html",
            {"r": record, "report": report, "by_principle": data["by_principle"], "gate": data["gate"]},
        )

    return [api, pages]
