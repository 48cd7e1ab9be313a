"""The "highway of data" as SVG: WPs grouped by affinity, arrows sized by planned and delivered volume.

Hand-built SVG with a deterministic layout (no graph library needed, byte-identical output for the same
input, so diagrams can be diffed and cached). Every arrow is a ``<g class="flow">`` carrying
``data-flow`` (the source->target pair), ``data-flows`` (the planned flow ids) and a ``<title>``, so
the web UI can make a click on an arrow list the datasets that travelled along it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from databahn.dmp.model import Flow, Plan, SizeClass, WorkPackage
from databahn.dmp.tracking import TrackingReport

BOX_W, BOX_H = 190, 64
COL_W, ROW_H = 330, 150
MARGIN_X, MARGIN_TOP = 60, 110
WIDTH = {SizeClass.KB: 1.5, SizeClass.MB: 3.5, SizeClass.GB: 7.0, SizeClass.TB: 12.0}
GROUP_FILL = ["#e8f1fb", "#eaf6ec", "#fdf3e3", "#f3eafa", "#eeeeee", "#e6f4f4"]
PLANNED = "#4a78b5"
DELIVERED = "#e07b22"
UNPLANNED = "#c0392b"


@dataclass
class _Box:
    x: float
    y: float
    w: float = BOX_W
    h: float = BOX_H

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def edge_point(self, tx: float, ty: float) -> tuple[float, float]:
        """Where the ray from the box centre towards (tx, ty) leaves the box (plus a small gap)."""
        dx, dy = tx - self.cx, ty - self.cy
        if dx == 0 and dy == 0:
            return self.cx, self.cy
        sx = (self.w / 2 + 4) / abs(dx) if dx else math.inf
        sy = (self.h / 2 + 4) / abs(dy) if dy else math.inf
        s = min(sx, sy)
        return self.cx + dx * s, self.cy + dy * s


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _planned_width(flows: list[Flow]) -> float:
    classes = [f.size.high for f in flows if f.size]
    return WIDTH[max(classes)] if classes else 1.0


def _curve(a: _Box, b: _Box, bend: float) -> tuple[str, tuple[float, float]]:
    """A quadratic curve from box a to box b, bent to the left of the direction of travel."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    mx, my = (a.cx + b.cx) / 2 + nx * bend, (a.cy + b.cy) / 2 + ny * bend
    x1, y1 = a.edge_point(mx, my)
    x2, y2 = b.edge_point(mx, my)
    mid = (0.25 * x1 + 0.5 * mx + 0.25 * x2, 0.25 * y1 + 0.5 * my + 0.25 * y2)
    return f"M{_fmt(x1)},{_fmt(y1)} Q{_fmt(mx)},{_fmt(my)} {_fmt(x2)},{_fmt(y2)}", mid


def _head_id(kind: str, width: float) -> str:
    return f"head-{kind}-{_fmt(width).replace('.', '_')}"


