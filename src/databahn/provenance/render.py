"""A small self-contained SVG drawing of a provenance graph for the dataset page.

Layout is layered top-down: origins at the top, each node one layer below the latest thing it depends
on (longest-path layering over the links, with links that would loop left out of the layering only),
agents just above the first activity they take part in, and a few barycentre sweeps to reduce
crossings. Shapes follow the W3C PROV diagram conventions: entities are yellow ellipses, activities blue
rectangles, agents orange "houses"; arrows point the PROV way (from the later node to what it used,
came from or was associated with), labelled with the PROV relation and the role. No JavaScript and no
external resources, so the SVG can be inlined into a page or served with a strict CSP.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from databahn.provenance.graph import ProvGraph
from databahn.provenance.model import (
    ActivityNode,
    AgentNode,
    LinkType,
    ModelNode,
    NodeKind,
    ProvenanceError,
    ProvNode,
    RestrictedNode,
    SampleNode,
)

MAX_NODES = 400
NODE_H = 44
LAYER_GAP = 120
NODE_GAP = 36
MARGIN = 30
CHAR_W = 6.6
MAX_LABEL = 30
LABEL_CHAR_W = 5.7
# Where along an edge (0 = the later node, 1 = the earlier one) a label may sit, best first.
_LABEL_SPOTS = (0.5, 0.35, 0.65, 0.25, 0.75, 0.15, 0.85)
_ROUTE_OFFSETS = (0.0, 90.0, -90.0, 180.0, -180.0, 270.0, -270.0, 360.0, -360.0)

_RELATION = {
    LinkType.INPUT_CALC: "used",
    LinkType.INPUT_WORK: "used",
    LinkType.CREATE: "wasGeneratedBy",
    LinkType.RETURN: "wasInfluencedBy",
    LinkType.CALL_CALC: "wasInformedBy",
    LinkType.CALL_WORK: "wasInformedBy",
    LinkType.DERIVED_FROM: "wasDerivedFrom",
    LinkType.REVISION_OF: "wasRevisionOf",
    LinkType.ASSOCIATED_WITH: "wasAssociatedWith",
    LinkType.ATTRIBUTED_TO: "wasAttributedTo",
    LinkType.DELEGATED: "actedOnBehalfOf",
}

# Order in which links shape the layering; a later link that would close a loop is ignored for layout.
_LAYOUT_PRIORITY = [
    LinkType.CREATE,
    LinkType.INPUT_CALC,
    LinkType.DERIVED_FROM,
    LinkType.REVISION_OF,
    LinkType.CALL_CALC,
    LinkType.CALL_WORK,
    LinkType.INPUT_WORK,
    LinkType.ASSOCIATED_WITH,
    LinkType.ATTRIBUTED_TO,
    LinkType.DELEGATED,
    LinkType.RETURN,
]

_STYLE = {
    NodeKind.DATASET: ("#FFFC87", "#808080"),
    NodeKind.SAMPLE: ("#FFE3A3", "#8C6D1F"),
    NodeKind.MODEL: ("#E6F5B0", "#5B7A1A"),
    NodeKind.ACTIVITY: ("#9FB1FC", "#0000FF"),
    NodeKind.WORKFLOW: ("#C9D3FD", "#0000FF"),
    NodeKind.AGENT: ("#FED37F", "#000000"),
}
_RESTRICTED_STYLE = ("#E0E0E0", "#7F7F7F")
_HIGHLIGHT = "#D62728"


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _subtitle(node: ProvNode) -> str:
    if isinstance(node, RestrictedNode):
        return ""
    if isinstance(node, SampleNode):
        return node.sample_type.value
    if isinstance(node, ActivityNode):
        return node.activity_type.value
    if isinstance(node, AgentNode):
        return node.agent_type.value + (f" {node.version}" if node.version else "")
    if isinstance(node, ModelNode):
        return "model" + (f" v{node.version}" if node.version else "")
    if node.kind is NodeKind.WORKFLOW:
        return "workflow"
    version = getattr(node, "version", None)
    return f"v{version}" if version else ""


def _layers(graph: ProvGraph) -> dict[str, int]:
    """Longest-path layering over an acyclic subset of the links (iterative, Kahn's algorithm)."""
    ids = list(graph.nodes)
    succ: dict[str, set[str]] = {i: set() for i in ids}
    pred: dict[str, set[str]] = {i: set() for i in ids}
    rank = {lt: n for n, lt in enumerate(_LAYOUT_PRIORITY)}
    for edge in sorted(graph.edges, key=lambda e: rank[e.link_type]):
        s, t = edge.source, edge.target
        if s == t or t in succ[s]:
            continue
        if _reaches(succ, t, s):  # would loop: leave it out of the layout (it is still drawn)
            continue
        succ[s].add(t)
        pred[t].add(s)
    layer = dict.fromkeys(ids, 0)
    indeg = {i: len(pred[i]) for i in ids}
    queue = deque(i for i in ids if indeg[i] == 0)
    order: list[str] = []
    while queue:
        current = queue.popleft()
        order.append(current)
        for nxt in succ[current]:
            layer[nxt] = max(layer[nxt], layer[current] + 1)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue.append(nxt)
    # Pull sources (agents, raw inputs) down to sit just above the first thing that needs them.
    for nid in reversed(order):
        if not pred[nid] and succ[nid]:
            layer[nid] = max(0, min(layer[s] for s in succ[nid]) - 1)
    low = min(layer.values(), default=0)
    return {i: v - low for i, v in layer.items()}


def _reaches(succ: dict[str, set[str]], start: str, goal: str) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        current = stack.pop()
        if current == goal:
            return True
        for nxt in succ[current]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _order(graph: ProvGraph, layer: dict[str, int]) -> list[list[str]]:
    """Nodes per layer, ordered by a few up/down barycentre sweeps to reduce edge crossings."""
    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for nid in graph.nodes:
        rows[layer[nid]].append(nid)
    neighbours: dict[str, set[str]] = {nid: set() for nid in graph.nodes}
    for edge in graph.edges:
        neighbours[edge.source].add(edge.target)
        neighbours[edge.target].add(edge.source)
    for sweep in range(6):
        indices = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        for r in indices:
            ref = rows[r - 1] if sweep % 2 == 0 else rows[r + 1]
            pos = {nid: i for i, nid in enumerate(ref)}
            current = {nid: i for i, nid in enumerate(rows[r])}

            def key(nid: str, pos: dict[str, int] = pos, current: dict[str, int] = current) -> float:
                hits = [pos[n] for n in neighbours[nid] if n in pos]
                return sum(hits) / len(hits) if hits else float(current[nid])

            rows[r].sort(key=key)
    return rows


def _width(node: ProvNode) -> float:
    text = max(len(_short(node.display)), len(_subtitle(node)))
    return max(90.0, min(240.0, text * CHAR_W + 36))


def _shape(node: ProvNode, cx: float, cy: float, w: float, fill: str, stroke: str, sw: float) -> str:
    h = NODE_H
    dash = ' stroke-dasharray="5,3"' if isinstance(node, RestrictedNode) else ""
    common = f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}'
    if node.kind in (NodeKind.ACTIVITY, NodeKind.WORKFLOW):
        rx = ' rx="10"' if node.kind is NodeKind.WORKFLOW else ""
        return f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" height="{h}"{rx} {common}/>'
    if node.kind is NodeKind.AGENT:
        x0, x1, top, roof, bottom = cx - w / 2, cx + w / 2, cy - h / 2 - 8, cy - h / 2 + 6, cy + h / 2
        corners = [(cx, top), (x1, roof), (x1, bottom), (x0, bottom), (x0, roof)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
        return f'<polygon points="{points}" {common}/>'
    shape = f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{w / 2:.1f}" ry="{h / 2}" {common}/>'
    if node.kind is NodeKind.MODEL and not isinstance(node, RestrictedNode):
        shape += (
            f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{w / 2 - 4:.1f}" ry="{h / 2 - 4}" '
            f'fill="none" stroke="{stroke}" stroke-width="1"/>'
        )
    return shape


def _free_spot(
    candidates: list[tuple[float, float]], width: float, boxes: list[tuple[float, float, float, float]]
) -> tuple[float, float] | None:
    """First candidate where a label box overlaps no node or earlier label; the box is then taken."""
    for cx, cy in candidates:
        box = (cx - width / 2, cy - 7, cx + width / 2, cy + 7)
        if all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in boxes):
            boxes.append(box)
            return cx, cy
    return None


