"""Tracking the plan against what the hub actually holds: flow status, traffic, gaps, compliance.

Everything here is pure: the caller (the hub's service layer) fills a `LiveState` from the database
and gets typed reports back, so the same code serves the web UI, the CLI and the DMP document.

Flow status rule (documented because users will ask):
- ``delivering``: at least one delivery within the last ``LiveState.active_days`` days (default 90);
- ``started``: delivered at least once, but nothing within that window;
- ``overdue``: nothing delivered and the flow's ``due`` date (optional, set in the plan) has passed;
- ``planned``: nothing delivered yet and not overdue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from databahn.dmp.model import Flow, Plan, wp_key

FlowState = Literal["planned", "started", "delivering", "overdue"]


def _utc(d: datetime | date) -> datetime:
    if isinstance(d, datetime):
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


class DatasetFacts(BaseModel):
    """What the hub knows about one deposited dataset, as far as the plan cares (also the compliance input)."""

    pid: str
    title: str = ""
    wp: str
    datatype: str | None = None
    keywords: list[str] = Field(default_factory=list)
    battinfo_keywords: list[str] = Field(default_factory=list)
    method: str | None = None
    protocol: str | None = None
    fidelity: str | None = None
    provenance: str | None = None
    license: str | None = None
    formats: list[str] = Field(default_factory=list)
    software: str | None = None  # software (name and version) needed to read a non-open format
    openness: str = "public"
    embargo_until: date | None = None
    repository: str | None = None
    bytes: int = 0
    created: datetime | None = None


ComplianceInput = DatasetFacts


class FlowDelivery(BaseModel):
    """A dataset delivered along source -> target; `flow_id` None means nobody planned this flow."""

    dataset_pid: str
    source: str
    target: str
    flow_id: str | None = None
    bytes: int = 0
    delivered_at: datetime


class LiveState(BaseModel):
    """The hub's live state as the DMP functions need it; filled by the lead's service layer."""

    as_of: datetime = Field(default_factory=lambda: datetime.now(UTC))
    active_days: int = 90
    datasets: list[DatasetFacts] = Field(default_factory=list)
    deliveries: list[FlowDelivery] = Field(default_factory=list)
    storage_bytes: int | None = None

    def datasets_by_wp(self) -> dict[str, list[DatasetFacts]]:
        out: dict[str, list[DatasetFacts]] = {}
        for d in self.datasets:
            out.setdefault(wp_key(d.wp), []).append(d)
        return out


class FlowStatus(BaseModel):
    flow: Flow
    status: FlowState
    datasets: list[str] = Field(default_factory=list)
    bytes: int = 0
    first_delivery: datetime | None = None
    last_delivery: datetime | None = None


class ActualFlow(BaseModel):
    """Deliveries between two WPs that no planned flow covers."""

    source: str
    target: str
    datasets: list[str] = Field(default_factory=list)
    bytes: int = 0
    last_delivery: datetime | None = None


class WpTraffic(BaseModel):
    wp: str
    planned_in: int = 0
    planned_out: int = 0
    datasets_in: int = 0
    datasets_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class TrackingReport(BaseModel):
    as_of: datetime
    flows: list[FlowStatus]
    per_wp: list[WpTraffic]
    undelivered: list[str]  # planned flow ids with no delivery
    unplanned: list[ActualFlow]
    # WP pairs with planned flows and no delivery at all (a pair is usually planned twice: once in the
    # sender's "delivered to" table and once in the receiver's "collected from" table)
    undelivered_pairs: list[tuple[str, str]] = Field(default_factory=list)

    def status(self, flow_id: str) -> FlowStatus:
        for s in self.flows:
            if s.flow.id == flow_id:
                return s
        raise KeyError(f"no planned flow {flow_id!r}")

    def datasets_between(self, source: str, target: str) -> list[str]:
        """Dataset pids delivered along source -> target, planned or not (what a click on an arrow lists)."""
        src, dst = wp_key(source), wp_key(target)
        out = [p for s in self.flows if s.flow.source == src and s.flow.target == dst for p in s.datasets]
        out += [p for a in self.unplanned if a.source == src and a.target == dst for p in a.datasets]
        return list(dict.fromkeys(out))

    def counts(self) -> dict[str, int]:
        out = {"planned": 0, "started": 0, "delivering": 0, "overdue": 0}
        for s in self.flows:
            out[s.status] += 1
        return out


def track(plan: Plan, live: LiveState) -> TrackingReport:
    """Compare planned flows with actual deliveries (see the module docstring for the status rule)."""
    as_of = _utc(live.as_of)
    window = timedelta(days=live.active_days)
    by_flow: dict[str, list[FlowDelivery]] = {}
    unplanned: dict[tuple[str, str], ActualFlow] = {}
    planned_ids = {f.id for f in plan.flows}
    for d in live.deliveries:
        if d.flow_id and d.flow_id in planned_ids:
            by_flow.setdefault(d.flow_id, []).append(d)
            continue
        key = (wp_key(d.source), wp_key(d.target))
        af = unplanned.setdefault(key, ActualFlow(source=key[0], target=key[1]))
        if d.dataset_pid not in af.datasets:
            af.datasets.append(d.dataset_pid)
        af.bytes += d.bytes
        when = _utc(d.delivered_at)
        af.last_delivery = max(af.last_delivery or when, when)
    statuses: list[FlowStatus] = []
    for f in plan.flows:
        ds = by_flow.get(f.id, [])
        times = sorted(_utc(d.delivered_at) for d in ds)
        if times:
            state: FlowState = "delivering" if as_of - times[-1] <= window else "started"
        elif f.due and as_of.date() > date.fromisoformat(f.due):
            state = "overdue"
        else:
            state = "planned"
        pids = list(dict.fromkeys(d.dataset_pid for d in ds))
        statuses.append(
            FlowStatus(
                flow=f,
                status=state,
                datasets=pids,
                bytes=sum(d.bytes for d in ds),
                first_delivery=times[0] if times else None,
                last_delivery=times[-1] if times else None,
            )
        )
    traffic = {w.key: WpTraffic(wp=w.key) for w in plan.work_packages}
    for s in statuses:
        src, dst = traffic.get(s.flow.source), traffic.get(s.flow.target)
        if src:
            src.planned_out += 1
        if dst:
            dst.planned_in += 1
    for d in live.deliveries:
        src, dst = traffic.get(wp_key(d.source)), traffic.get(wp_key(d.target))
        if src:
            src.datasets_out += 1
            src.bytes_out += d.bytes
        if dst:
            dst.datasets_in += 1
            dst.bytes_in += d.bytes
    delivered_pairs = {s.flow.pair for s in statuses if s.datasets}
    pairs = list(dict.fromkeys(s.flow.pair for s in statuses))
    return TrackingReport(
        as_of=as_of,
        flows=statuses,
        per_wp=list(traffic.values()),
        undelivered=[s.flow.id for s in statuses if not s.datasets],
        unplanned=sorted(unplanned.values(), key=lambda a: (a.source, a.target)),
        undelivered_pairs=[p for p in pairs if p not in delivered_pairs],
    )


_WORD = re.compile(r"[a-z0-9][a-z0-9+\-]{2,}")
_STOP = {"and", "the", "for", "with", "data", "from", "other", "are", "can", "will", "etc", "e.g", "via"}


def _words(text: str | None) -> set[str]:
    return {w for w in _WORD.findall((text or "").lower()) if w not in _STOP}


def suggest_flows(plan: Plan, wp: str | int, datatype_or_keywords: str | Iterable[str]) -> list[Flow]:
    """Planned outflows of `wp` that a dataset of this datatype (or with these keywords) likely delivers.

    Ranked by word overlap with the flow's row (what / used for / type / format). If the text names one
    of the WP's generated data types, that row's words count too, so "Atomistic simulations" finds the
    trajectory flows even though the flow rows do not repeat the datatype's name.
    """
    key = wp_key(wp)
    work = plan.wp(key)
    if isinstance(datatype_or_keywords, str):
        words = _words(datatype_or_keywords)
        text = datatype_or_keywords.strip().lower()
        for dt in work.data_types:
            if dt.datatype and dt.datatype.strip().lower() == text:
                words |= _words(" ".join(x or "" for x in (dt.description, dt.datasets, dt.type)))
    else:
        words = set()
        for k in datatype_or_keywords:
            words |= _words(k)
    scored: list[tuple[int, int, Flow]] = []
    for i, f in enumerate(plan.outflows(key)):
        fw = _words(" ".join(x or "" for x in (f.what, f.used_for, f.type, f.format)))
        score = len(words & fw)
        if score:
            scored.append((-score, i, f))
    return [f for _, _, f in sorted(scored, key=lambda t: (t[0], t[1]))]


class DeliverySpec(BaseModel):
    source: str
    target: str
    flow_id: str | None  # None: no planned flow between the pair (an unplanned actual flow)


def resolve_delivers(plan: Plan, wp: str | int, spec: str, keywords: Iterable[str] = ()) -> DeliverySpec:
    """Read `--delivers WP2:WP5` (or a flow id 'WP2->WP5#1') for a dataset of `wp`; clear ValueError if wrong.

    With several planned flows between the pair the best keyword match wins, else the first one.
    """
    own = wp_key(wp)
    plan.wp(own)
    s = spec.strip()
    if "->" in s and "#" in s:
        try:
            f = plan.flow(s)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        if f.source != own:
            raise ValueError(f"a dataset of {own} cannot deliver {f.id}: that flow leaves {f.source}")
        return DeliverySpec(source=f.source, target=f.target, flow_id=f.id)
    parts = re.split(r"\s*(?::|->|>)\s*", s)
    if len(parts) != 2:
        raise ValueError(f"--delivers {spec!r}: write SOURCE:TARGET, e.g. {own}:WP5")
    src, dst = wp_key(parts[0]), wp_key(parts[1])
    if src != own:
        raise ValueError(f"--delivers {spec!r}: a dataset of {own} can only deliver flows leaving {own}")
    try:
        plan.wp(dst)
    except KeyError as exc:
        raise ValueError(f"--delivers {spec!r}: {exc.args[0]}") from None
    candidates = plan.flows_between(src, dst)
    if not candidates:
        return DeliverySpec(source=src, target=dst, flow_id=None)
    kw = list(keywords)
    if kw and len(candidates) > 1:
        ranked = [f for f in suggest_flows(plan, src, kw) if f.target == dst]
        if ranked:
            return DeliverySpec(source=src, target=dst, flow_id=ranked[0].id)
    return DeliverySpec(source=src, target=dst, flow_id=candidates[0].id)


def deliveries_for_deposit(
    plan: Plan,
    wp: str | int,
    delivers: Iterable[str],
    *,
    dataset_pid: str,
    size_bytes: int,
    delivered_at: datetime,
    keywords: Iterable[str] = (),
) -> list[FlowDelivery]:
    """What `deposit --wp WP2 --delivers WP2:WP5 [--delivers ...]` records; ValueError names a bad spec.

    With no --delivers the hub can offer `suggest_flows(plan, wp, keywords)` to the depositor instead.
    """
    kw = list(keywords)
    out = []
    for spec in delivers:
        d = resolve_delivers(plan, wp, spec, kw)
        out.append(
            FlowDelivery(
                dataset_pid=dataset_pid,
                source=d.source,
                target=d.target,
                flow_id=d.flow_id,
                bytes=size_bytes,
                delivered_at=delivered_at,
            )
        )
    return out


REQUIREMENT_TEXT = {
    "battinfo_keyword": "a BattINFO keyword",
    "method": "the method used to generate the data",
    "protocol": "the protocol / standard operating procedure",
    "fidelity": "the data fidelity",
    "provenance": "provenance information",
    "license": "a license",
    "open_format_or_software": "an open format, or the software (name and version) needed to read it",
}


def normalise_format(fmt: str) -> str:
    """'.CSV', 'csv', 'text/csv' -> 'csv'; 'application/x-hdf5' -> 'hdf5'."""
    f = fmt.strip().lower()
    if "/" in f:
        f = f.split("/", 1)[1].split(";")[0].removeprefix("x-").removeprefix("vnd.")
    return f.lstrip(".")


class DatasetFinding(BaseModel):
    pid: str
    title: str
    missing: list[str]

    def messages(self) -> list[str]:
        return [REQUIREMENT_TEXT[m] for m in self.missing]


class WpCompliance(BaseModel):
    wp: str
    datasets: int
    complete: int
    findings: list[DatasetFinding]


def compliance(plan: Plan, datasets: list[DatasetFacts]) -> list[WpCompliance]:
    """Per WP: datasets missing what the plan's FAIR section requires (only incomplete ones are listed)."""
    open_fmts = {normalise_format(f) for f in plan.fair.open_formats}
    checks = {
        "battinfo_keyword": lambda d: bool(d.battinfo_keywords),
        "method": lambda d: bool(d.method),
        "protocol": lambda d: bool(d.protocol),
        "fidelity": lambda d: bool(d.fidelity),
        "provenance": lambda d: bool(d.provenance),
        "license": lambda d: bool(d.license),
        "open_format_or_software": lambda d: (
            bool(d.software) or any(normalise_format(f) in open_fmts for f in d.formats)
        ),
    }
    by_wp: dict[str, list[DatasetFacts]] = {w.key: [] for w in plan.work_packages}
    for d in datasets:
        by_wp.setdefault(wp_key(d.wp), []).append(d)
    out = []
    for wp, items in by_wp.items():
        findings = []
        for d in items:
            missing = [r for r in plan.fair.required_metadata if not checks[r](d)]
            if missing:
                findings.append(DatasetFinding(pid=d.pid, title=d.title, missing=missing))
        out.append(
            WpCompliance(wp=wp, datasets=len(items), complete=len(items) - len(findings), findings=findings)
        )
    return out