def _defs() -> str:
    """Arrowheads sized per stroke width, so a TB highway gets a head as wide as its shaft."""
    heads = []
    widths = sorted({1.0, 2.5, *WIDTH.values()})
    for name, colour in (("planned", PLANNED), ("unplanned", UNPLANNED)):
        for w in widths:
            size = _fmt(max(12.0, 2.4 * w))
            heads.append(
                f'<marker id="{_head_id(name, w)}" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="{size}" '
                f'markerHeight="{size}" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            )
    style = (
        "<style>"
        "text{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;fill:#1d2733}"
        ".wp-title{font-size:12px}.wp-key{font-size:15px;font-weight:bold}"
        ".group-label{font-size:13px;font-weight:bold;fill:#44515f}"
        ".legend{font-size:12px}.caption{font-size:18px;font-weight:bold}"
        ".flow path.hit{stroke:transparent;fill:none}.flow:hover path.planned{stroke-opacity:0.9}"
        ".flow-label{font-size:11px;fill:#333}"
        "</style>"
    )
    return "<defs>" + "".join(heads) + "</defs>" + style


def _wp_box(wp: WorkPackage, box: _Box, fill: str = "#ffffff") -> str:
    words = wp.title.split()
    lines, cur = [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > 26:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    lines = lines[:2]
    top = box.cy - (10 + 8 * len(lines))
    out = [
        f'<g class="wp" data-wp="{wp.key}"><title>{escape(wp.key + " " + wp.title)}</title>'
        f'<rect x="{_fmt(box.x)}" y="{_fmt(box.y)}" width="{_fmt(box.w)}" height="{_fmt(box.h)}" rx="10" '
        f'fill="{fill}" stroke="#2b3a4a" stroke-width="1.5"/>'
        f'<text class="wp-key" x="{_fmt(box.cx)}" y="{_fmt(top + 14)}" text-anchor="middle">{wp.key}</text>'
    ]
    for i, line in enumerate(lines):
        out.append(
            f'<text class="wp-title" x="{_fmt(box.cx)}" y="{_fmt(top + 32 + 14 * i)}" text-anchor="middle">'
            f"{escape(line)}</text>"
        )
    out.append("</g>")
    return "".join(out)


def _flow_group(
    pair: tuple[str, str],
    flows: list[Flow],
    path: str,
    tracking: TrackingReport | None,
    link: str | None,
    label: tuple[tuple[float, float], str] | None = None,
) -> str:
    ids = " ".join(f.id for f in flows)
    pw = _planned_width(flows)
    delivered = 0
    datasets: list[str] = []
    states: list[str] = []
    if tracking:
        for f in flows:
            st = tracking.status(f.id)
            delivered += st.bytes
            datasets += st.datasets
            states.append(st.status)
    lines = [f"{pair[0]} → {pair[1]}: {len(flows)} planned flow(s)"]
    for f in flows[:6]:
        what = (f.what or "").strip()
        lines.append(f"• {what[:90]}{'…' if len(what) > 90 else ''} [{f.size or '?'}]")
    if len(flows) > 6:
        lines.append(f"… and {len(flows) - 6} more")
    if tracking:
        lines.append(f"delivered: {len(set(datasets))} dataset(s), {_human_bytes(delivered)}")
        lines.append("status: " + ", ".join(f"{s} {states.count(s)}" for s in sorted(set(states))))
    parts = [
        f'<g class="flow" data-flow={quoteattr(f"{pair[0]}->{pair[1]}")} data-flows={quoteattr(ids)} '
        f'data-source="{pair[0]}" data-target="{pair[1]}" data-datasets="{len(set(datasets))}">',
        f"<title>{escape(chr(10).join(lines))}</title>",
        f'<path class="planned" d="{path}" fill="none" stroke="{PLANNED}" stroke-opacity="0.45" '
        f'stroke-width="{_fmt(pw)}" stroke-linecap="round" marker-end="url(#{_head_id("planned", pw)})"/>',
    ]
    if delivered > 0:
        dw = WIDTH[SizeClass.for_bytes(delivered)]
        parts.append(
            f'<path class="delivered" d="{path}" fill="none" stroke="{DELIVERED}" stroke-opacity="0.9" '
            f'stroke-width="{_fmt(dw)}" stroke-linecap="round"/>'
        )
    parts.append(f'<path class="hit" d="{path}" stroke-width="16"/>')
    if label:
        (lx, ly), text = label
        parts.append(
            f'<text class="flow-label" x="{_fmt(lx)}" y="{_fmt(ly - 4)}" text-anchor="middle">{escape(text)}</text>'
        )
    parts.append("</g>")
    body = "".join(parts)
    if link:
        href = link.replace("{source}", pair[0]).replace("{target}", pair[1])
        body = f"<a href={quoteattr(href)}>{body}</a>"
    return body


def _unplanned_group(a: _Box, b: _Box, src: str, dst: str, n: int, size: int, link: str | None) -> str:
    path, _ = _curve(a, b, 40)
    body = (
        f'<g class="flow unplanned" data-flow="{src}->{dst}" data-flows="" data-source="{src}" data-target="{dst}">'
        f"<title>{escape(f'{src} → {dst}: not in the plan; {n} dataset(s), {_human_bytes(size)} delivered')}"
        f'</title><path d="{path}" fill="none" stroke="{UNPLANNED}" stroke-width="2.5" stroke-dasharray="7 5" '
        f'marker-end="url(#{_head_id("unplanned", 2.5)})"/><path class="hit" d="{path}" stroke-width="16"/></g>'
    )
    if link:
        body = f"<a href={quoteattr(link.replace('{source}', src).replace('{target}', dst))}>{body}</a>"
    return body


def _legend(x: float, y: float, with_tracking: bool) -> str:
    out = [f'<g class="legend" transform="translate({_fmt(x)},{_fmt(y)})">']
    out.append('<text class="legend" x="0" y="0" font-weight="bold">Planned size class</text>')
    for i, sc in enumerate(SizeClass):
        yy = 20 + i * 20
        out.append(
            f'<line x1="0" y1="{yy}" x2="60" y2="{yy}" stroke="{PLANNED}" stroke-opacity="0.45" '
            f'stroke-width="{_fmt(WIDTH[sc])}"/><text class="legend" x="72" y="{yy + 4}">{sc.name}</text>'
        )
    if with_tracking:
        out.append(
            f'<line x1="140" y1="20" x2="200" y2="20" stroke="{DELIVERED}" stroke-width="5"/>'
            f'<text class="legend" x="210" y="24">delivered (width by volume)</text>'
            f'<line x1="140" y1="44" x2="200" y2="44" stroke="{UNPLANNED}" stroke-width="2.5" '
            f'stroke-dasharray="7 5"/><text class="legend" x="210" y="48">actual flow nobody planned</text>'
        )
    out.append("</g>")
    return "".join(out)


def _group_label(label: str, x: float, y: float) -> str:
    head, sep, rest = label.partition(" (")
    if not sep:
        return f'<text class="group-label" x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="middle">{escape(label)}</text>'
    return (
        f'<text class="group-label" x="{_fmt(x)}" y="{_fmt(y - 8)}" text-anchor="middle">{escape(head)}</text>'
        f'<text class="legend" x="{_fmt(x)}" y="{_fmt(y + 8)}" text-anchor="middle">({escape(rest)}</text>'
    )


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(width)}" height="{_fmt(height)}" '
        f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" role="img" aria-label={quoteattr(title)}>'
        + _defs()
        + f'<rect width="100%" height="100%" fill="#ffffff"/><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>\n"
    )


