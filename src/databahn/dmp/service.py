"""DmpService: the DMP engine wired to the hub's database and access policy.

The engine (`databahn.dmp.*`) is pure; this layer stores plan and document versions, records the
flows a deposit declares, and builds `LiveState` from the database *through the access policy* for
the principal asking, so every number, list and diagram shows only what that viewer may see. Only
published versions count as deliveries; drafts never do, not even for their owner.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from databahn.db.models import Dataset, Version
from databahn.dmp.document import diff_documents, render_document_html, render_document_pdf
from databahn.dmp.highway import render_highway_svg, render_wp_svg
from databahn.dmp.loader import PlanError, default_plan_text, parse_plan
from databahn.dmp.madmp import MadmpError, export_madmp, import_madmp, validation_errors
from databahn.dmp.model import Flow, Plan, wp_key
from databahn.dmp.store import DmpDocument, DmpFlowDeclaration, DmpPlanVersion
from databahn.dmp.tracking import (
    DatasetFacts,
    FlowDelivery,
    FlowStatus,
    LiveState,
    TrackingReport,
    WpCompliance,
    compliance,
    resolve_delivers,
    suggest_flows,
    track,
)
from databahn.errors import FieldError, Forbidden, InvalidInput, NotFound
from databahn.services.policy import Action, Principal, can, readable

if TYPE_CHECKING:
    from databahn.domain.records import VersionRecord
    from databahn.services.hub import Hub

#: relations that say where a dataset came from (counts as provenance for the compliance check)
_PROVENANCE_RELATIONS = {"IsDerivedFrom", "IsNewVersionOf", "IsSupplementTo", "IsPartOf", "IsCompiledBy"}
_ONTOLOGY_HINTS = ("emmo", "battinfo", "w3id.org/emmo")


@dataclass(frozen=True)
class PlanVersionInfo:
    number: int
    source: str
    acronym: str
    work_packages: int
    flows: int
    loaded_at: datetime | None  # None: the shipped plan, not stored yet (nothing refers to it so far)
    loaded_by: str | None
    current: bool


@dataclass(frozen=True)
class DocumentInfo:
    number: int
    plan_number: int
    audience: str
    generated_at: datetime
    generated_by: str | None


@dataclass(frozen=True)
class FlowView:
    source: str
    target: str
    planned: list[FlowStatus]
    datasets: list[VersionRecord]


def _is_battinfo(term: str) -> bool:
    t = term.strip().lower()
    return t.startswith(("http://", "https://")) and any(h in t for h in _ONTOLOGY_HINTS)


def _ext(key: str, media_type: str | None) -> str | None:
    name = key.rsplit("/", 1)[-1]
    if "." in name:
        return name.rsplit(".", 1)[1].lower()
    return media_type


def _suggest(plan: Plan, wp: str, words: list[str]) -> list[Flow]:
    """Planned outflows a dataset likely delivers: by its own words, then by the WP data type it
    resembles most (a "Galvanostatic cycling" dataset is "Electrochemical data" in WP6's table)."""
    direct = suggest_flows(plan, wp, words)
    mine = {w for text in words for w in re.findall(r"[a-z0-9][a-z0-9+\-/]{1,}", text.lower()) if len(w) > 2}
    best, score = None, 0
    for row in plan.wp(wp).data_types:
        overlap = len(mine & row.keywords())
        if row.datatype and overlap > score:
            best, score = row.datatype, overlap
    by_type = suggest_flows(plan, wp, best) if best else []
    return list({f.id: f for f in [*direct, *by_type]}.values())


def _flow_in(plan: Plan, d: DmpFlowDeclaration) -> str | None:
    """The planned flow a declaration delivers in `plan`: its own id if that plan has it for the same
    pair, else the pair's first planned flow, else None (unplanned)."""
    ids = {f.id: f for f in plan.flows_between(d.source, d.target)}
    if d.flow_id in ids:
        return d.flow_id
    return next(iter(ids), None)


def parse_delivers(value: Any) -> list[str]:
    """The `delivers` option as a list of specs: a string ("WP2:WP5, WP2:WP6") or a list of strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise InvalidInput(
            "delivers must be a flow like 'WP2:WP5' or a list of them",
            errors=[FieldError("options.delivers", "write SOURCE:TARGET, e.g. WP2:WP5")],
        )
    specs = [s.strip() for x in items for s in x.split(",") if s.strip()]
    if not specs:
        raise InvalidInput("delivers is empty; write SOURCE:TARGET, e.g. WP2:WP5")
    return specs


_DEFAULT: list[Plan] = []
DEFAULT_SOURCE = "bigmap.yaml (shipped with Databahn)"


def _default_plan() -> Plan:
    """The shipped plan, parsed once per process (it is immutable)."""
    if not _DEFAULT:
        _DEFAULT.append(parse_plan(default_plan_text(), "bigmap.yaml"))
    return _DEFAULT[0]


class DmpService:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cache: dict[int, Plan] = {}
        self._lock = threading.Lock()

    # -- who may manage the plan --------------------------------------------------------------
    def is_manager(self, principal: Principal) -> bool:
        """Admins, and people with the access plugin's "data_manager" role (when it is installed)."""
        if principal.is_admin:
            return True
        if principal.anonymous:
            return False
        access = self.hub.ext.get("access")
        has_role = getattr(access, "has_role", None)
        if has_role is None:
            return False
        with self.hub.read() as s:
            return bool(has_role(s, principal, "data_manager"))

    def _require_manager(self, principal: Principal, what: str) -> None:
        if self.is_manager(principal):
            return
        if principal.anonymous:
            from databahn.errors import Unauthenticated

            raise Unauthenticated(f"sign in to {what}")
        raise Forbidden(f"only an administrator or data manager may {what}")

    # -- plans ----------------------------------------------------------------------------------
    def _plan_from_row(self, row: DmpPlanVersion) -> Plan:
        with self._lock:
            plan = self._cache.get(row.number)
            if plan is None:
                plan = self._cache[row.number] = Plan.model_validate(row.plan)
            return plan

    def _ensure_default(self, s: Session) -> None:
        """Store the shipped BIG-MAP plan as version 1 (inside the caller's write transaction)."""
        row = {
            "number": 1,
            "source": DEFAULT_SOURCE,
            "plan": _default_plan().model_dump(mode="json"),
            "loaded_at": datetime.now(UTC),
            "loaded_by_id": None,
        }
        s.execute(self.hub.insert_ignore(DmpPlanVersion.__table__), [row])

    def current(self, s: Session | None = None, *, writing: bool = False) -> tuple[int, Plan]:
        """The current plan (the newest loaded version) and its number.

        Until a plan is stored, reads answer with the shipped plan as version 1 without writing;
        `writing` (s is a write transaction that records something against the plan) stores it."""
        if s is None:
            with self.hub.read() as s2:
                return self.current(s2)
        row = s.scalar(select(DmpPlanVersion).order_by(DmpPlanVersion.number.desc()).limit(1))
        if row is None:
            if writing:
                self._ensure_default(s)
            return 1, _default_plan()
        return row.number, self._plan_from_row(row)

    def plan(self, number: int | None = None) -> tuple[int, Plan]:
        if number is None:
            return self.current()
        with self.hub.read() as s:
            row = s.scalar(select(DmpPlanVersion).where(DmpPlanVersion.number == number))
            if row is None:
                if number == 1 and s.scalar(select(func.count()).select_from(DmpPlanVersion)) == 0:
                    return 1, _default_plan()
                raise NotFound(f"no plan version {number}; see `databahn dmp show` or /api/dmp/plans")
            return row.number, self._plan_from_row(row)

    def plan_versions(self) -> list[PlanVersionInfo]:
        from databahn.db.models import User

        with self.hub.read() as s:
            rows = s.execute(
                select(DmpPlanVersion, User.username)
                .outerjoin(User, User.id == DmpPlanVersion.loaded_by_id)
                .order_by(DmpPlanVersion.number)
            ).all()
        if not rows:
            plan = _default_plan()
            return [
                PlanVersionInfo(
                    1,
                    DEFAULT_SOURCE,
                    plan.project.acronym,
                    len(plan.work_packages),
                    len(plan.flows),
                    None,
                    None,
                    True,
                )
            ]
        newest = rows[-1][0].number
        out = []
        for row, username in rows:
            plan = self._plan_from_row(row)
            out.append(
                PlanVersionInfo(
                    number=row.number,
                    source=row.source,
                    acronym=plan.project.acronym,
                    work_packages=len(plan.work_packages),
                    flows=len(plan.flows),
                    loaded_at=row.loaded_at,
                    loaded_by=username,
                    current=row.number == newest,
                )
            )
        return out

    @staticmethod
    def parse(text: str, source: str) -> Plan:
        """A plan from YAML/JSON text or a maDMP document; InvalidInput with the line of each problem."""
        data: Any = None
        stripped = text.lstrip()
        if stripped.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None  # parse_plan reports it with its line
        if isinstance(data, dict) and "dmp" in data and "work_packages" not in data:
            try:
                return import_madmp(data)
            except MadmpError as exc:
                raise InvalidInput(
                    f"{source} is not a valid maDMP file: " + "; ".join(exc.problems[:5]),
                    errors=[FieldError("madmp", p) for p in exc.problems],
                ) from None
        try:
            return parse_plan(text, source)
        except PlanError as exc:
            raise InvalidInput(
                f"{source} was refused: " + "; ".join(str(p) for p in exc.problems[:5]),
                errors=[FieldError(f"line {p.line}" if p.line else "plan", p.message) for p in exc.problems],
            ) from None

    def load(self, principal: Principal, text: str | bytes, source: str = "plan") -> PlanVersionInfo:
        """Make a plan file the current plan (a new version; the old ones stay)."""
        self._require_manager(principal, "load a plan")
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"{source} is not UTF-8 text; save the plan as UTF-8") from None
        plan = self.parse(text, source)
        for _attempt in range(3):
            try:
                with self.hub.write() as s:
                    self.current(s, writing=True)  # the shipped plan stays version 1
                    number = (s.scalar(select(func.max(DmpPlanVersion.number))) or 0) + 1
                    s.add(
                        DmpPlanVersion(
                            number=number,
                            source=source[:300],
                            plan=plan.model_dump(mode="json"),
                            loaded_by_id=principal.user_id,
                        )
                    )
                    self.hub.datasets.audit(
                        s, principal, "dmp.plan_load", f"dmp-plan-{number}", source=source[:300]
                    )
                break
            except IntegrityError:  # another process loaded a plan at the same moment: take the next number
                continue
        return next(v for v in self.plan_versions() if v.number == number)

    # -- deposits -------------------------------------------------------------------------------
    def declare(self, s: Session, version: Version, value: Any) -> list[DmpFlowDeclaration]:
        """Record `--delivers` for a version (inside the deposit transaction); clear errors if wrong."""
        specs = parse_delivers(value)
        wp = (version.meta or {}).get("work_package")
        if not wp:
            raise InvalidInput(
                "--delivers needs the dataset's work package: pass --wp WP2 (metadata.work_package)",
                errors=[FieldError("metadata.work_package", "required when the dataset declares flows")],
            )
        _number, plan = self.current(s, writing=True)
        try:
            plan.wp(wp)
        except KeyError as exc:
            raise InvalidInput(
                f"work package {wp} is not in the current plan ({plan.project.acronym}): {exc.args[0]}",
                errors=[FieldError("metadata.work_package", str(exc.args[0]))],
            ) from None
        keywords = [*(version.meta or {}).get("keywords", []), str((version.meta or {}).get("title", ""))]
        rows: dict[tuple[str, str], DmpFlowDeclaration] = {}
        for spec in specs:
            try:
                d = resolve_delivers(plan, wp, spec, keywords)
            except ValueError as exc:
                d = self._resolve_for_new_version(plan, version, spec, keywords)
                if d is None:
                    raise InvalidInput(
                        f"--delivers {spec!r} was refused: {exc}",
                        errors=[FieldError("options.delivers", str(exc))],
                    ) from None
            rows[(d.source, d.target)] = DmpFlowDeclaration(
                version_id=version.id, source=d.source, target=d.target, flow_id=d.flow_id, spec=spec[:80]
            )
        existing = s.scalars(select(DmpFlowDeclaration).where(DmpFlowDeclaration.version_id == version.id))
        for old in existing:
            s.delete(old)
        s.flush()
        s.add_all(rows.values())
        s.flush()
        return list(rows.values())

    @staticmethod
    def _resolve_for_new_version(plan: Plan, version: Version, spec: str, keywords: list[str]) -> Any:
        """A new version's metadata is set after its options (`deposit --new-version-of X --wp WP3
        --delivers WP3:WP5`), so its flows may leave the WP it is about to get; publication checks it."""
        if version.number == 1:
            return None
        m = re.match(r"\s*(WP\s*\d+)", spec, re.IGNORECASE)
        if not m:
            return None
        try:
            return resolve_delivers(plan, m.group(1), spec, keywords)
        except (KeyError, ValueError):
            return None

    def publish_problems(self, s: Session, version: Version) -> list[FieldError]:
        """Declared flows (own or inherited) must leave the dataset's work package when it is published."""
        wp = (version.meta or {}).get("work_package")
        decls = self._declarations(s, [version]).get(version.id, [])
        out = []
        for d in decls:
            if not wp or wp_key(wp) != d.source:
                how = "declared" if d.version_id == version.id else "inherited from an earlier version,"
                out.append(
                    FieldError(
                        "options.delivers",
                        f"the flow {d.source}:{d.target} ({how}) leaves {d.source}, but the dataset's work "
                        f"package is now {wp or 'unset'}; set --wp {d.source} or declare its flows again "
                        f"with a new version (--delivers)",
                    )
                )
        return out

    def _declarations(self, s: Session, versions: list[Version]) -> dict[int, list[DmpFlowDeclaration]]:
        """Declared flows per version; a version without its own inherits its dataset's earlier ones."""
        if not versions:
            return {}
        dataset_ids = {v.dataset_id for v in versions}
        rows = s.execute(
            select(DmpFlowDeclaration, Version.dataset_id, Version.number)
            .join(Version, Version.id == DmpFlowDeclaration.version_id)
            .where(Version.dataset_id.in_(dataset_ids))
            .order_by(DmpFlowDeclaration.id)
        ).all()
        by_dataset: dict[int, dict[int, list[DmpFlowDeclaration]]] = {}
        for decl, dataset_id, number in rows:
            by_dataset.setdefault(dataset_id, {}).setdefault(number, []).append(decl)
        out: dict[int, list[DmpFlowDeclaration]] = {}
        for v in versions:
            numbers = [n for n in by_dataset.get(v.dataset_id, {}) if n <= v.number]
            out[v.id] = by_dataset[v.dataset_id][max(numbers)] if numbers else []
        return out

    def record_extras(self, s: Session, version: Version, principal: Principal) -> dict[str, Any]:
        """Declared and suggested flows for a version the reader may see (the API record's `extras`)."""
        if not can(principal, Action.read_metadata, version):
            return {}
        decls = self._declarations(s, [version]).get(version.id, [])
        wp = (version.meta or {}).get("work_package")
        suggested: list[dict[str, Any]] = []
        if wp and not decls:
            _n, plan = self.current(s)
            words = [*(version.meta or {}).get("keywords", []), str((version.meta or {}).get("title", ""))]
            method = (version.meta or {}).get("method") or {}
            if isinstance(method, dict) and method.get("name"):
                words.append(str(method["name"]))
            try:
                flows = _suggest(plan, wp, words)[:3]
            except (KeyError, ValueError):
                flows = []
            suggested = [
                {"flow_id": f.id, "source": f.source, "target": f.target, "what": f.what} for f in flows
            ]
        if not decls and not suggested:
            return {}
        return {
            "dmp": {
                "delivers": [
                    {
                        "source": d.source,
                        "target": d.target,
                        "flow_id": d.flow_id,
                        "planned": d.flow_id is not None,
                    }
                    for d in decls
                ],
                "suggested_flows": suggested,
            }
        }

    # -- live state -----------------------------------------------------------------------------
    def live_state(self, principal: Principal, plan: Plan | None = None) -> LiveState:
        """What `principal` may see, as the DMP engine needs it: published versions only.

        Declarations are matched against `plan` (default: the current one), so loading a new plan
        re-tracks what was delivered under an older one by its WP pair."""
        if plan is None:
            plan = self.current()[1]
        with self.hub.read() as s:
            versions = list(
                s.scalars(
                    select(Version)
                    .join(Dataset, Dataset.id == Version.dataset_id)
                    .where(Version.state == "published", readable(principal))
                    .order_by(Version.dataset_id, Version.number)
                    .options(selectinload(Version.files), selectinload(Version.dataset))
                )
            )
            decls = self._declarations(s, versions)
        seen_blobs: dict[int, set[str]] = {}
        latest: dict[int, Version] = {}
        deliveries: list[FlowDelivery] = []
        for v in versions:
            files_ok = can(principal, Action.read_files, v)
            blobs = seen_blobs.setdefault(v.dataset_id, set())
            new_bytes = 0
            for f in v.files:
                key = f.sha256 or f.external_url or f.key
                if key not in blobs:
                    blobs.add(key)
                    new_bytes += f.size or 0
            latest[v.dataset_id] = v
            for d in decls.get(v.id, []):
                deliveries.append(
                    FlowDelivery(
                        dataset_pid=v.dataset.pid,
                        source=d.source,
                        target=d.target,
                        flow_id=_flow_in(plan, d),
                        bytes=new_bytes if files_ok else 0,
                        delivered_at=v.published_at or v.updated,
                    )
                )
        datasets = [f for f in (self._facts(v, principal) for v in latest.values()) if f is not None]
        return LiveState(datasets=datasets, deliveries=deliveries)

    def _facts(self, v: Version, principal: Principal) -> DatasetFacts | None:
        meta = v.meta or {}
        wp = meta.get("work_package")
        if not wp:
            return None  # not part of any work package: the plan has nothing to say about it
        files_ok = can(principal, Action.read_files, v)
        raw_method = meta.get("method")
        method: dict[str, Any] = raw_method if isinstance(raw_method, dict) else {}
        keywords = [str(k) for k in meta.get("keywords", [])]
        battinfo = [k for k in keywords if _is_battinfo(k)]
        if meta.get("interface_aspect"):
            battinfo.append(str(meta["interface_aspect"]))
        related = meta.get("related_identifiers") or []
        custom = meta.get("custom") or {}
        provenance = None
        if any(r.get("relation") in _PROVENANCE_RELATIONS for r in related if isinstance(r, dict)):
            provenance = "related identifiers"
        elif method.get("instrument"):
            provenance = f"instrument {method['instrument']}"
        elif custom.get("provenance"):
            provenance = str(custom["provenance"])
        software = meta.get("software") or []
        sw = software[0] if software and isinstance(software[0], dict) else None
        formats = sorted({e for f in v.files if (e := _ext(f.key, f.media_type))}) if files_ok else []
        return DatasetFacts(
            pid=v.dataset.pid,
            title=str(meta.get("title", "")),
            wp=wp,
            datatype=str(custom["datatype"]) if custom.get("datatype") else None,
            keywords=keywords,
            battinfo_keywords=battinfo,
            method=method.get("name"),
            protocol=method.get("protocol"),
            fidelity=meta.get("fidelity"),
            provenance=provenance,
            license=meta.get("license"),
            formats=formats,
            software=" ".join(x for x in (sw.get("name"), sw.get("version")) if x) if sw else None,
            openness=v.access,
            embargo_until=v.embargo_until,
            repository=self.hub.settings.hub_name,
            bytes=sum(f.size or 0 for f in v.files) if files_ok else 0,
            created=v.published_at,
        )

    # -- reports --------------------------------------------------------------------------------
    def tracking(self, principal: Principal) -> tuple[Plan, LiveState, TrackingReport]:
        _n, plan = self.current()
        live = self.live_state(principal, plan)
        return plan, live, track(plan, live)

    def compliance(self, principal: Principal) -> list[WpCompliance]:
        _n, plan = self.current()
        return compliance(plan, self.live_state(principal, plan).datasets)

    def highway_svg(self, principal: Principal, *, link: str | None = None) -> str:
        plan, _live, report = self.tracking(principal)
        return render_highway_svg(plan, report, link=link)

    def wp_svg(self, principal: Principal, wp: str, *, link: str | None = None) -> str:
        plan, _live, report = self.tracking(principal)
        try:
            return render_wp_svg(plan, wp, report, link=link)
        except (KeyError, ValueError) as exc:
            raise NotFound(str(exc.args[0])) from None

    def flow(self, principal: Principal, source: str, target: str) -> FlowView:
        """A WP pair as `principal` may see it: planned flows with status, and the delivering datasets."""
        try:
            src, dst = wp_key(source), wp_key(target)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        plan, _live, report = self.tracking(principal)
        for key in (src, dst):
            try:
                plan.wp(key)
            except KeyError as exc:
                raise NotFound(str(exc.args[0])) from None
        records = []
        for pid in report.datasets_between(src, dst):
            try:
                records.append(self.hub.datasets.get(principal, pid))
            except NotFound:  # vanished between the two reads
                continue
        statuses = [st for st in report.flows if st.flow.source == src and st.flow.target == dst]
        return FlowView(src, dst, statuses, records)

    def madmp(self, principal: Principal, *, contact_email: str | None = None) -> dict[str, Any]:
        _n, plan = self.current()
        try:
            data = export_madmp(plan, self.live_state(principal, plan), contact_email=contact_email)
        except MadmpError as exc:
            raise InvalidInput("; ".join(exc.problems)) from None
        problems = validation_errors(data)
        if problems:  # pragma: no cover - the exporter is tested against the schema
            raise InvalidInput("the export is not valid maDMP 1.2: " + "; ".join(problems[:5]))
        return data

    # -- documents ------------------------------------------------------------------------------
    def generate_document(self, principal: Principal, *, public: bool = False) -> DocumentInfo:
        """Render the DMP from the plan and the live state and keep it as the next version.

        `public` renders what anyone may see (the version is then readable by everyone); otherwise
        the caller's view is used and only managers may read the kept version."""
        self._require_manager(principal, "generate a DMP document version")
        viewer = Principal() if public else principal
        number_plan, plan = self.current()
        live = self.live_state(viewer, plan)
        now = datetime.now(UTC)
        for _attempt in range(3):
            try:
                with self.hub.write() as s:
                    self.current(s, writing=True)  # the plan a kept document refers to is kept too
                    number = (s.scalar(select(func.max(DmpDocument.number))) or 0) + 1
                    html = render_document_html(plan, live, now, version=number)
                    s.add(
                        DmpDocument(
                            number=number,
                            plan_number=number_plan,
                            format="html",
                            audience="public" if public else "internal",
                            html=html,
                            generated_at=now,
                            generated_by_id=principal.user_id,
                        )
                    )
                    self.hub.datasets.audit(s, principal, "dmp.document", f"dmp-document-{number}")
                break
            except IntegrityError:
                continue
        return DocumentInfo(number, number_plan, "public" if public else "internal", now, principal.username)

    def _visible_documents(self, principal: Principal) -> Any:
        stmt = select(DmpDocument)
        if not self.is_manager(principal):
            stmt = stmt.where(DmpDocument.audience == "public")
        return stmt

    def documents(self, principal: Principal) -> list[DocumentInfo]:
        from databahn.db.models import User

        stmt = self._visible_documents(principal).order_by(DmpDocument.number)
        with self.hub.read() as s:
            users = {uid: name for uid, name in s.execute(select(User.id, User.username))}
            return [
                DocumentInfo(
                    d.number, d.plan_number, d.audience, d.generated_at, users.get(d.generated_by_id)
                )
                for d in s.scalars(stmt)
            ]

    def document_html(self, principal: Principal, number: int) -> str:
        with self.hub.read() as s:
            doc = s.scalar(self._visible_documents(principal).where(DmpDocument.number == number))
            if doc is None:
                known = ", ".join(str(d.number) for d in self.documents(principal)) or "none yet"
                raise NotFound(f"no DMP document version {number} (versions you may see: {known})")
            return doc.html

    def document_pdf(self, principal: Principal, number: int) -> bytes:
        """The kept version as PDF; rendered once and cached (a kept version never changes)."""
        import hashlib

        html = self.document_html(principal, number)
        digest = hashlib.sha256(html.encode("utf-8")).hexdigest()[:16]
        cache = self.hub.home / "cache" / "dmp" / f"document-{number}-{digest}.pdf"
        if cache.is_file():
            return cache.read_bytes()
        try:
            pdf = render_document_pdf(html)
        except RuntimeError as exc:
            from databahn.errors import DatabahnError

            raise DatabahnError(str(exc)) from None
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_bytes(pdf)
        tmp.replace(cache)
        return pdf

    def diff(self, principal: Principal, a: int, b: int) -> str:
        return diff_documents(
            self.document_html(principal, a), self.document_html(principal, b), f"version {a}", f"version {b}"
        )
