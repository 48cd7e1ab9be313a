"""The hub's provenance service: the lineage graph in the database, read through the access policy.

Nodes and edges live in two tables (see `models.py`); lineage walks them with one recursive SQL
query (`WITH RECURSIVE`, on SQLite and PostgreSQL alike), then loads only the nodes it reached into
a :class:`ProvGraph`, which does the checking (link table, cycles, one generating activity), the
redaction and the exports. Every dataset or model node is bound to a hub version, and a viewer who
may not read that version sees a "restricted dataset" placeholder, never its PID or metadata.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Integer, func, literal, or_, select
from sqlalchemy.orm import Session

from databahn.db.models import Dataset, User, Version
from databahn.errors import InvalidInput, NotFound
from databahn.provenance.graph import ProvGraph, opaque_id
from databahn.provenance.inputs import (
    activity_type,
    as_list,
    parse_parameters,
    parse_software,
    parse_steps,
    refuse,
)
from databahn.provenance.model import (
    DERIVATION_LINKS,
    NODE_ADAPTER,
    ActivityNode,
    ActivityType,
    AgentNode,
    AgentType,
    DatasetNode,
    LinkType,
    ModelCard,
    ModelNode,
    NodeKind,
    Parameter,
    ProvenanceError,
    ProvNode,
    RestrictedNode,
    SampleNode,
    SampleType,
    Step,
)
from databahn.provenance.models import ProvEdgeRow, ProvNodeRow
from databahn.services import ids
from databahn.services.policy import Action, Principal, can, readable
from databahn.services.users import require_user

if TYPE_CHECKING:
    from databahn.services.hub import Hub

#: Upper bound for "any depth" walks (a guard, far beyond any real lineage).
MAX_DEPTH = 10_000
#: Agent links shown with the nodes they touch (who ran an activity, who supplied a sample).
AGENT_LINKS = (LinkType.ASSOCIATED_WITH.value, LinkType.ATTRIBUTED_TO.value)
_DERIVATION = tuple(sorted(t.value for t in DERIVATION_LINKS))


def _new_key(prefix: str) -> str:
    chars = "".join(secrets.choice(ids._CROCKFORD) for _ in range(8))
    return f"{prefix}-{chars[:4]}-{chars[4:]}"


@dataclass
class Loaded:
    """A piece of the stored graph: rows by database id and the ProvGraph built from them."""

    graph: ProvGraph
    rows: dict[int, ProvNodeRow]
    versions: dict[int, Version] = field(default_factory=dict)

    def key(self, row_id: int) -> str:
        return self.rows[row_id].key


class ProvenanceService:
    """`hub.ext["provenance"]`: record, query and export lineage; identity first, policy inside."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @property
    def _salt(self) -> bytes:
        return self.hub.secret_key.encode()

    # ------------------------------------------------------------------ nodes
    def _row(self, s: Session, key: str) -> ProvNodeRow | None:
        return s.scalar(select(ProvNodeRow).where(ProvNodeRow.key == key))

    @staticmethod
    def _columns(node: ProvNode) -> dict[str, Any]:
        """The row columns of a node; `attributes` holds the whole validated node except its id."""
        data = NODE_ADAPTER.dump_python(node, mode="json")
        data.pop("id", None)
        subtype = next(
            (
                getattr(node, a).value
                for a in ("sample_type", "activity_type", "agent_type")
                if hasattr(node, a)
            ),
            None,
        )
        return {
            "key": node.id,
            "kind": node.kind.value,
            "subtype": subtype,
            "label": node.label[:1000],
            "attributes": data,
        }

    def _insert(self, s: Session, node: ProvNode, **columns: Any) -> ProvNodeRow:
        """A node with a fresh random key (a sample, an activity) or imported under its own id."""
        row = ProvNodeRow(**self._columns(node), **columns)
        s.add(row)
        s.flush()
        return row

    def _insert_shared(self, s: Session, node: ProvNode, **columns: Any) -> ProvNodeRow:
        """Insert-or-ignore, then read back: nodes that concurrent requests may both create (a
        version's node, an agent) end up as one row instead of a unique-key error."""
        values = {**self._columns(node), "created": dt.datetime.now(dt.UTC), **columns}
        s.execute(self.hub.insert_ignore(ProvNodeRow).values(**values))
        row = self._row(s, node.id)
        assert row is not None
        return row

    def _version_node(self, s: Session, version: Version) -> ProvNodeRow:
        """The node of a hub version (a dataset, or a model when resource_type is Model), made on demand."""
        row = s.scalar(select(ProvNodeRow).where(ProvNodeRow.version_id == version.id))
        if row is not None:
            return row
        title = str((version.meta or {}).get("title", ""))[:1000]
        node: ProvNode
        if (version.meta or {}).get("resource_type") == "Model":
            node = ModelNode(id=version.pid, label=title)
        else:
            node = DatasetNode(id=version.pid, label=title)
        return self._insert_shared(
            s, node, version_id=version.id, identifier=version.pid, created_by=version.created_by_id
        )

    def _agent(
        self,
        s: Session,
        agent_type: AgentType,
        name: str,
        version: str | None = None,
        commit: str | None = None,
        *,
        handle: str | None = None,
    ) -> ProvNodeRow:
        """One row per distinct (type, handle or name, version, commit): agents are shared, never
        duplicated, even when two requests record the same software at once (insert-or-ignore)."""
        ident = (handle or name).strip()
        fingerprint = "\x1f".join([agent_type.value, ident.lower(), version or "", commit or ""])
        key = "agt-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        row = self._row(s, key)
        if row is not None:
            return row
        try:
            node = AgentNode(
                id=key, agent_type=agent_type, label=name.strip(), version=version, commit=commit
            )
        except ValidationError as exc:
            raise refuse(exc, "agent: ") from None
        return self._insert_shared(s, node, identifier=ident[:500])

    def _person(self, s: Session, principal: Principal) -> ProvNodeRow:
        """The signed-in person as an agent, labelled with their name, keyed by their account."""
        user = s.get(User, principal.user_id) if principal.user_id is not None else None
        username = user.username if user else (principal.username or "unknown")
        label = (user.name or user.username) if user else username
        return self._agent(s, AgentType.PERSON, label, handle=f"user:{username}")

    def _resolve(self, s: Session, principal: Principal, ident: str, *, output: bool = False) -> ProvNodeRow:
        """A node named by a hub PID/identifier (policy-checked) or a node key (sample, activity, AiiDA)."""
        text = str(ident).strip()
        if not text:
            raise InvalidInput("an empty identifier was given for an input or output")
        row = self._row(s, text)
        if row is not None and row.version_id is None:
            mine = row.created_by is None or row.created_by == principal.user_id or principal.is_admin
            if output and row.kind == NodeKind.SAMPLE.value and not mine:
                raise NotFound(f"sample {text!r} is not yours: you may not record how it was made")
            return row
        try:
            version = self.hub.datasets._load_version(s, text, principal)
        except NotFound:
            raise NotFound(
                f"unknown identifier {text!r}: no dataset, sample or provenance node has it (or you may not "
                "see it); check the PID with `databahn get` or `databahn sample add`"
            ) from None
        if output and not can(principal, Action.manage, version):
            raise NotFound(f"dataset {text!r} is not yours: you may not record how it was made")
        return self._version_node(s, version)

    # ------------------------------------------------------------------ edges
    def _walk(
        self, s: Session, start: Iterable[int], forward: bool, depth: int | None, links: Sequence[str]
    ) -> dict[int, int]:
        """{node id: distance} reached from `start` over `links`, by one recursive SQL query."""
        starts = list(start)
        if not starts:
            return {}
        e = ProvEdgeRow.__table__
        seed = select(ProvNodeRow.id.label("node"), literal(0, Integer).label("dist")).where(
            ProvNodeRow.id.in_(starts)
        )
        walk = seed.cte("walk", recursive=True)
        nxt, cur = (e.c.target_id, e.c.source_id) if forward else (e.c.source_id, e.c.target_id)
        step = (
            select(nxt, walk.c.dist + 1)
            .join(walk, cur == walk.c.node)
            .where(e.c.link_type.in_(list(links)), walk.c.dist < (MAX_DEPTH if depth is None else depth))
        )
        walk = walk.union(step)
        rows = s.execute(select(walk.c.node, func.min(walk.c.dist)).group_by(walk.c.node))
        return {int(n): int(d) for n, d in rows}

    def _load(self, s: Session, node_ids: Iterable[int], *, with_agents: bool = True) -> Loaded:
        """Rows, their edges among each other (plus agents of activities) as a ProvGraph."""
        wanted = set(node_ids)
        e = ProvEdgeRow
        if with_agents and wanted:
            wanted |= set(
                s.scalars(select(e.source_id).where(e.target_id.in_(wanted), e.link_type.in_(AGENT_LINKS)))
            )
        rows = (
            {r.id: r for r in s.scalars(select(ProvNodeRow).where(ProvNodeRow.id.in_(wanted)))}
            if wanted
            else {}
        )
        version_ids = [r.version_id for r in rows.values() if r.version_id is not None]
        versions = (
            {v.id: v for v in s.scalars(select(Version).where(Version.id.in_(version_ids)))}
            if version_ids
            else {}
        )
        graph = ProvGraph()
        for r in rows.values():
            data = {**r.attributes, "id": r.key}
            v = versions.get(r.version_id) if r.version_id is not None else None
            if v is not None:
                data["label"] = str((v.meta or {}).get("title") or r.label)[:1000]
                if v.version_label:
                    data["version"] = v.version_label
            graph.add_node(NODE_ADAPTER.validate_python(data))
        edges = (
            s.execute(
                select(e.source_id, e.link_type, e.target_id, e.label).where(
                    e.source_id.in_(rows), e.target_id.in_(rows)
                )
            ).all()
            if rows
            else []
        )
        graph.add_edges((rows[a].key, t, rows[b].key, lbl) for a, t, b, lbl in edges)
        return Loaded(graph=graph, rows=rows, versions=versions)

    def _link(
        self,
        s: Session,
        principal: Principal,
        edges: list[tuple[ProvNodeRow, LinkType, ProvNodeRow, str]],
    ) -> None:
        """Check new edges against the stored graph (link table, uniqueness, cycles), then store them.

        A refusal names the nodes involved (e.g. the cycle's path); those the principal may not see
        are named "a restricted dataset", so the message cannot leak their PIDs."""
        if not edges:
            return
        involved = {r.id for a, _, b, _ in edges for r in (a, b)}
        e = ProvEdgeRow
        neighbours = set(s.scalars(select(e.source_id).where(e.target_id.in_(involved)))) | set(
            s.scalars(select(e.target_id).where(e.source_id.in_(involved)))
        )
        below = self._walk(s, {b.id for _, _, b, _ in edges}, True, None, _DERIVATION)
        context = self._load(s, involved | neighbours | set(below), with_agents=False)
        try:
            context.graph.add_edges((a.key, t, b.key, lbl) for a, t, b, lbl in edges)
        except ProvenanceError as exc:
            text = str(exc)
            visible = self._visible(s, principal, context)
            for key in sorted(set(context.graph.nodes) - visible, key=len, reverse=True):
                text = text.replace(repr(key), "a restricted dataset").replace(key, "a restricted dataset")
            raise refuse(ProvenanceError(text), "refused: ") from None
        s.execute(
            self.hub.insert_ignore(ProvEdgeRow),
            [
                {"source_id": a.id, "target_id": b.id, "link_type": t.value, "label": lbl[:500]}
                for a, t, b, lbl in edges
            ],
        )

    # ------------------------------------------------------------------ access
    def _visible(self, s: Session, principal: Principal, loaded: Loaded) -> set[str]:
        """Keys the principal may see: version nodes through the policy, the rest as they are."""
        version_ids = [r.version_id for r in loaded.rows.values() if r.version_id is not None]
        ok: set[int] = set()
        if version_ids:
            ok = set(
                s.scalars(
                    select(Version.id)
                    .join(Dataset, Dataset.id == Version.dataset_id)
                    .where(Version.id.in_(version_ids), readable(principal))
                )
            )
        return {r.key for r in loaded.rows.values() if r.version_id is None or r.version_id in ok}

    def _redacted(self, s: Session, principal: Principal, loaded: Loaded) -> tuple[ProvGraph, dict[str, str]]:
        """The graph as the principal may see it, and the old-key -> shown-id mapping."""
        visible = self._visible(s, principal, loaded)
        from databahn.provenance.graph import redact

        graph = redact(loaded.graph, lambda k: k in visible, salt=self._salt)
        mapping = {k: (k if k in visible else opaque_id(k, self._salt)) for k in loaded.graph.nodes}
        return graph, mapping

    def _anchor(self, s: Session, principal: Principal, pid: str) -> tuple[Version, ProvNodeRow | None]:
        version = self.hub.datasets._load_version(s, pid, principal)
        return version, s.scalar(select(ProvNodeRow).where(ProvNodeRow.version_id == version.id))

    # ------------------------------------------------------------------ queries
    def neighbourhood(
        self, principal: Principal, pid: str, direction: str = "both", depth: int | None = None
    ) -> tuple[ProvGraph, str, dict[str, int]]:
        """(redacted graph, id of the anchor, {shown id: distance}) around a version."""
        if direction not in ("up", "down", "both"):
            raise InvalidInput(f"direction must be up, down or both, not {direction!r}")
        if depth is not None and not 0 <= depth <= MAX_DEPTH:
            raise InvalidInput(f"depth must be between 0 and {MAX_DEPTH} (or omitted for any depth)")
        with self.hub.read() as s:
            version, anchor = self._anchor(s, principal, pid)
            if anchor is None:
                title = str((version.meta or {}).get("title", ""))
                graph = ProvGraph()
                graph.add_node(DatasetNode(id=version.pid, label=title))
                return graph, version.pid, {version.pid: 0}
            dist: dict[int, int] = {anchor.id: 0}
            if direction in ("up", "both"):
                dist.update(self._walk(s, [anchor.id], False, depth, _DERIVATION))
            if direction in ("down", "both"):
                for n, d in self._walk(s, [anchor.id], True, depth, _DERIVATION).items():
                    dist.setdefault(n, d)
            loaded = self._load(s, dist)
            graph, mapping = self._redacted(s, principal, loaded)
            shown = {mapping[loaded.key(n)]: d for n, d in dist.items()}
            return graph, anchor.key, shown

    def lineage(
        self, principal: Principal, pid: str, direction: str = "both", depth: int | None = None
    ) -> dict[str, Any]:
        """Ancestors (up), descendants (down) or both, to `depth` links (None: any depth), redacted."""
        graph, root, dist = self.neighbourhood(principal, pid, direction, depth)
        nodes = []
        for node in graph:
            item = NODE_ADAPTER.dump_python(node, mode="json")
            item["distance"] = dist.get(node.id)
            item["label"] = node.display
            nodes.append(item)
        nodes.sort(key=lambda n: (n["distance"] is None, n["distance"] or 0, n["id"]))
        return {
            "root": root,
            "direction": direction,
            "depth": depth,
            "nodes": nodes,
            "edges": [e.model_dump(mode="json") for e in graph.edges],
        }

    def impact(self, principal: Principal, pid: str) -> dict[str, Any]:
        """Datasets and models derived, at any depth, from a version ("what did this raw file feed?")."""
        graph, root, dist = self.neighbourhood(principal, pid, "down", None)
        hits = []
        for node in graph:
            if node.id == root or node.kind not in (NodeKind.DATASET, NodeKind.MODEL):
                continue
            restricted = isinstance(node, RestrictedNode)
            hits.append(
                {
                    "id": node.id,
                    "kind": node.kind.value,
                    "label": node.display,
                    "distance": dist.get(node.id),
                    "restricted": restricted,
                }
            )
        hits.sort(key=lambda h: (h["distance"] or 0, h["id"]))
        return {"root": root, "derived": hits, "count": len(hits)}

    def graph_for_record(self, s: Session, version: Version, principal: Principal) -> dict[str, Any]:
        """`record.extras["provenance"]`: direct inputs/outputs (two links each way) and the other
        inputs and outputs of the activities involved, so a PROV export shows whole activities; redacted."""
        anchor = s.scalar(select(ProvNodeRow.id).where(ProvNodeRow.version_id == version.id))
        if anchor is None:
            return {}
        dist = {anchor: 0}
        dist.update(self._walk(s, [anchor], False, 2, _DERIVATION))
        for n, d in self._walk(s, [anchor], True, 2, _DERIVATION).items():
            dist.setdefault(n, d)
        e = ProvEdgeRow
        acts = set(
            s.scalars(
                select(ProvNodeRow.id).where(
                    ProvNodeRow.id.in_([n for n, d in dist.items() if d == 1]),
                    ProvNodeRow.kind.in_((NodeKind.ACTIVITY.value, NodeKind.WORKFLOW.value)),
                )
            )
        )
        if acts:
            near = set(
                s.scalars(select(e.source_id).where(e.target_id.in_(acts), e.link_type.in_(_DERIVATION)))
            ) | set(s.scalars(select(e.target_id).where(e.source_id.in_(acts), e.link_type.in_(_DERIVATION))))
            for n in near:
                dist.setdefault(n, 2)
        loaded = self._load(s, dist)
        graph, mapping = self._redacted(s, principal, loaded)
        key = loaded.rows[anchor].key
        up = {mapping[k] for k in _direct(loaded.graph, key, forward=False)}
        down = {mapping[k] for k in _direct(loaded.graph, key, forward=True)}

        def brief(ids_: set[str]) -> list[dict[str, Any]]:
            out = []
            for nid in sorted(ids_):
                node = graph.node(nid)
                if node.kind in (NodeKind.ACTIVITY, NodeKind.WORKFLOW):
                    continue
                out.append({"id": nid, "kind": node.kind.value, "label": node.display})
            return out

        activities = [
            {"id": n.id, "kind": getattr(n, "activity_type", n.kind).value, "label": n.display}
            for n in graph
            if n.kind in (NodeKind.ACTIVITY, NodeKind.WORKFLOW)
        ]
        return {
            "node": key,
            "inputs": brief(up),
            "outputs": brief(down),
            "activities": activities,
            "graph": graph.to_dict(),
        }

    # ------------------------------------------------------------------ commands
    def add_activity(
        self,
        principal: Principal,
        *,
        kind: str,
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        label: str | None = None,
        description: str = "",
        steps: Any = None,
        parameters: Any = None,
        software: Sequence[str] = (),
        instrument: str | None = None,
        started_at: dt.datetime | None = None,
        ended_at: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Record an activity: inputs -> activity -> outputs, with its people, software and steps."""
        require_user(principal)
        if not inputs and not outputs:
            raise InvalidInput("an activity needs at least one --input or --output")
        atype = activity_type(kind)
        parsed_steps = parse_steps(steps)
        params = parse_parameters(parameters)
        with self.hub.write() as s:
            in_rows = [self._resolve(s, principal, i) for i in inputs]
            out_rows = [self._resolve(s, principal, o, output=True) for o in outputs]
            key = self._activity(
                s,
                principal,
                atype,
                in_rows,
                out_rows,
                label=label,
                description=description,
                steps=parsed_steps,
                params=params,
                software=software,
                instrument=instrument,
                started_at=started_at,
                ended_at=ended_at,
            )
            self.hub.datasets.audit(s, principal, "provenance.activity", key, kind=atype.value)
        return self.get_node(principal, key)

    def _activity(
        self,
        s: Session,
        principal: Principal,
        atype: ActivityType,
        in_rows: list[ProvNodeRow],
        out_rows: list[ProvNodeRow],
        *,
        label: str | None = None,
        description: str = "",
        steps: Sequence[Step] = (),
        params: Sequence[Parameter] = (),
        software: Sequence[str] = (),
        instrument: str | None = None,
        started_at: dt.datetime | None = None,
        ended_at: dt.datetime | None = None,
    ) -> str:
        for r in in_rows + out_rows:
            if r.kind not in ("dataset", "sample", "model"):
                raise InvalidInput(
                    f"{r.key!r} is a {r.kind}; activity inputs and outputs are datasets, samples or models"
                )
        agents = [self._person(s, principal)]
        roles = ["person"]
        for text in software:
            name, version, commit = parse_software(text)
            agents.append(self._agent(s, AgentType.SOFTWARE, name, version, commit))
            roles.append("software")
        if instrument:
            agents.append(self._agent(s, AgentType.INSTRUMENT, instrument))
            roles.append("instrument")
        try:
            node = ActivityNode(
                id=_new_key("act"),
                activity_type=atype,
                label=label or atype.value.capitalize(),
                description=description,
                steps=tuple(steps),
                parameters=tuple(params),
                started_at=started_at,
                ended_at=ended_at,
                created_at=dt.datetime.now(dt.UTC),
            )
        except ValidationError as exc:
            raise refuse(exc, "activity: ") from None
        except ProvenanceError as exc:
            raise refuse(exc, "activity: ") from None
        act = self._insert(s, node, created_by=principal.user_id)
        edges: list[tuple[ProvNodeRow, LinkType, ProvNodeRow, str]] = []
        edges += [(r, LinkType.INPUT_CALC, act, "") for r in in_rows]
        edges += [(act, LinkType.CREATE, r, "") for r in out_rows]
        edges += [(a, LinkType.ASSOCIATED_WITH, act, role) for a, role in zip(agents, roles, strict=True)]
        self._link(s, principal, edges)
        return act.key

    def add_sample(
        self,
        principal: Principal,
        name: str,
        *,
        kind: str = "material",
        made_from: Sequence[str] = (),
        supplier: str | None = None,
        lot: str | None = None,
        commercial: bool = False,
        source_identifier: str | None = None,
        description: str = "",
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A material, electrode, electrolyte, separator, cell or component with its own hub identifier."""
        require_user(principal)
        if not name or not name.strip():
            raise InvalidInput("a sample needs a name, e.g. 'NMC811 cathode sheet 2024-05'")
        try:
            stype = SampleType(kind.strip().lower())
        except ValueError:
            known = ", ".join(t.value for t in SampleType)
            raise InvalidInput(f"unknown sample kind {kind!r}; use one of: {known}") from None
        try:
            node = SampleNode(
                id=_new_key("smp"),
                label=name.strip(),
                sample_type=stype,
                supplier=supplier,
                lot=lot,
                commercial=commercial,
                source_identifier=source_identifier,
                description=description,
                attributes=attributes or {},
                created_at=dt.datetime.now(dt.UTC),
            )
        except ValidationError as exc:
            raise refuse(exc, "sample: ") from None
        with self.hub.write() as s:
            sources = [self._resolve(s, principal, m) for m in made_from]
            row = self._insert(s, node, identifier=source_identifier or lot, created_by=principal.user_id)
            edges = [(src, LinkType.DERIVED_FROM, row, "made from") for src in sources]
            if supplier:
                edges.append(
                    (
                        self._agent(s, AgentType.ORGANIZATION, supplier),
                        LinkType.ATTRIBUTED_TO,
                        row,
                        "supplier",
                    )
                )
            self._link(s, principal, edges)
            self.hub.datasets.audit(s, principal, "provenance.sample", row.key, kind=stype.value)
        return self.get_node(principal, node.id)

    def get_node(self, principal: Principal, key: str) -> dict[str, Any]:
        """One sample, activity or agent with its direct links, as the principal may see them."""
        with self.hub.read() as s:
            row = self._row(s, key)
            if row is None or row.version_id is not None:
                raise NotFound(f"no sample or activity {key!r} (datasets are at /api/datasets/PID)")
            e = ProvEdgeRow
            near = set(s.scalars(select(e.source_id).where(e.target_id == row.id))) | set(
                s.scalars(select(e.target_id).where(e.source_id == row.id))
            )
            loaded = self._load(s, near | {row.id}, with_agents=False)
            graph, _ = self._redacted(s, principal, loaded)
            out = NODE_ADAPTER.dump_python(graph.node(key), mode="json")

            def side(edges: list[Any], attr: str) -> list[dict[str, Any]]:
                return [
                    {
                        "id": getattr(x, attr),
                        "kind": graph.node(getattr(x, attr)).kind.value,
                        "label": graph.node(getattr(x, attr)).display,
                        "link": x.link_type.value,
                        "role": x.label,
                    }
                    for x in edges
                ]

            out["incoming"] = side(graph.in_edges(key), "source")
            out["outgoing"] = side(graph.out_edges(key), "target")
            return out

    def list_nodes(self, principal: Principal, kind: str, limit: int = 100) -> list[dict[str, Any]]:
        """Recent samples or activities (they carry no dataset metadata, so anyone may list them)."""
        if kind not in ("sample", "activity"):
            raise InvalidInput("kind must be sample or activity")
        with self.hub.read() as s:
            rows = s.scalars(
                select(ProvNodeRow)
                .where(ProvNodeRow.kind == kind, ProvNodeRow.version_id.is_(None))
                .order_by(ProvNodeRow.id.desc())
                .limit(max(1, min(limit, 500)))
            )
            return [
                {"id": r.key, "kind": r.kind, "subtype": r.subtype, "label": r.label, "created": r.created}
                for r in rows
            ]

    # ------------------------------------------------------------------ deposit options
    def apply_options(self, s: Session, version: Version, options: dict[str, Any]) -> set[str]:
        """`create_options` hook: --derived-from/--activity/--software/--instrument on a new version."""
        names = {"derived_from", "activity", "software", "instrument"}
        given = {k: options[k] for k in names if k in options and options[k] not in (None, [], "")}
        handled = names & set(options)
        if not given:
            return handled
        user = s.get(User, version.created_by_id) if version.created_by_id is not None else None
        principal = (
            Principal(user_id=user.id, username=user.username, is_admin=user.is_admin)
            if user
            else Principal()
        )
        sources = as_list(given.get("derived_from"))
        software = as_list(given.get("software"))
        instrument = given.get("instrument")
        if instrument is not None and not isinstance(instrument, str):
            raise InvalidInput("instrument must be a name, e.g. 'Biologic VMP-300 #2'")
        target = self._version_node(s, version)
        src_rows = [self._resolve(s, principal, p) for p in sources]
        self._link_previous(s, principal, version, target)
        if "activity" in given or software or instrument:
            atype = activity_type(str(given.get("activity") or "analysis"))
            self._activity(s, principal, atype, src_rows, [target], software=software, instrument=instrument)
        else:
            self._link(s, principal, [(src, LinkType.DERIVED_FROM, target, "") for src in src_rows])
        return handled

    def _link_previous(self, s: Session, principal: Principal, version: Version, node: ProvNodeRow) -> None:
        """A later version of a dataset is a revision of the one before (active-learning steps...)."""
        if version.number <= 1:
            return
        previous = s.scalar(
            select(Version)
            .where(Version.dataset_id == version.dataset_id, Version.number < version.number)
            .order_by(Version.number.desc())
            .limit(1)
        )
        if previous is None:
            return
        prev_row = self._version_node(s, previous)
        if prev_row.kind != node.kind:
            return
        e = ProvEdgeRow
        taken = s.scalar(
            select(e.id).where(
                e.link_type == LinkType.REVISION_OF.value,
                or_(e.source_id == prev_row.id, e.target_id == node.id),
            )
        )
        if taken is None:
            self._link(s, principal, [(prev_row, LinkType.REVISION_OF, node, "")])

    # ------------------------------------------------------------------ model cards
    def set_model_card(self, principal: Principal, pid: str, card: dict[str, Any]) -> dict[str, Any]:
        """Attach a model card to a draft whose resource_type is Model: a training step in the lineage."""
        try:
            parsed = ModelCard.model_validate(card)
        except ValidationError as exc:
            raise refuse(exc, "model card: ") from None
        with self.hub.write() as s:
            version = self.hub.datasets._editable_draft(s, pid, principal)
            if (version.meta or {}).get("resource_type") != "Model":
                raise InvalidInput(
                    f"{version.pid} is not a model: set `resource_type: Model` in its metadata first"
                )
            row = self._version_node(s, version)
            if row.kind != NodeKind.MODEL.value:
                raise InvalidInput(f"{version.pid} is recorded as a dataset; a model card needs a model node")
            existing = s.scalar(
                select(ProvEdgeRow.id).where(
                    ProvEdgeRow.target_id == row.id, ProvEdgeRow.link_type == LinkType.CREATE.value
                )
            )
            if existing is not None:
                raise InvalidInput(
                    f"{version.pid} already has a generating activity; a draft takes one model card"
                )
            data = [self._resolve(s, principal, i) for i in parsed.training_data]
            digest = parsed.metadata_hash()
            node = ModelNode(id=row.key, label=row.label, card=parsed, attributes={"metadata_hash": digest})
            stored = NODE_ADAPTER.dump_python(node, mode="json")
            stored.pop("id", None)
            row.attributes = stored
            previous = self._previous_model(s, version)
            inputs = [*data, *([previous] if previous is not None else [])]
            act = self._activity(s, principal, ActivityType.TRAINING, inputs, [row], label="Training")
            self._link_previous(s, principal, version, row)
            self.hub.datasets.audit(s, principal, "provenance.model_card", version.pid, activity=act)
            return {
                "pid": version.pid,
                "card": parsed.model_dump(mode="json"),
                "metadata_hash": digest,
            }

    def _previous_model(self, s: Session, version: Version) -> ProvNodeRow | None:
        if version.number <= 1:
            return None
        prev = s.scalar(
            select(ProvNodeRow)
            .join(Version, Version.id == ProvNodeRow.version_id)
            .where(Version.dataset_id == version.dataset_id, Version.number < version.number)
            .order_by(Version.number.desc())
            .limit(1)
        )
        return prev if prev is not None and prev.kind == NodeKind.MODEL.value else None

    def get_model_card(self, principal: Principal, pid: str) -> dict[str, Any]:
        with self.hub.read() as s:
            version, row = self._anchor(s, principal, pid)
            card = (row.attributes or {}).get("card") if row is not None else None
            if not card:
                raise NotFound(f"{version.pid} has no model card")
            stored = (row.attributes or {}).get("attributes", {}).get("metadata_hash") if row else None
            digest = ModelCard.model_validate(card).metadata_hash()
            return {
                "pid": version.pid,
                "card": card,
                "metadata_hash": stored or digest,
                # the stored hash certifies the card as attached; a mismatch means it was altered since
                "verified": stored == digest,
            }

    # ------------------------------------------------------------------ AiiDA
    def import_aiida(self, principal: Principal, path: Path) -> dict[str, Any]:
        """Import an AiiDA archive's graph: processes -> activities/workflows, data -> datasets, agents."""
        from databahn.provenance.importing import import_aiida

        return import_aiida(self, principal, path)


def _direct(graph: ProvGraph, key: str, *, forward: bool) -> set[str]:
    """Entities one derivation step away: linked directly, or through one activity (its inputs when
    looking up, what it generated when looking down) -- plus those activities themselves."""
    found: set[str] = set()
    step = graph.out_edges if forward else graph.in_edges
    for edge in step(key):
        if edge.link_type not in DERIVATION_LINKS:
            continue
        other = edge.target if forward else edge.source
        found.add(other)
        if graph.node(other).kind in (NodeKind.ACTIVITY, NodeKind.WORKFLOW):
            for second in step(other):
                if second.link_type in DERIVATION_LINKS:
                    found.add(second.target if forward else second.source)
    found.discard(key)
    return found
