"""An in-memory provenance graph with validated links and iterative lineage queries.

Everything here is database-free on purpose: the service layer loads a neighbourhood from storage into a
:class:`ProvGraph`, asks lineage/impact questions, redacts what the viewer may not see, and exports or
renders the result. Traversals are breadth-first with explicit queues, so deep lineages (long
active-learning chains, thousand-step AiiDA workflows) cannot hit Python's recursion limit.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from databahn.provenance.model import (
    DERIVATION_LINKS,
    ENTITY_KINDS,
    NODE_ADAPTER,
    ActivityNode,
    ActivityType,
    CycleError,
    Edge,
    LinkType,
    ModelNode,
    NodeKind,
    ProvenanceError,
    ProvNode,
    RestrictedNode,
    UnknownNodeError,
    validate_link,
)

IMPACT_KINDS: frozenset[NodeKind] = frozenset({NodeKind.DATASET, NodeKind.MODEL})

#: Link groups of which a node may have at most one incoming link, with the reason shown on refusal.
UNIQUE_INCOMING: dict[frozenset[LinkType], str] = {
    frozenset({LinkType.CREATE}): "an entity has exactly one generating activity "
    "(link further activities with 'input_calc' or 'derived_from')",
    frozenset({LinkType.CALL_CALC, LinkType.CALL_WORK}): "an activity is started by at most one workflow",
    frozenset({LinkType.REVISION_OF}): "a version has one direct predecessor",
}
#: Link types of which a node may have at most one outgoing link: versions form a line, not a tree.
UNIQUE_OUTGOING: dict[LinkType, str] = {
    LinkType.REVISION_OF: "a version has one direct successor (a branch is a new entity: use 'derived_from')",
}
#: Link types whose non-empty labels must be unique among a target's inputs (AiiDA input ports).
UNIQUE_INPUT_LABELS: frozenset[LinkType] = frozenset({LinkType.INPUT_CALC, LinkType.INPUT_WORK})


class ProvGraph:
    """Nodes keyed by id plus typed edges, with adjacency indexes kept in step on every change."""

    def __init__(self) -> None:
        self._nodes: dict[str, ProvNode] = {}
        self._edges: list[Edge] = []
        self._edge_set: set[Edge] = set()
        self._out: dict[str, list[Edge]] = {}
        self._in: dict[str, list[Edge]] = {}

    # ------------------------------------------------------------------ construction

    def add_node(self, node: ProvNode) -> ProvNode:
        """Add a node; re-adding an identical node is a no-op, a different one with the same id is refused."""
        existing = self._nodes.get(node.id)
        if existing is not None:
            if existing == node:
                return existing
            raise ProvenanceError(
                f"node id {node.id!r} is already used by another {existing.kind.value}; ids must be unique"
            )
        self._nodes[node.id] = node
        self._out[node.id] = []
        self._in[node.id] = []
        return node

    def add_edge(self, source: str, link_type: LinkType | str, target: str, label: str = "") -> Edge:
        """Add ``source -[link_type]-> target`` after checking ids, the link table, uniqueness and cycles."""
        edge = self._prepare(source, link_type, target, label)
        if edge is None:
            return Edge(source=source, target=target, link_type=LinkType(link_type), label=label)
        if edge.link_type in DERIVATION_LINKS:
            back = self._path(target, source, DERIVATION_LINKS)
            if back is not None:
                cycle = [source, *back]
                raise CycleError(
                    f"refused {source} -[{edge.link_type.value}]-> {target}: it would close the cycle "
                    + " -> ".join(cycle),
                    cycle,
                )
        self._append_unchecked(edge)
        return edge

    def add_edges(self, edges: Iterable[tuple[str, LinkType | str, str, str]]) -> list[Edge]:
        """Add many ``(source, link_type, target, label)`` edges, all or nothing, with one cycle check.

        Checking each edge for a cycle as it comes costs a graph search per edge; importing a large
        AiiDA archive or a stored graph this way would be quadratic. Here every edge is validated as in
        :meth:`add_edge`, then one linear-time topological pass looks for a derivation cycle.
        """
        added: list[Edge] = []
        try:
            for source, link_type, target, label in edges:
                try:
                    edge = self._prepare(source, link_type, target, label)
                except CycleError:
                    raise
                except ProvenanceError as exc:
                    kind = getattr(link_type, "value", link_type)
                    raise type(exc)(f"{source} -[{kind}:{label}]-> {target}: {exc}") from None
                if edge is not None:
                    self._append_unchecked(edge)
                    added.append(edge)
            cycle = self._find_cycle()
            if cycle is not None:
                raise CycleError("these links would form the lineage cycle " + " -> ".join(cycle), cycle)
        except ProvenanceError:
            self._remove(added)
            raise
        return added

    def _prepare(self, source: str, link_type: LinkType | str, target: str, label: str) -> Edge | None:
        """Validate an edge except for cycles; None if it is already present."""
        src, tgt = self.node(source), self.node(target)
        validate_link(src.kind, link_type, tgt.kind)
        edge = Edge(source=source, target=target, link_type=LinkType(link_type), label=label)
        if edge in self._edge_set:
            return None
        self._check_degree(edge)
        if edge.link_type in DERIVATION_LINKS and source == target:
            raise CycleError(f"{source!r} cannot derive from itself", [source, source])
        return edge

    def _remove(self, edges: list[Edge]) -> None:
        gone = set(edges)
        if not gone:
            return
        self._edges = [e for e in self._edges if e not in gone]
        self._edge_set -= gone
        for edge in gone:
            self._out[edge.source].remove(edge)
            self._in[edge.target].remove(edge)

    def _drop_nodes(self, node_ids: list[str]) -> None:
        """Remove nodes that have no edges (rollback of a failed multi-node addition)."""
        for nid in node_ids:
            if self._in.get(nid) or self._out.get(nid):
                raise ProvenanceError(f"cannot drop {nid!r}: it still has links")
            self._nodes.pop(nid, None)
            self._in.pop(nid, None)
            self._out.pop(nid, None)

    def _find_cycle(self) -> list[str] | None:
        """One derivation cycle as a closed path, or None (Kahn's algorithm, then a walk back)."""
        indeg = dict.fromkeys(self._nodes, 0)
        for edge in self._edges:
            if edge.link_type in DERIVATION_LINKS:
                indeg[edge.target] += 1
        queue = deque(n for n, d in indeg.items() if d == 0)
        while queue:
            current = queue.popleft()
            for edge in self._out[current]:
                if edge.link_type in DERIVATION_LINKS:
                    indeg[edge.target] -= 1
                    if indeg[edge.target] == 0:
                        queue.append(edge.target)
        left = {n for n, d in indeg.items() if d > 0}
        if not left:
            return None
        # Every node left has a predecessor that is also left, so walking back must revisit a node.
        walk: list[str] = [next(iter(left))]
        seen = {walk[0]: 0}
        while True:
            prev = next(
                e.source for e in self._in[walk[-1]] if e.link_type in DERIVATION_LINKS and e.source in left
            )
            if prev in seen:
                loop = [*walk[seen[prev] :], prev]
                return loop[::-1]
            seen[prev] = len(walk)
            walk.append(prev)

    def _check_degree(self, edge: Edge) -> None:
        """Enforce :data:`UNIQUE_INCOMING` and :data:`UNIQUE_INPUT_LABELS` (as AiiDA's link rules do)."""
        group = next((g for g in UNIQUE_INCOMING if edge.link_type in g), None)
        if group is not None:
            for other in self._in[edge.target]:
                if other.link_type in group:
                    raise ProvenanceError(
                        f"refused {edge.source} -[{edge.link_type.value}]-> {edge.target}: {edge.target!r} "
                        f"already has {other.source!r} via {other.link_type.value!r}, and "
                        f"{UNIQUE_INCOMING[group]}"
                    )
        if edge.link_type in UNIQUE_OUTGOING:
            for other in self._out[edge.source]:
                if other.link_type is edge.link_type:
                    raise ProvenanceError(
                        f"refused {edge.source} -[{edge.link_type.value}]-> {edge.target}: {edge.source!r} "
                        f"already has {other.target!r} after it, and {UNIQUE_OUTGOING[edge.link_type]}"
                    )
        if edge.link_type in UNIQUE_INPUT_LABELS and edge.label:
            for other in self._in[edge.target]:
                if other.link_type in UNIQUE_INPUT_LABELS and other.label == edge.label:
                    raise ProvenanceError(
                        f"refused {edge.source} -[{edge.link_type.value}:{edge.label}]-> {edge.target}: "
                        f"input label {edge.label!r} is already taken by {other.source!r}; each input of "
                        "an activity needs its own label"
                    )

    # ------------------------------------------------------------------ access

    def node(self, node_id: str) -> ProvNode:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise UnknownNodeError(
                f"unknown node id {node_id!r}: it is not in this provenance graph"
            ) from None

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[ProvNode]:
        return iter(self._nodes.values())

    @property
    def nodes(self) -> dict[str, ProvNode]:
        return dict(self._nodes)

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def out_edges(self, node_id: str) -> list[Edge]:
        self.node(node_id)
        return list(self._out[node_id])

    def in_edges(self, node_id: str) -> list[Edge]:
        self.node(node_id)
        return list(self._in[node_id])

    # ------------------------------------------------------------------ lineage

    def _path(self, start: str, goal: str, links: frozenset[LinkType]) -> list[str] | None:
        """Shortest path start -> goal following ``links`` forwards, or None."""
        parent: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            if current == goal:
                path = [current]
                while (prev := parent[path[-1]]) is not None:
                    path.append(prev)
                return path[::-1]
            for edge in self._out[current]:
                if edge.link_type in links and edge.target not in parent:
                    parent[edge.target] = current
                    queue.append(edge.target)
        return None

    def _walk(
        self, node_id: str, forward: bool, depth: int | None, links: Iterable[LinkType] | None
    ) -> dict[str, int]:
        self.node(node_id)
        if depth is not None and depth < 0:
            raise ProvenanceError(f"depth must be 0 or more (or None for any depth), got {depth}")
        follow = DERIVATION_LINKS if links is None else frozenset(LinkType(x) for x in links)
        index = self._out if forward else self._in
        found: dict[str, int] = {}
        seen = {node_id}
        queue: deque[tuple[str, int]] = deque([(node_id, 0)])
        while queue:
            current, dist = queue.popleft()
            if depth is not None and dist >= depth:
                continue
            for edge in index[current]:
                if edge.link_type not in follow:
                    continue
                nxt = edge.target if forward else edge.source
                if nxt not in seen:
                    seen.add(nxt)
                    found[nxt] = dist + 1
                    queue.append((nxt, dist + 1))
        return found

    def ancestors(
        self, node_id: str, depth: int | None = None, links: Iterable[LinkType] | None = None
    ) -> dict[str, int]:
        """Everything ``node_id`` derives from, as ``{id: distance}`` in breadth-first order.

        ``depth`` counts links (an output's generating activity is at 1, that activity's inputs at 2);
        ``None`` means any depth. By default only derivation links are followed, see ``DERIVATION_LINKS``.
        """
        return self._walk(node_id, forward=False, depth=depth, links=links)

    def descendants(
        self, node_id: str, depth: int | None = None, links: Iterable[LinkType] | None = None
    ) -> dict[str, int]:
        """Everything derived from ``node_id``, as ``{id: distance}`` in breadth-first order."""
        return self._walk(node_id, forward=True, depth=depth, links=links)

    def impact(self, node_id: str) -> list[ProvNode]:
        """Datasets and models derived, at any depth, from ``node_id`` ("what did this raw file feed?")."""
        found = self.descendants(node_id)
        hits = [self._nodes[i] for i in found if self._nodes[i].kind in IMPACT_KINDS]
        return sorted(hits, key=lambda n: (found[n.id], n.id))

    def version_chain(self, node_id: str) -> list[str]:
        """All versions of an entity linked by ``revision_of``, oldest first (e.g. active-learning steps)."""
        node = self.node(node_id)
        if node.kind not in ENTITY_KINDS:
            raise ProvenanceError(f"{node_id!r} is a {node.kind.value}; only entities have versions")
        first = node_id
        while True:
            prev = [e.source for e in self._in[first] if e.link_type is LinkType.REVISION_OF]
            if not prev:
                break
            first = prev[0]
        chain = [first]
        while True:
            nxt = [e.target for e in self._out[chain[-1]] if e.link_type is LinkType.REVISION_OF]
            if not nxt:
                return chain
            chain.append(nxt[0])

    def subgraph(self, node_ids: Iterable[str]) -> ProvGraph:
        """The induced subgraph on ``node_ids`` (edges whose both ends are kept)."""
        keep = {self.node(i).id for i in node_ids}
        sub = ProvGraph()
        for nid in self._nodes:
            if nid in keep:
                sub.add_node(self._nodes[nid])
        for edge in self._edges:
            if edge.source in keep and edge.target in keep:
                sub._append_unchecked(edge)
        return sub

    def neighbourhood(self, node_id: str, depth: int | None = None) -> ProvGraph:
        """Ancestors, descendants and the agents of every node in them: the dataset-page view."""
        ids = {node_id, *self.ancestors(node_id, depth), *self.descendants(node_id, depth)}
        for nid in list(ids):
            ids.update(e.source for e in self._in[nid] if e.source in self._nodes and self._is_agent_edge(e))
        return self.subgraph(ids)

    @staticmethod
    def _is_agent_edge(edge: Edge) -> bool:
        return edge.link_type in (LinkType.ASSOCIATED_WITH, LinkType.ATTRIBUTED_TO)

    def _append_unchecked(self, edge: Edge) -> None:
        """Copy an edge that was validated in its source graph (subgraph/redact keep validity)."""
        if edge not in self._edge_set:
            self._edges.append(edge)
            self._edge_set.add(edge)
            self._out[edge.source].append(edge)
            self._in[edge.target].append(edge)

    # ------------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form: ``{"nodes": [...], "edges": [...]}``."""
        return {
            "nodes": [NODE_ADAPTER.dump_python(n, mode="json") for n in self._nodes.values()],
            "edges": [e.model_dump(mode="json") for e in self._edges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProvGraph:
        """Rebuild from :meth:`to_dict` output, validating every node and edge again."""
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
            raise ProvenanceError("a provenance graph must be a JSON object with 'nodes' and 'edges' lists")
        graph = cls()
        for i, raw in enumerate(data["nodes"]):
            try:
                node = NODE_ADAPTER.validate_python(raw)
            except ValidationError as exc:
                name = raw.get("id") if isinstance(raw, dict) else None
                raise ProvenanceError(f"node {i} ({name!r}) is invalid: {explain(exc)}") from None
            graph.add_node(node)
        edges: list[Edge] = []
        for i, raw in enumerate(data.get("edges") or []):
            try:
                edges.append(Edge.model_validate(raw))
            except ValidationError as exc:
                raise ProvenanceError(f"edge {i} is invalid: {explain(exc)}") from None
        graph.add_edges((e.source, e.link_type, e.target, e.label) for e in edges)
        return graph


def explain(exc: ValidationError) -> str:
    """A pydantic error as one readable line ("field: problem; ..."), without union plumbing."""
    parts = []
    for err in exc.errors():
        # The first location item of a node error is the union tag (e.g. 'dataset'); keep the field path.
        loc = [str(x) for x in err["loc"] if not str(x).startswith(("tagged-union", "function-"))]
        where = ".".join(loc[1:] if len(loc) > 1 and loc[0] in _TAGS else loc)
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "; ".join(parts)


_TAGS = frozenset({*(k.value for k in NodeKind), "restricted"})


def record_training_step(
    graph: ProvGraph,
    activity: ActivityNode,
    model: ModelNode,
    *,
    previous: str | None = None,
    agents: Iterable[tuple[str, str]] = (),
) -> None:
    """Add one (active-learning) training step: its data -> training activity -> model.

    The model card's ``training_data`` must name datasets already in the graph, and they become the
    step's inputs, so the card and the lineage cannot disagree. With ``previous`` (the model this step
    starts from) the new model is linked as its next version, which is how an active-learning session
    keeps every step as a version. ``agents`` are ``(agent id, role)`` pairs. All or nothing.
    """
    if activity.activity_type is not ActivityType.TRAINING:
        raise ProvenanceError(
            f"{activity.id!r} is a {activity.activity_type.value}; a training step needs "
            "activity_type='training'"
        )
    if model.card is None:
        raise ProvenanceError(
            f"model {model.id!r} has no model card; a trained model must say what it "
            "was trained on, with which seeds, hardware and framework versions"
        )
    missing = [i for i in model.card.training_data if i not in graph]
    if missing:
        raise UnknownNodeError(
            f"the model card of {model.id!r} names training data not in the graph: " + ", ".join(missing)
        )
    if previous is not None and graph.node(previous).kind is not NodeKind.MODEL:
        raise ProvenanceError(f"previous={previous!r} is a {graph.node(previous).kind.value}, not a model")
    for node in (activity, model):
        if node.id in graph:
            raise ProvenanceError(f"{node.id!r} is already in the graph; a training step adds new nodes")
    edges: list[tuple[str, LinkType | str, str, str]] = [
        (data_id, LinkType.INPUT_CALC, activity.id, f"training data {k}")
        for k, data_id in enumerate(model.card.training_data, start=1)
    ]
    if previous is not None:
        edges += [
            (previous, LinkType.INPUT_CALC, activity.id, "initial model"),
            (previous, LinkType.REVISION_OF, model.id, ""),
        ]
    edges.append((activity.id, LinkType.CREATE, model.id, "model"))
    edges += [(agent, LinkType.ASSOCIATED_WITH, activity.id, role) for agent, role in agents]
    graph.add_node(activity)
    graph.add_node(model)
    try:
        graph.add_edges(edges)
    except ProvenanceError:
        graph._drop_nodes([activity.id, model.id])
        raise


def opaque_id(node_id: str, salt: bytes = b"") -> str:
    """A stable id that reveals nothing about ``node_id`` (keyed by ``salt``, e.g. the site secret)."""
    return "restricted-" + hashlib.sha256(salt + node_id.encode("utf-8")).hexdigest()[:20]


def redact(graph: ProvGraph, can_see: Callable[[str], bool], *, salt: bytes = b"") -> ProvGraph:
    """Copy ``graph`` with every node the viewer may not see replaced by a :class:`RestrictedNode`.

    The placeholder keeps only an opaque id and the node kind, so a restricted ancestor still shows that
    lineage passes through *something* ("restricted dataset") without its identifier or metadata. Link
    labels touching a hidden node are dropped too (they can name things, e.g. an AiiDA input port).
    """
    mapping: dict[str, str] = {}
    out = ProvGraph()
    for node in graph:
        if isinstance(node, RestrictedNode) or can_see(node.id):
            mapping[node.id] = node.id
            out.add_node(node)
        else:
            hidden = RestrictedNode(id=opaque_id(node.id, salt), kind=node.kind)
            mapping[node.id] = hidden.id
            out.add_node(hidden)
    for edge in graph.edges:
        source, target = mapping[edge.source], mapping[edge.target]
        visible = source == edge.source and target == edge.target
        label = edge.label if visible else ""
        out._append_unchecked(Edge(source=source, target=target, link_type=edge.link_type, label=label))
    return out
