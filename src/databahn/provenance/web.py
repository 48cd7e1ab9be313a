"""Web side of provenance: the lineage graph on the dataset page and a page per sample or activity."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from markupsafe import Markup, escape

from databahn.errors import DatabahnError
from databahn.provenance.model import NodeKind, ProvenanceError
from databahn.services.hub import Hub
from databahn.services.policy import Principal
from databahn.web.render import HtmlRoute, get_hub, principal_of, render

log = logging.getLogger("databahn.provenance")
TEMPLATES = Path(__file__).resolve().parent / "templates"
router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _href(kinds: dict[str, NodeKind]) -> Any:
    def href(node_id: str) -> str | None:
        kind = kinds.get(node_id)
        if kind in (NodeKind.DATASET, NodeKind.MODEL) and "." in node_id:
            return f"/datasets/{quote(node_id, safe='.-')}"
        if kind in (NodeKind.SAMPLE, NodeKind.ACTIVITY) and node_id.startswith(("smp-", "act-")):
            return f"/samples/{quote(node_id, safe='-')}"
        return None

    return href


def graph_svg(hub: Hub, principal: Principal, pid: str, depth: int | None = 4) -> str:
    """The redacted neighbourhood of a version as SVG; shrinks the depth until it fits the drawing."""
    from databahn.provenance.render import MAX_NODES, render_svg

    svc = hub.ext["provenance"]
    tries = [depth, *(d for d in (3, 2, 1, 0) if depth is None or d < depth)]
    for d in tries:
        graph, root, _dist = svc.neighbourhood(principal, pid, "both", d)
        if len(graph) <= MAX_NODES:
            break
    kinds = {n.id: n.kind for n in graph}
    try:
        return str(render_svg(graph, highlight=root, href=_href(kinds), title=f"Provenance of {root}"))
    except ProvenanceError as exc:  # still too large even at depth 0
        raise DatabahnError(str(exc)) from None


def dataset_panel(request: Request, record: Any) -> Markup | None:
    """DATASET_PANELS entry: the graph, when this version has any recorded provenance."""
    hub = get_hub(request)
    principal = principal_of(request)
    summary = (record.extras or {}).get("provenance")
    if not summary:
        return None
    try:
        svg = graph_svg(hub, principal, record.pid, 4)
    except DatabahnError as exc:
        return Markup('<section class="panel"><h2>Provenance</h2><p>{}</p></section>').format(exc.detail)
    links = Markup(
        ' <a href="/api/datasets/{0}/lineage">lineage JSON</a> · '
        '<a href="/api/datasets/{0}/provenance?format=prov-o">PROV-O</a> · '
        '<a href="/api/datasets/{0}/provenance?format=prov-json">PROV-JSON</a>'
    ).format(record.pid)
    return Markup(
        '<section class="panel provenance"><h2>Provenance</h2>'
        '<div class="provenance-graph" style="overflow:auto">{}</div><p class="muted">{}</p></section>'
    ).format(Markup(svg), links)


@router.get("/samples")
def samples_page(request: Request) -> Response:
    svc = get_hub(request).ext["provenance"]
    principal = principal_of(request)
    return render(
        request,
        "prov_samples.html",
        {
            "samples": svc.list_nodes(principal, "sample"),
            "activities": svc.list_nodes(principal, "activity", 30),
        },
    )


@router.get("/samples/{key}")
def sample_page(key: str, request: Request) -> Response:
    hub = get_hub(request)
    node = hub.ext["provenance"].get_node(principal_of(request), key)

    def link(item: dict[str, Any]) -> Markup:
        kind = item.get("kind")
        target = None
        if kind in ("dataset", "model") and "." in item["id"]:
            target = f"/datasets/{quote(item['id'], safe='.-')}"
        elif item["id"].startswith(("smp-", "act-")):
            target = f"/samples/{quote(item['id'], safe='-')}"
        label = escape(item.get("label") or item["id"])
        return Markup('<a href="{}">{}</a>').format(target, label) if target else Markup(label)

    return render(request, "prov_node.html", {"node": node, "link": link})
