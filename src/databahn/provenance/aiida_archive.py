"""Read AiiDA export archives (``.aiida``) without aiida-core, and map them to a :class:`ProvGraph`.

Two layouts exist: the current one (export version ``main_0001`` / ``1.0``, a zip) holds
``metadata.json`` and an SQLite database ``db.sqlite3`` (plus a content-addressed ``repo/``), the older
ones (``0.4`` to ``0.13``, zip or tar) hold ``metadata.json`` and ``data.json``. Only those members are
read, each with a hard size cap counted while decompressing (so a zip bomb's lying header does not
help it). Nothing is extracted to disk: the SQLite file is opened from memory with
``sqlite3.Connection.deserialize``. An archive naming any member with an absolute path or ``..`` is
refused as a whole, because a tool that trusted it later could be made to write outside its folder.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tarfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from databahn.provenance.graph import ProvGraph
from databahn.provenance.model import (
    ActivityNode,
    ActivityType,
    AgentNode,
    AgentType,
    DatasetNode,
    LinkType,
    ProvenanceError,
    WorkflowNode,
)

#: Default cap on any one member read from an archive (uncompressed bytes).
MAX_MEMBER_BYTES = 512 * 1024 * 1024
#: Longest string value kept in an attribute summary.
MAX_ATTRIBUTE_TEXT = 200
#: Most attributes kept per node in a summary.
MAX_ATTRIBUTES = 30

_LINK_TYPES = {
    "input_calc": "input_calc",
    "input_work": "input_work",
    "create": "create",
    "return": "return",
    "call_calc": "call_calc",
    "call_work": "call_work",
    # names used by export versions before 0.4
    "inputlink": "input_calc",
    "createlink": "create",
    "returnlink": "return",
    "calllink": "call_calc",
}

# data.json of versions <= 0.3 keys entities by Django model path.
_OLD_ENTITY_NAMES = {
    "aiida.backends.djsite.db.models.DbNode": "Node",
    "aiida.backends.djsite.db.models.DbComputer": "Computer",
    "aiida.backends.djsite.db.models.DbUser": "User",
    "aiida.backends.djsite.db.models.DbGroup": "Group",
}


class AiidaArchiveError(ProvenanceError):
    """The file is not a readable, safe AiiDA archive; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class AiidaUser:
    email: str
    first_name: str = ""
    last_name: str = ""
    institution: str = ""

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email


@dataclass(frozen=True, slots=True)
class AiidaComputer:
    uuid: str
    label: str
    hostname: str = ""
    description: str = ""
    scheduler_type: str = ""
    transport_type: str = ""


@dataclass(frozen=True, slots=True)
class AiidaNode:
    uuid: str
    node_type: str
    process_type: str
    label: str
    description: str
    ctime: datetime | None
    mtime: datetime | None
    user: str | None  # the user's email
    computer: str | None  # the computer's uuid
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def is_process(self) -> bool:
        return self.node_type.startswith(("process.", "calculation."))

    @property
    def is_workflow(self) -> bool:
        return self.node_type.startswith(("process.workflow.", "calculation.work."))

    @property
    def is_code(self) -> bool:
        return self.node_type.startswith(("data.core.code.", "data.code.", "code."))


@dataclass(frozen=True, slots=True)
class AiidaLink:
    input: str  # uuid of the source node
    output: str  # uuid of the target node
    type: str  # normalised AiiDA link type, e.g. "input_calc"
    label: str


@dataclass(frozen=True, slots=True)
class AiidaCode:
    uuid: str
    label: str
    computer: str | None
    input_plugin: str | None
    executable: str | None


@dataclass(frozen=True, slots=True)
class AiidaGroup:
    uuid: str
    label: str
    type_string: str
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AiidaGraph:
    """Everything provenance needs from one archive; uuids join nodes, links, codes and computers."""

    export_version: str
    aiida_version: str
    nodes: dict[str, AiidaNode]
    links: list[AiidaLink]
    codes: list[AiidaCode]
    computers: dict[str, AiidaComputer]
    users: dict[str, AiidaUser]
    groups: list[AiidaGroup] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ reading


def _read_member(zf: zipfile.ZipFile, name: str, cap: int) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > cap:
        raise AiidaArchiveError(f"archive member {name!r} is {info.file_size} bytes, over the {cap}-byte cap")
    chunks: list[bytes] = []
    total = 0
    with zf.open(info) as handle:
        while chunk := handle.read(1 << 20):
            total += len(chunk)
            if total > cap:
                raise AiidaArchiveError(f"archive member {name!r} inflates past the {cap}-byte cap")
            chunks.append(chunk)
    return b"".join(chunks)