def _pairs(flows: list[Flow]) -> dict[tuple[str, str], list[Flow]]:
    out: dict[tuple[str, str], list[Flow]] = {}
    for f in flows:
        if f.source != f.target:
            out.setdefault(f.pair, []).append(f)
    return out


def render_highway_svg(
    plan: Plan,
    tracking: TrackingReport | None = None,
    *,
    link: str | None = None,
    min_size: SizeClass | None = None,
) -> str:
    """The whole plan's highway. `link` (e.g. "/dmp/flows/{source}/{target}") wraps arrows in <a>;
    `min_size` hides planned pairs whose largest size class is below it (the paper's "main highways")."""
    order = [g.key for g in plan.affinity_groups]
    columns: dict[str, list[WorkPackage]] = {}
    linked = {f.source for f in plan.flows} | {f.target for f in plan.flows}
    tracked = {x for a in (tracking.unplanned if tracking else []) for x in (a.source, a.target)}
    for wp in sorted(plan.work_packages, key=lambda w: w.number):
        if wp.key not in linked | tracked:
            continue  # the highway is about flows: a WP with none (e.g. management) has no place on it
        g = wp.affinity_group or "other"
        if g not in order:
            order.append(g)
        columns.setdefault(g, []).append(wp)
    used = [g for g in order if g in columns]
    labels = {g.key: g.label for g in plan.affinity_groups}
    boxes: dict[str, _Box] = {}
    body: list[str] = []
    if not columns:
        return _svg(
            600,
            120,
            f"{plan.project.acronym}: no planned flows",
            ['<text class="caption" x="30" y="60">The plan has no data flows yet.</text>'],
        )
    rows = max(len(v) for v in columns.values())
    height = MARGIN_TOP + rows * ROW_H + 150
    width = MARGIN_X * 2 + len(used) * COL_W - (COL_W - BOX_W - 60)
    for ci, g in enumerate(used):
        x = MARGIN_X + ci * COL_W
        wps = columns[g]
        offset = (rows - len(wps)) * ROW_H / 2
        body.append(
            f'<rect class="group" x="{_fmt(x - 30)}" y="{MARGIN_TOP - 40}" width="{BOX_W + 60}" '
            f'height="{_fmt(rows * ROW_H + 20)}" rx="16" fill="{GROUP_FILL[ci % len(GROUP_FILL)]}"/>'
            + _group_label(labels.get(g, g), x + BOX_W / 2, MARGIN_TOP - 20)
        )
        for ri, wp in enumerate(wps):
            boxes[wp.key] = _Box(x, MARGIN_TOP + offset + ri * ROW_H + 20)
    arrows: list[str] = []
    pairs = _pairs(plan.flows)
    for pair in sorted(pairs, key=lambda p: (-_planned_width(pairs[p]), p)):
        flows = pairs[pair]
        if min_size and max((f.size.high for f in flows if f.size), default=SizeClass.KB) < min_size:
            continue
        a, b = boxes.get(pair[0]), boxes.get(pair[1])
        if not a or not b:
            continue
        same_col = abs(a.x - b.x) < 1
        bend = 70.0 if same_col else 22.0
        path, _ = _curve(a, b, bend)
        arrows.append(_flow_group(pair, flows, path, tracking, link))
    if tracking:
        for af in tracking.unplanned:
            a, b = boxes.get(af.source), boxes.get(af.target)
            if a and b:
                arrows.append(_unplanned_group(a, b, af.source, af.target, len(af.datasets), af.bytes, link))
    # thick arrows first so thin ones stay visible and clickable on top
    body += arrows
    body += [_wp_box(wp, boxes[wp.key]) for wp in plan.work_packages if wp.key in boxes]
    title = f"{plan.project.acronym}: highway of data"
    body.insert(0, f'<text class="caption" x="{MARGIN_X - 30}" y="36">{escape(title)}</text>')
    body.append(_legend(MARGIN_X - 30, height - 120, tracking is not None))
    return _svg(width, height, title, body)


