"""JSON API of the DMP plugin under /api/dmp: plan and tracking, plan versions, diagrams, flows,
documents, maDMP and compliance. Thin: each route is one DmpService call as the requesting principal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from databahn.api.deps import get_hub, get_principal
from databahn.dmp.model import SizeClass
from databahn.dmp.service import DmpService
from databahn.errors import InvalidInput, PayloadTooLarge
from databahn.services.hub import Hub
from databahn.services.policy import Principal

router = APIRouter(prefix="/api/dmp", tags=["dmp"])
PrincipalDep = Annotated[Principal, Depends(get_principal)]
MAX_PLAN_BYTES = 5 * 1024 * 1024
SVG = "image/svg+xml"


def get_dmp(hub: Annotated[Hub, Depends(get_hub)]) -> DmpService:
    service: DmpService = hub.ext["dmp"]
    return service


DmpDep = Annotated[DmpService, Depends(get_dmp)]


def _asdict(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(obj)


@router.get("")
def plan_and_tracking(dmp: DmpDep, principal: PrincipalDep) -> dict[str, Any]:
    """The current plan with its flows, and the tracking status of every flow as you may see it."""
    number, plan = dmp.current()
    _plan, live, report = dmp.tracking(principal)
    data = plan.model_dump(mode="json", exclude_none=True)
    data["flows"] = [f.model_dump(mode="json", exclude_none=True) for f in plan.flows]
    return {
        "plan_version": number,
        "plan": data,
        "tracking": report.model_dump(mode="json"),
        "counts": report.counts(),
        "datasets": len(live.datasets),
    }


@router.get("/plans")
def plan_versions(dmp: DmpDep) -> list[dict[str, Any]]:
    return [_asdict(v) for v in dmp.plan_versions()]


@router.post("/plans", status_code=201)
async def load_plan(
    request: Request,
    dmp: DmpDep,
    principal: PrincipalDep,
    source: Annotated[str, Query(description="name of the plan file, for messages and the history")] = "plan",
) -> dict[str, Any]:
    """Load a plan (databahn YAML/JSON or maDMP JSON, as the request body); admins and data managers."""
    body = await request.body()
    if len(body) > MAX_PLAN_BYTES:
        raise PayloadTooLarge(f"a plan file may be at most {MAX_PLAN_BYTES // 1024 // 1024} MB")
    if not body.strip():
        raise InvalidInput("send the plan file as the request body (YAML, JSON or maDMP JSON)")
    from fastapi.concurrency import run_in_threadpool

    info = await run_in_threadpool(dmp.load, principal, body, source)
    return _asdict(info)


@router.get("/highway.svg", response_class=Response)
def highway(
    dmp: DmpDep,
    principal: PrincipalDep,
    link: Annotated[
        str | None, Query(description="arrow link template, e.g. /dmp/flows/{source}/{target}")
    ] = None,
    min_size: Annotated[str | None, Query(description="only planned flows of at least KB/MB/GB/TB")] = None,
) -> Response:
    if min_size:
        try:
            floor = SizeClass.parse(min_size)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        plan, _live, report = dmp.tracking(principal)
        from databahn.dmp.highway import render_highway_svg

        return Response(render_highway_svg(plan, report, link=link, min_size=floor), media_type=SVG)
    return Response(dmp.highway_svg(principal, link=link), media_type=SVG)


@router.get("/wp/{wp}.svg", response_class=Response)
def wp_diagram(wp: str, dmp: DmpDep, principal: PrincipalDep, link: str | None = None) -> Response:
    return Response(dmp.wp_svg(principal, wp, link=link), media_type=SVG)


@router.get("/flows/{source}/{target}")
def flow(source: str, target: str, dmp: DmpDep, principal: PrincipalDep) -> dict[str, Any]:
    """A WP pair: its planned flows with their status, and the datasets that delivered it (visible ones)."""
    view = dmp.flow(principal, source, target)
    return {
        "source": view.source,
        "target": view.target,
        "planned": bool(view.planned),
        "flows": [st.model_dump(mode="json") for st in view.planned],
        "datasets": [r.model_dump(mode="json") for r in view.datasets],
    }


@router.get("/documents")
def documents(dmp: DmpDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [_asdict(d) for d in dmp.documents(principal)]


@router.post("/documents", status_code=201)
def generate_document(
    dmp: DmpDep,
    principal: PrincipalDep,
    public: Annotated[bool, Query(description="render only what anyone may see; readable by all")] = False,
) -> dict[str, Any]:
    return _asdict(dmp.generate_document(principal, public=public))


@router.get("/documents/diff", response_class=HTMLResponse)
def diff(a: int, b: int, dmp: DmpDep, principal: PrincipalDep) -> HTMLResponse:
    return HTMLResponse(dmp.diff(principal, a, b))


@router.get("/documents/{number}.pdf", response_class=Response)
def document_pdf(number: int, dmp: DmpDep, principal: PrincipalDep) -> Response:
    pdf = dmp.document_pdf(principal, number)
    headers = {"Content-Disposition": f'inline; filename="dmp-v{number}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/documents/{number}", response_class=HTMLResponse)
def document_html(number: int, dmp: DmpDep, principal: PrincipalDep) -> HTMLResponse:
    return HTMLResponse(dmp.document_html(principal, number))


@router.get("/madmp")
def madmp(
    dmp: DmpDep, principal: PrincipalDep, contact_email: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    """The plan and the live datasets you may see, as RDA maDMP 1.2 (validated)."""
    return dmp.madmp(principal, contact_email=contact_email)


@router.get("/compliance")
def compliance(dmp: DmpDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Per WP: the datasets you may see that miss what the plan requires."""
    from databahn.dmp.tracking import REQUIREMENT_TEXT

    out = []
    for c in dmp.compliance(principal):
        data = c.model_dump(mode="json")
        for f in data["findings"]:
            f["messages"] = [REQUIREMENT_TEXT[m] for m in f["missing"]]
        out.append(data)
    return out
