"""Web pages of the DMP: the dashboard with the clickable highway, flows, WPs, documents, compliance.

Every page is rendered for the signed-in viewer (or anonymous), so counts, datasets and diagrams show
only what that viewer may see; the service applies the access policy inside its queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from databahn.dmp.service import DmpService
from databahn.errors import InvalidInput
from databahn.web.render import HtmlRoute, check_csrf_form, get_hub, principal_of, render

TEMPLATES = Path(__file__).resolve().parent / "web_templates"
FLOW_LINK = "/dmp/flows/{source}/{target}"
router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _dmp(request: Request) -> DmpService:
    service: DmpService = get_hub(request).ext["dmp"]
    return service


@router.get("/dmp")
def dashboard(request: Request) -> Response:
    dmp, principal = _dmp(request), principal_of(request)
    number, plan = dmp.current()
    _p, live, report = dmp.tracking(principal)
    from databahn.dmp.highway import render_highway_svg

    traffic = {t.wp: t for t in report.per_wp}
    delivered: dict[tuple[str, str], list[Any]] = {}
    for st in report.flows:
        if st.datasets:
            delivered.setdefault(st.flow.pair, []).append(st)
    status_by_wp: dict[str, dict[str, int]] = {}
    for st in report.flows:
        for key in (st.flow.source, st.flow.target):
            counts = status_by_wp.setdefault(key, {})
            counts[st.status] = counts.get(st.status, 0) + 1
    return render(
        request,
        "dmp_dashboard.html",
        {
            "plan": plan,
            "plan_number": number,
            "report": report,
            "counts": report.counts(),
            "datasets": len(live.datasets),
            "traffic": traffic,
            "status_by_wp": status_by_wp,
            "highway": Markup(render_highway_svg(plan, report, link=FLOW_LINK)),
            "undelivered_pairs": report.undelivered_pairs,
            "delivered": delivered,
            "manager": dmp.is_manager(principal),
        },
    )


@router.post("/dmp/plans")
async def load_plan(request: Request) -> Response:
    """A manager uploads a plan file; a refused file shows each problem with its line."""
    form = await request.form()
    check_csrf_form(request, form)
    upload = form.get("plan")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise InvalidInput("choose a plan file (YAML, JSON or maDMP JSON) to load")
    data = await upload.read()
    from fastapi.concurrency import run_in_threadpool

    dmp, principal = _dmp(request), principal_of(request)
    try:
        info = await run_in_threadpool(dmp.load, principal, data, upload.filename)
    except InvalidInput as exc:
        return render(
            request,
            "dmp_refused.html",
            {
                "source": upload.filename,
                "problems": [(e.field, e.message) for e in exc.errors],
                "detail": exc.detail,
            },
            status=422,
        )
    request.session["flash"] = (
        f"Loaded {info.acronym} as plan version {info.number}: {info.work_packages} work packages, "
        f"{info.flows} planned flows."
    )
    return RedirectResponse("/dmp", status_code=303)


@router.get("/dmp/flows/{source}/{target}")
def flow_page(request: Request, source: str, target: str) -> Response:
    view = _dmp(request).flow(principal_of(request), source, target)
    return render(request, "dmp_flow.html", {"view": view})


@router.get("/dmp/wp/{wp}")
def wp_page(request: Request, wp: str) -> Response:
    dmp, principal = _dmp(request), principal_of(request)
    _n, plan = dmp.current()
    svg = dmp.wp_svg(principal, wp, link=FLOW_LINK)  # NotFound names the known WPs
    work = plan.wp(wp)
    _p, _live, report = dmp.tracking(principal)
    flows_in = [st for st in report.flows if st.flow.target == work.key]
    flows_out = [st for st in report.flows if st.flow.source == work.key]
    return render(
        request,
        "dmp_wp.html",
        {"wp": work, "plan": plan, "svg": Markup(svg), "flows_in": flows_in, "flows_out": flows_out},
    )


@router.get("/dmp/compliance")
def compliance_page(request: Request) -> Response:
    from databahn.dmp.tracking import REQUIREMENT_TEXT

    rows = _dmp(request).compliance(principal_of(request))
    return render(request, "dmp_compliance.html", {"rows": rows, "requirement_text": REQUIREMENT_TEXT})


@router.get("/dmp/documents")
def documents_page(request: Request) -> Response:
    dmp, principal = _dmp(request), principal_of(request)
    return render(
        request,
        "dmp_documents.html",
        {"documents": dmp.documents(principal), "manager": dmp.is_manager(principal)},
    )


@router.post("/dmp/documents")
async def generate_document(request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    from fastapi.concurrency import run_in_threadpool

    dmp, principal = _dmp(request), principal_of(request)
    info = await run_in_threadpool(dmp.generate_document, principal, public=form.get("public") == "1")
    request.session["flash"] = f"DMP document version {info.number} generated and kept."
    return RedirectResponse(f"/dmp/documents/{info.number}", status_code=303)


@router.get("/dmp/documents/diff")
def diff_page(request: Request, a: str = "", b: str = "") -> Response:
    try:
        na, nb = int(a), int(b)
    except ValueError:
        raise InvalidInput("choose two document versions to compare (numbers, e.g. a=1&b=2)") from None
    return HTMLResponse(_dmp(request).diff(principal_of(request), na, nb))


@router.get("/dmp/documents/{number}")
def document_page(request: Request, number: int) -> Response:
    return HTMLResponse(_dmp(request).document_html(principal_of(request), number))


def dataset_panel(request: Request, record: Any) -> Markup | None:
    """Side panel on a dataset page: the DMP flows it delivers (or the hub's suggestions)."""
    info = (getattr(record, "extras", None) or {}).get("dmp")
    if not info:
        return None
    items: list[Markup] = []
    for d in info.get("delivers", []):
        note = Markup("") if d.get("planned") else Markup(' <span class="badge">not in the plan</span>')
        items.append(
            Markup('<li><a href="/dmp/flows/{s}/{t}">{s} → {t}</a>{note}</li>').format(
                s=d["source"], t=d["target"], note=note
            )
        )
    heading = "Delivers (DMP)"
    if not items:
        heading = "Likely DMP flows"
        for f in info.get("suggested_flows", []):
            items.append(
                Markup(
                    '<li><a href="/dmp/flows/{s}/{t}">{s} → {t}</a> <span class="muted">{w}</span></li>'
                ).format(s=f["source"], t=f["target"], w=(f.get("what") or "")[:80])
            )
    if not items:
        return None
    hint = (
        Markup("")
        if info.get("delivers")
        else Markup(
            '<p class="hint">Declare one with <code>databahn deposit … --delivers WP2:WP5</code>.</p>'
        )
    )
    return Markup(
        '<section class="card" aria-label="{h}"><h2>{h}</h2><ul>{items}</ul>{hint}</section>'
    ).format(h=heading, items=Markup("").join(items), hint=hint)