def _bezier(
    p0: tuple[float, float], c: tuple[float, float], p1: tuple[float, float], t: float
) -> tuple[float, float]:
    u = 1 - t
    return (
        u * u * p0[0] + 2 * u * t * c[0] + t * t * p1[0],
        u * u * p0[1] + 2 * u * t * c[1] + t * t * p1[1],
    )


def _route(
    start: tuple[float, float],
    end: tuple[float, float],
    hits_at: Callable[[float, float], int],
    canvas_w: float,
) -> tuple[float, float]:
    """Control point of a quadratic curve from start to end that misses other nodes, if one is found.

    A straight line is tried first, then curves bowed further and further to either side; the one
    crossing the fewest node boxes (``hits_at`` counts them at a point) wins, so an edge spanning
    several layers does not run through the nodes in between.
    """
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    best, best_hits = (mx, my), -1
    for offset in _ROUTE_OFFSETS:
        if not 5 <= mx + offset / 2 <= canvas_w - 5:
            continue
        control = (mx + offset, my)
        hits = 0
        for step in range(1, 20):
            hits += hits_at(*_bezier(start, control, end, step / 20))
            if 0 <= best_hits <= hits:
                break
        if hits == 0:
            return control
        if best_hits < 0 or hits < best_hits:
            best, best_hits = control, hits
    return best