def render_wp_svg(
    plan: Plan, wp: str | int, tracking: TrackingReport | None = None, *, link: str | None = None
) -> str:
    """One WP's in/out diagram: the WPs it collects from on the left, those it delivers to on the right."""
    me = plan.wp(wp)
    ins = _pairs([f for f in plan.inflows(me.key) if f.source != me.key])
    outs = _pairs([f for f in plan.outflows(me.key) if f.target != me.key])
    n = max(len(ins), len(outs), 1)
    row_h = 90
    gap = 360
    height = MARGIN_TOP + n * row_h + 150
    width = 3 * BOX_W + 2 * gap + 2 * MARGIN_X
    centre = _Box(MARGIN_X + BOX_W + gap, MARGIN_TOP, BOX_W, max(BOX_H, n * row_h - (row_h - BOX_H)))
    body: list[str] = []
    boxes_in: list[tuple[tuple[str, str], _Box]] = []
    for i, pair in enumerate(sorted(ins, key=lambda p: int(p[0][2:]))):
        boxes_in.append((pair, _Box(MARGIN_X, MARGIN_TOP + (n - len(ins)) * row_h / 2 + i * row_h)))
    boxes_out: list[tuple[tuple[str, str], _Box]] = []
    for i, pair in enumerate(sorted(outs, key=lambda p: int(p[1][2:]))):
        top = MARGIN_TOP + (n - len(outs)) * row_h / 2 + i * row_h
        boxes_out.append((pair, _Box(centre.x + BOX_W + gap, top)))

    def label_for(flows: list[Flow]) -> str:
        what = " ".join((flows[0].what or "").split())
        text = what[:44] + ("…" if len(what) > 44 else "")
        return text + (f" (+{len(flows) - 1} more)" if len(flows) > 1 else "")

    for pair, box in boxes_in:
        x1, x2 = box.x + BOX_W + 4, centre.x - 6
        path = f"M{_fmt(x1)},{_fmt(box.cy)} L{_fmt(x2)},{_fmt(box.cy)}"
        body.append(
            _flow_group(
                pair, ins[pair], path, tracking, link, (((x1 + x2) / 2, box.cy - 6), label_for(ins[pair]))
            )
        )
    for pair, box in boxes_out:
        x1, x2 = centre.x + BOX_W + 4, box.x - 6
        path = f"M{_fmt(x1)},{_fmt(box.cy)} L{_fmt(x2)},{_fmt(box.cy)}"
        body.append(
            _flow_group(
                pair, outs[pair], path, tracking, link, (((x1 + x2) / 2, box.cy - 6), label_for(outs[pair]))
            )
        )
    for pair, box in boxes_in:
        body.append(_wp_box(plan.wp(pair[0]), box))
    for pair, box in boxes_out:
        body.append(_wp_box(plan.wp(pair[1]), box))
    body.append(_wp_box(me, centre, fill="#fff7d6"))
    title = f"{plan.project.acronym} {me.key}: data collected and delivered"
    body.insert(0, f'<text class="caption" x="{MARGIN_X}" y="36">{escape(title)}</text>')
    body.append(
        f'<text class="group-label" x="{_fmt(MARGIN_X + BOX_W / 2)}" y="{MARGIN_TOP - 14}" '
        f'text-anchor="middle">collected from</text>'
        f'<text class="group-label" x="{_fmt(centre.x + BOX_W + gap + BOX_W / 2)}" y="{MARGIN_TOP - 14}" '
        f'text-anchor="middle">delivered to</text>'
    )
    body.append(_legend(MARGIN_X, height - 120, tracking is not None))
    return _svg(width, height, title, body)
