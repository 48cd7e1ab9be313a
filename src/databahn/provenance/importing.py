"""Importing AiiDA export archives into the hub's provenance graph.

The archive is read and mapped by the engine (`aiida_archive`), which checks every link and the
absence of cycles; here the nodes are stored in bulk under their AiiDA UUIDs (users and computers
as agents), so importing the same archive again adds nothing and an archive overlapping an earlier
one links into the nodes already there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from databahn.errors import InvalidInput
from databahn.provenance.inputs import refuse
from databahn.provenance.model import ProvenanceError
from databahn.provenance.models import ProvEdgeRow, ProvNodeRow
from databahn.services.policy import Principal
from databahn.services.users import require_user

if TYPE_CHECKING:
    from databahn.provenance.store import ProvenanceService

CHUNK = 500


def import_aiida(svc: ProvenanceService, principal: Principal, path: Path) -> dict[str, Any]:
    from databahn.provenance.aiida_archive import aiida_to_prov, read_archive

    require_user(principal)
    try:
        graph = aiida_to_prov(read_archive(path))
    except ProvenanceError as exc:
        raise refuse(exc, f"{path.name}: ") from None
    keys = list(graph.nodes)
    with svc.hub.write() as s:

        def ids_of(wanted: list[str]) -> dict[str, tuple[int, str, int | None]]:
            found: dict[str, tuple[int, str, int | None]] = {}
            for i in range(0, len(wanted), CHUNK):
                stmt = select(ProvNodeRow.key, ProvNodeRow.id, ProvNodeRow.kind, ProvNodeRow.version_id)
                for key, row_id, kind, version_id in s.execute(
                    stmt.where(ProvNodeRow.key.in_(wanted[i : i + CHUNK]))
                ):
                    found[key] = (row_id, kind, version_id)
            return found

        existing = ids_of(keys)
        for key, (_id, kind, version_id) in existing.items():
            if kind != graph.node(key).kind.value or version_id is not None:
                raise InvalidInput(
                    f"{path.name}: node {key!r} already exists in the hub as a {kind}; "
                    "it cannot also be an AiiDA " + graph.node(key).kind.value
                )
        now = dt.datetime.now(dt.UTC)
        fresh = [
            {
                **svc._columns(node),
                "identifier": node.id[:500],
                "created_by": principal.user_id,
                "created": now,
            }
            for node in graph
            if node.id not in existing
        ]
        for i in range(0, len(fresh), CHUNK):
            s.execute(insert(ProvNodeRow), fresh[i : i + CHUNK])
        rows = {key: row_id for key, (row_id, _k, _v) in ids_of(keys).items()}
        edges = [
            {
                "source_id": rows[e.source],
                "target_id": rows[e.target],
                "link_type": e.link_type.value,
                "label": e.label[:500],
            }
            for e in graph.edges
        ]
        for i in range(0, len(edges), CHUNK):
            s.execute(svc.hub.insert_ignore(ProvEdgeRow), edges[i : i + CHUNK])
        if existing:  # merged with an earlier import: the combined graph must still be acyclic
            try:
                svc._load(s, set(rows.values()), with_agents=False)
            except ProvenanceError as exc:
                raise refuse(exc, f"{path.name}: ") from None
        counts: dict[str, int] = {}
        for node in graph:
            counts[node.kind.value] = counts.get(node.kind.value, 0) + 1
        svc.hub.datasets.audit(s, principal, "provenance.import_aiida", path.name[:200], nodes=len(graph))
    return {
        "archive": path.name,
        "nodes": len(graph),
        "new_nodes": len(fresh),
        "edges": len(graph.edges),
        "by_kind": counts,
        "node_ids": sorted(keys)[:1000],
    }