def _hit_counter(
    row_boxes: list[list[tuple[float, float, float, float]]], low: int, high: int
) -> Callable[[float, float], int]:
    """Count node boxes at a point, looking only at the layers strictly between ``low`` and ``high``."""
    first_y = MARGIN + 10 + NODE_H / 2

    def hits_at(px: float, py: float) -> int:
        r = round((py - first_y) / LAYER_GAP)
        if not low < r < high:
            return 0
        return sum(1 for b in row_boxes[r] if b[0] - 4 <= px <= b[2] + 4 and b[1] - 4 <= py <= b[3] + 4)

    return hits_at


def _default_href(node_id: str) -> str:
    return "#node-" + quote(node_id, safe="")


def render_svg(
    graph: ProvGraph,
    highlight: str | None = None,
    href: Callable[[str], str | None] | None = None,
    title: str = "Provenance",
) -> str:
    """Draw ``graph`` as an SVG string; ``highlight`` outlines one node (e.g. the page's dataset).

    Every visible node is wrapped in ``<a href=... data-node-id=...>``; ``href`` maps a node id to its
    page (default ``#node-<id>``; return None for no link). Restricted placeholders are drawn grey and
    dashed, labelled e.g. "restricted dataset", and are not links (there is nothing to open).
    """
    if len(graph) > MAX_NODES:
        raise ProvenanceError(
            f"graph has {len(graph)} nodes; the page drawing is limited to {MAX_NODES}: draw a "
            "neighbourhood (ProvGraph.neighbourhood(id, depth=2)) instead"
        )
    if highlight is not None:
        graph.node(highlight)  # clear error for an unknown id
    link_for = href or _default_href
    layer = _layers(graph)
    rows = _order(graph, layer)
    widths = {n.id: _width(n) for n in graph}
    row_w = [sum(widths[i] for i in row) + NODE_GAP * max(0, len(row) - 1) for row in rows]
    total_w = max(row_w, default=200.0) + 2 * MARGIN
    pos: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        x = (total_w - row_w[r]) / 2
        for nid in row:
            pos[nid] = (x + widths[nid] / 2, MARGIN + 10 + NODE_H / 2 + r * LAYER_GAP)
            x += widths[nid] + NODE_GAP
    total_h = MARGIN * 2 + 10 + NODE_H + max(0, len(rows) - 1) * LAYER_GAP

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" role="img" aria-label={quoteattr(title)} '
        'font-family="DejaVu Sans, Arial, sans-serif" class="provenance-graph">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/>'
        "</marker></defs>",
        '<g class="edges">',
    ]
    node_box = {
        n: (x - widths[n] / 2, y - NODE_H / 2 - 8, x + widths[n] / 2, y + NODE_H / 2)
        for n, (x, y) in pos.items()
    }
    boxes = list(node_box.values())  # obstacles for labels; each placed label is added
    row_boxes = [[node_box[n] for n in row] for row in rows]
    for edge in graph.edges:
        # PROV arrows go from the later node (the link's target) to the earlier one (its source).
        (x1, y1), (x2, y2) = pos[edge.target], pos[edge.source]
        half = NODE_H / 2 if y1 > y2 else -NODE_H / 2  # leave from the facing side of each shape
        y1b, y2b = y1 - half, y2 + half
        if y1 == y2:  # same layer: bow the edge below the nodes
            mx, my = (x1 + x2) / 2, y1 + NODE_H
            path = f"M{x1:.1f},{y1 + NODE_H / 2:.1f} Q{mx:.1f},{my + 20:.1f} {x2:.1f},{y2 + NODE_H / 2:.1f}"
            candidates = [(mx, my + 8)]
        else:
            low, high = sorted((layer[edge.source], layer[edge.target]))
            if high - low > 1:  # only edges skipping layers can run into nodes
                control = _route((x1, y1b), (x2, y2b), _hit_counter(row_boxes, low, high), total_w)
            else:
                control = ((x1 + x2) / 2, (y1b + y2b) / 2)
            path = f"M{x1:.1f},{y1b:.1f} Q{control[0]:.1f},{control[1]:.1f} {x2:.1f},{y2b:.1f}"
            candidates = [_bezier((x1, y1b), control, (x2, y2b), t) for t in _LABEL_SPOTS]
        text = _RELATION[edge.link_type] + (f" ({_short(edge.label, 18)})" if edge.label else "")
        dash = ' stroke-dasharray="4,3"' if edge.link_type not in _LAYOUT_PRIORITY[:4] else ""
        label = ""
        spot = _free_spot(candidates, len(text) * LABEL_CHAR_W + 6, boxes)
        if spot is not None:  # no free spot: the relation stays readable in the tooltip
            lx, ly = spot
            label = (
                f'<text x="{lx:.1f}" y="{ly + 3.5:.1f}" font-size="10" fill="#333" text-anchor="middle" '
                f'paint-order="stroke" stroke="#fff" stroke-width="3">{escape(text)}</text>'
            )
        parts.append(
            f'<g class="edge" data-link-type="{edge.link_type.value}"><title>{escape(text)}</title>'
            f'<path d="{path}" fill="none" stroke="#555" stroke-width="1.2"{dash} marker-end="url(#arrow)"/>'
            f"{label}</g>"
        )
    parts.append("</g>")
    parts.append('<g class="nodes">')
    for node in graph:
        cx, cy = pos[node.id]
        restricted = isinstance(node, RestrictedNode)
        fill, stroke = _RESTRICTED_STYLE if restricted else _STYLE[node.kind]
        is_hl = node.id == highlight
        sw = 3.0 if is_hl else 1.2
        shape = _shape(node, cx, cy, widths[node.id], fill, _HIGHLIGHT if is_hl else stroke, sw)
        sub = _subtitle(node)
        label_y = cy - 2 if sub else cy + 4
        body = (
            f"<title>{escape(f'{node.kind.value}: {node.display}')}</title>{shape}"
            f'<text x="{cx:.1f}" y="{label_y:.1f}" font-size="12" text-anchor="middle" fill="#111">'
            f"{escape(_short(node.display))}</text>"
        )
        if sub:
            body += (
                f'<text x="{cx:.1f}" y="{cy + 13:.1f}" font-size="10" text-anchor="middle" fill="#444">'
                f"{escape(sub)}</text>"
            )
        attrs = f'class="node node-{node.kind.value}{" restricted" if restricted else ""}" ' + (
            f'data-node-id={quoteattr(node.id)} data-kind="{node.kind.value}"'
        )
        target = None if restricted else link_for(node.id)
        if target is None:
            parts.append(f"<g {attrs}>{body}</g>")
        else:
            parts.append(f"<a href={quoteattr(target)} {attrs}>{body}</a>")
    parts.append("</g></svg>")
    return "\n".join(parts)