def _check_names(names: list[str]) -> None:
    for name in names:
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
            raise AiidaArchiveError(
                f"refusing archive: member {name!r} points outside the archive folder (absolute path or '..')"
            )


def _parse_time(value: Any) -> datetime | None:
    """AiiDA stores UTC; naive values are therefore marked UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def summarize_attributes(attributes: Any) -> dict[str, Any]:
    """Small, display-safe view of node attributes: scalars kept (long text cut), containers summarised."""
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes)
        except ValueError:
            return {}
    if not isinstance(attributes, dict):
        return {}
    out: dict[str, Any] = {}
    for key in sorted(attributes)[:MAX_ATTRIBUTES]:
        value = attributes[key]
        if isinstance(value, str):
            out[key] = value if len(value) <= MAX_ATTRIBUTE_TEXT else value[:MAX_ATTRIBUTE_TEXT] + "…"
        elif value is None or isinstance(value, bool | int | float):
            out[key] = value
        elif isinstance(value, list):
            out[key] = f"<list of {len(value)}>"
        elif isinstance(value, dict):
            out[key] = f"<mapping of {len(value)}>"
        else:
            out[key] = f"<{type(value).__name__}>"
    return out


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value or {}


def _code(node: AiidaNode, raw_attributes: dict[str, Any]) -> AiidaCode:
    return AiidaCode(
        uuid=node.uuid,
        label=node.label,
        computer=node.computer,
        input_plugin=raw_attributes.get("input_plugin"),
        executable=raw_attributes.get("remote_exec_path") or raw_attributes.get("filepath_executable"),
    )


def _from_sqlite(db: bytes, meta: dict[str, Any]) -> AiidaGraph:
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(db)
        conn.execute("PRAGMA query_only = ON")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        needed = {"db_dbnode", "db_dblink", "db_dbuser", "db_dbcomputer"}
        if not needed <= tables:
            raise AiidaArchiveError(f"db.sqlite3 lacks AiiDA tables: {', '.join(sorted(needed - tables))}")
        users_by_id: dict[int, AiidaUser] = {}
        for uid, email, first, last, inst in conn.execute(
            "SELECT id, email, first_name, last_name, institution FROM db_dbuser"
        ):
            users_by_id[uid] = AiidaUser(email or f"user-{uid}", first or "", last or "", inst or "")
        computers_by_id: dict[int, AiidaComputer] = {}
        for cid, cuuid, label, host, desc, sched, transport in conn.execute(
            "SELECT id, uuid, label, hostname, description, scheduler_type, transport_type FROM db_dbcomputer"
        ):
            computers_by_id[cid] = AiidaComputer(
                cuuid, label or "", host or "", desc or "", sched or "", transport or ""
            )
        nodes_by_id: dict[int, AiidaNode] = {}
        codes: list[AiidaCode] = []
        for row in conn.execute(
            "SELECT id, uuid, node_type, process_type, label, description, ctime, mtime, attributes, "
            "user_id, dbcomputer_id FROM db_dbnode ORDER BY id"
        ):
            nid, nuuid, ntype, ptype, label, desc, ctime, mtime, attrs, user_id, comp_id = row
            raw = _json(attrs)
            user = users_by_id.get(user_id)
            computer = computers_by_id.get(comp_id)
            node = AiidaNode(
                uuid=nuuid,
                node_type=ntype or "",
                process_type=ptype or "",
                label=label or "",
                description=desc or "",
                ctime=_parse_time(ctime),
                mtime=_parse_time(mtime),
                user=user.email if user else None,
                computer=computer.uuid if computer else None,
                attributes=summarize_attributes(raw),
            )
            nodes_by_id[nid] = node
            if node.is_code:
                codes.append(_code(node, raw if isinstance(raw, dict) else {}))
        links: list[AiidaLink] = []
        for src, dst, label, ltype in conn.execute(
            "SELECT input_id, output_id, label, type FROM db_dblink ORDER BY id"
        ):
            if src not in nodes_by_id or dst not in nodes_by_id:
                raise AiidaArchiveError(f"link {label!r} ({ltype}) refers to a node missing from the archive")
            links.append(
                AiidaLink(nodes_by_id[src].uuid, nodes_by_id[dst].uuid, _link_type(ltype), label or "")
            )
        groups: list[AiidaGroup] = []
        if {"db_dbgroup", "db_dbgroup_dbnodes"} <= tables:
            members: dict[int, list[str]] = {}
            for gid, nid in conn.execute("SELECT dbgroup_id, dbnode_id FROM db_dbgroup_dbnodes"):
                if nid in nodes_by_id:
                    members.setdefault(gid, []).append(nodes_by_id[nid].uuid)
            for gid, guuid, glabel, gtype in conn.execute(
                "SELECT id, uuid, label, type_string FROM db_dbgroup"
            ):
                groups.append(AiidaGroup(guuid, glabel or "", gtype or "", tuple(members.get(gid, []))))
    except sqlite3.DatabaseError as exc:
        raise AiidaArchiveError(
            f"db.sqlite3 in the archive is not a readable AiiDA database: {exc}"
        ) from None
    finally:
        conn.close()
    return AiidaGraph(
        export_version=str(meta.get("export_version", "")),
        aiida_version=str(meta.get("aiida_version", "")),
        nodes={n.uuid: n for n in nodes_by_id.values()},
        links=links,
        codes=codes,
        computers={c.uuid: c for c in computers_by_id.values()},
        users={u.email: u for u in users_by_id.values()},
        groups=groups,
    )


def _link_type(raw: Any) -> str:
    text = str(raw or "").lower()
    if text not in _LINK_TYPES:
        raise AiidaArchiveError(f"unknown AiiDA link type {raw!r}; known: {', '.join(sorted(_LINK_TYPES))}")
    return _LINK_TYPES[text]


def _from_data_json(data: dict[str, Any], meta: dict[str, Any]) -> AiidaGraph:
    export = {_OLD_ENTITY_NAMES.get(k, k): v for k, v in (data.get("export_data") or {}).items()}
    attributes = data.get("node_attributes") or {}
    users_by_pk: dict[str, AiidaUser] = {}
    for pk, raw in (export.get("User") or {}).items():
        users_by_pk[str(pk)] = AiidaUser(
            raw.get("email") or f"user-{pk}",
            raw.get("first_name") or "",
            raw.get("last_name") or "",
            raw.get("institution") or "",
        )
    computers_by_pk: dict[str, AiidaComputer] = {}
    for pk, raw in (export.get("Computer") or {}).items():
        computers_by_pk[str(pk)] = AiidaComputer(
            raw.get("uuid") or f"computer-{pk}",
            raw.get("label") or raw.get("name") or "",
            raw.get("hostname") or "",
            raw.get("description") or "",
            raw.get("scheduler_type") or "",
            raw.get("transport_type") or "",
        )
    nodes: dict[str, AiidaNode] = {}
    codes: list[AiidaCode] = []
    pk_to_uuid: dict[str, str] = {}
    for pk, raw in (export.get("Node") or {}).items():
        if not isinstance(raw, dict) or not raw.get("uuid"):
            raise AiidaArchiveError(f"data.json: node {pk} has no uuid")
        attrs = attributes.get(str(pk)) or {}
        user = users_by_pk.get(str(raw.get("user")))
        computer = computers_by_pk.get(str(raw.get("dbcomputer")))
        node = AiidaNode(
            uuid=raw["uuid"],
            node_type=raw.get("node_type") or raw.get("type") or "",
            process_type=raw.get("process_type") or "",
            label=raw.get("label") or "",
            description=raw.get("description") or "",
            ctime=_parse_time(raw.get("ctime")),
            mtime=_parse_time(raw.get("mtime")),
            user=user.email if user else None,
            computer=computer.uuid if computer else None,
            attributes=summarize_attributes(attrs),
        )
        nodes[node.uuid] = node
        pk_to_uuid[str(pk)] = node.uuid
        if node.is_code:
            codes.append(_code(node, attrs if isinstance(attrs, dict) else {}))
    links: list[AiidaLink] = []
    for raw in data.get("links_uuid") or []:
        src, dst = raw.get("input"), raw.get("output")
        if src not in nodes or dst not in nodes:
            raise AiidaArchiveError(
                f"data.json: link {raw.get('label')!r} refers to a node not in the archive"
            )
        links.append(AiidaLink(src, dst, _link_type(raw.get("type")), raw.get("label") or ""))
    groups: list[AiidaGroup] = []
    members = data.get("groups_uuid") or {}
    for _pk, raw in (export.get("Group") or {}).items():
        guuid = raw.get("uuid") or ""
        groups.append(
            AiidaGroup(
                guuid,
                raw.get("label") or raw.get("name") or "",
                raw.get("type_string") or "",
                tuple(members.get(guuid, [])),
            )
        )
    return AiidaGraph(
        export_version=str(meta.get("export_version", "")),
        aiida_version=str(meta.get("aiida_version", "")),
        nodes=nodes,
        links=links,
        codes=codes,
        computers={c.uuid: c for c in computers_by_pk.values()},
        users={u.email: u for u in users_by_pk.values()},
        groups=groups,
    )


class _Members:
    """Uniform, capped, in-memory access to the few members needed, from a zip or a tar archive."""

    def __init__(self, path: Path, stack: contextlib.ExitStack) -> None:
        self.zip: zipfile.ZipFile | None = None
        self.tar: tarfile.TarFile | None = None
        self.tar_members: dict[str, tarfile.TarInfo] = {}
        if zipfile.is_zipfile(path):
            self.zip = stack.enter_context(zipfile.ZipFile(path))
            raw_names = self.zip.namelist()
        else:
            tar = stack.enter_context(tarfile.open(path, "r:*"))  # noqa: SIM115 (closed by the stack)
            self.tar = tar
            infos = tar.getmembers()
            raw_names = [info.name for info in infos]
            self.tar_members = {_strip_dot(info.name): info for info in infos}
        _check_names(raw_names)
        self.names = {_strip_dot(n) for n in raw_names}

    def read(self, name: str, cap: int) -> bytes:
        if self.zip is not None:
            return _read_member(self.zip, name, cap)
        assert self.tar is not None
        info = self.tar_members[name]
        if not info.isfile():
            raise AiidaArchiveError(f"archive member {name!r} is not a regular file")
        if info.size > cap:
            raise AiidaArchiveError(f"archive member {name!r} is {info.size} bytes, over the {cap}-byte cap")
        handle = self.tar.extractfile(info)
        if handle is None:
            raise AiidaArchiveError(f"archive member {name!r} cannot be read")
        with handle:
            data = handle.read(cap + 1)
        if len(data) > cap:
            raise AiidaArchiveError(f"archive member {name!r} inflates past the {cap}-byte cap")
        return data


def _strip_dot(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def read_archive(path: Path, *, max_member_bytes: int = MAX_MEMBER_BYTES) -> AiidaGraph:
    """Read the provenance graph (nodes, links, codes, computers, users, groups) of an AiiDA archive.

    Zip archives of every export version from 0.4 on are read; so are tar(.gz) exports of the
    ``data.json`` kind that older AiiDA versions could write.
    """
    path = Path(path)
    if not path.is_file():
        raise AiidaArchiveError(f"no AiiDA archive at {path}: the file does not exist")
    if not zipfile.is_zipfile(path) and not tarfile.is_tarfile(path):
        raise AiidaArchiveError(
            f"{path.name} is neither a zip nor a tar file, so it is not an AiiDA archive "
            "(export one with 'verdi archive create')"
        )
    try:
        with contextlib.ExitStack() as stack:
            members = _Members(path, stack)
            if "metadata.json" not in members.names:
                raise AiidaArchiveError(f"{path.name} has no metadata.json, so it is not an AiiDA archive")
            meta = json.loads(members.read("metadata.json", min(max_member_bytes, 64 << 20)))
            if not isinstance(meta, dict):
                raise AiidaArchiveError("metadata.json is not a JSON object")
            if "db.sqlite3" in members.names:
                return _from_sqlite(members.read("db.sqlite3", max_member_bytes), meta)
            if "data.json" in members.names:
                data = json.loads(members.read("data.json", max_member_bytes))
                if not isinstance(data, dict):
                    raise AiidaArchiveError("data.json is not a JSON object")
                return _from_data_json(data, meta)
            raise AiidaArchiveError(
                f"{path.name} holds neither db.sqlite3 nor data.json; unsupported export version "
                f"{meta.get('export_version')!r}"
            )
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        tarfile.TarError,
        EOFError,
        RuntimeError,
        OSError,
    ) as exc:
        # RuntimeError: an encrypted zip member; EOFError/OSError: a truncated or unreadable file.
        raise AiidaArchiveError(f"cannot read {path.name} as an AiiDA archive: {exc}") from None
    except json.JSONDecodeError as exc:
        raise AiidaArchiveError(f"{path.name}: invalid JSON in the archive ({exc})") from None


# ---------------------------------------------------------------------------------------- mapping


def user_agent_id(email: str) -> str:
    return f"aiida-user:{email}"


def computer_agent_id(uuid: str) -> str:
    return f"aiida-computer:{uuid}"


def _type_name(node: AiidaNode) -> str:
    """A readable fallback label: the process plugin (``quantumespresso.pw``) or class (``Int``)."""
    if node.process_type:
        return node.process_type.rsplit(":", 1)[-1]
    return node.node_type.rstrip(".").rsplit(".", 1)[-1] or node.uuid


def _activity_type(node: AiidaNode) -> ActivityType:
    # A CalcJob runs an external simulation code; a calcfunction is in-process Python (analysis).
    if "calcfunction" in node.node_type.lower() or "inline" in node.node_type.lower():
        return ActivityType.ANALYSIS
    return ActivityType.SIMULATION


def aiida_to_prov(graph: AiidaGraph) -> ProvGraph:
    """Map an archive to PROV: processes become activities/workflows, data nodes datasets, and codes,
    computers and users become agents associated with the processes that used them."""
    prov = ProvGraph()
    for user in graph.users.values():
        prov.add_node(
            AgentNode(
                id=user_agent_id(user.email),
                agent_type=AgentType.PERSON,
                label=user.name,
                attributes={"email": user.email, "institution": user.institution},
            )
        )
    for comp in graph.computers.values():
        prov.add_node(
            AgentNode(
                id=computer_agent_id(comp.uuid),
                agent_type=AgentType.COMPUTER,
                label=comp.label,
                description=comp.description,
                attributes={
                    "hostname": comp.hostname,
                    "scheduler_type": comp.scheduler_type,
                    "transport_type": comp.transport_type,
                },
            )
        )
    codes = {c.uuid: c for c in graph.codes}
    for node in graph.nodes.values():
        base: dict[str, Any] = {"aiida_node_type": node.node_type, **node.attributes}
        if node.process_type:
            base["aiida_process_type"] = node.process_type
        if node.uuid in codes:
            code = codes[node.uuid]
            prov.add_node(
                AgentNode(
                    id=node.uuid,
                    agent_type=AgentType.SOFTWARE,
                    label=node.label,
                    description=node.description,
                    created_at=node.ctime,
                    attributes={
                        "aiida_node_type": node.node_type,
                        "input_plugin": code.input_plugin,
                        "executable": code.executable,
                    },
                )
            )
        elif node.is_workflow:
            prov.add_node(
                WorkflowNode(
                    id=node.uuid,
                    label=node.label or _type_name(node),
                    description=node.description,
                    attributes=base,
                    created_at=node.ctime,
                    started_at=node.ctime,
                    ended_at=node.mtime,
                )
            )
        elif node.is_process:
            prov.add_node(
                ActivityNode(
                    id=node.uuid,
                    label=node.label or _type_name(node),
                    description=node.description,
                    attributes=base,
                    activity_type=_activity_type(node),
                    created_at=node.ctime,
                    started_at=node.ctime,
                    ended_at=node.mtime,
                )
            )
        else:
            prov.add_node(
                DatasetNode(
                    id=node.uuid,
                    label=node.label or _type_name(node),
                    description=node.description,
                    attributes=base,
                    created_at=node.ctime,
                )
            )
    edges: list[tuple[str, LinkType | str, str, str]] = []
    for node in graph.nodes.values():
        if node.is_process and node.uuid not in codes:
            if node.user:
                edges.append((user_agent_id(node.user), LinkType.ASSOCIATED_WITH, node.uuid, "user"))
            if node.computer:
                edges.append(
                    (computer_agent_id(node.computer), LinkType.ASSOCIATED_WITH, node.uuid, "computer")
                )
    for link in graph.links:
        if link.input in codes:
            # A code used by a process is the software agent that ran it.
            edges.append((link.input, LinkType.ASSOCIATED_WITH, link.output, link.label or "code"))
        else:
            edges.append((link.input, link.type, link.output, link.label))
    generated = {link.output for link in graph.links if link.type == "create"}
    for node in graph.nodes.values():
        if not node.is_process and node.uuid not in codes and node.uuid not in generated and node.user:
            edges.append((user_agent_id(node.user), LinkType.ATTRIBUTED_TO, node.uuid, ""))
    try:
        prov.add_edges(edges)  # one linear-time cycle check for the whole archive
    except ProvenanceError as exc:
        raise AiidaArchiveError(f"the archive's links cannot be mapped to provenance: {exc}") from None
    return prov
