"""AiiDA export archives (.aiida): provenance summary, codes, computers and the structures inside.

The graph (nodes, links, codes, computers, users) is read by `databahn.provenance.aiida_archive`,
which handles both archive layouts (SQLite `db.sqlite3` and legacy `data.json`) with capped reads.
That reader shortens node attributes, so the StructureData cells and sites are read here from the
same members, again size-capped, to report formulas and lattices (the OPTIMADE API serves them).
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from databahn.extractors._common import reduced_hill_formula, technique_iri
from databahn.extractors.base import ExtractionResult, Extractor, Software, Structure, UnsupportedFile

MAX_MEMBER_BYTES = 512 * 1024**2
MAX_STRUCTURES = 50
#: nodes listed in the result (links: twice as many); the full graph goes to the provenance service
MAX_LISTED_NODES = 500
#: AiiDA calculation plugins of DFT codes
DFT_PLUGINS = (
    "quantumespresso.",
    "vasp.",
    "cp2k",
    "siesta.",
    "fleur.",
    "abinit",
    "castep",
    "gpaw",
    "wannier90",
)


class AiidaExtractor(Extractor):
    """AiiDA export archives, current (main_0001) and legacy (0.4 to 0.13) formats."""

    name = "aiida"
    label = "AiiDA export archive"
    suffixes = (".aiida",)

    def sniff(self, path: Path, head: bytes) -> float:
        if not head.startswith(b"PK\x03\x04"):
            return 0.0
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist()[:100_000])
        except (zipfile.BadZipFile, OSError):
            return 0.3 if path.suffix.lower() == ".aiida" else 0.0
        if "metadata.json" in names and ({"db.sqlite3", "data.json"} & names):
            return 0.97
        return 0.3 if path.suffix.lower() == ".aiida" else 0.0

    def extract(self, path: Path) -> ExtractionResult:
        from databahn.provenance.aiida_archive import read_archive
        from databahn.provenance.model import ProvenanceError

        try:
            graph = read_archive(path)
        except ProvenanceError as exc:
            raise UnsupportedFile(f"could not read AiiDA archive: {exc}") from exc
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, sqlite3.Error, ValueError) as exc:
            raise UnsupportedFile(f"could not read: the AiiDA archive is corrupt ({exc})") from exc
        nodes = list(graph.nodes.values())
        by_type = Counter(_short_type(n.node_type) for n in nodes)
        processes = Counter(n.process_type or _short_type(n.node_type) for n in nodes if n.is_process)
        links = Counter(link.type for link in graph.links)
        times = [t for n in nodes for t in (n.ctime, n.mtime) if t is not None]
        codes = [
            {
                "label": c.label,
                "plugin": c.input_plugin,
                "executable": c.executable,
                "computer": _computer(graph, c),
            }
            for c in graph.codes
        ]
        plugins = [c.input_plugin or "" for c in graph.codes] + [n.process_type or "" for n in nodes]
        is_dft = any(p.startswith(DFT_PLUGINS) or any(d in p for d in DFT_PLUGINS) for p in plugins)
        structures = _structures(path, graph)
        engine = _engine(plugins)
        for s in structures:
            s.engine = engine
        provenance: dict[str, Any] = {
            "export_version": graph.export_version,
            "aiida_version": graph.aiida_version,
            "n_nodes": len(nodes),
            "nodes_by_type": dict(by_type.most_common()),
            "processes": dict(processes.most_common()),
            "n_links": len(graph.links),
            "links_by_type": dict(links.most_common()),
            "codes": codes,
            "computers": [
                {"label": c.label, "hostname": c.hostname, "scheduler": c.scheduler_type}
                for c in graph.computers.values()
            ],
            "n_users": len(graph.users),
            "institutions": sorted({u.institution for u in graph.users.values() if u.institution}),
            "groups": [
                {"label": g.label, "type": g.type_string, "n_nodes": len(g.nodes)} for g in graph.groups
            ][:50],
            "nodes": [
                {
                    "uuid": n.uuid,
                    "type": _short_type(n.node_type),
                    "process_type": n.process_type or None,
                    "label": n.label or None,
                    "ctime": n.ctime.isoformat() if n.ctime else None,
                }
                for n in nodes[:MAX_LISTED_NODES]
            ],
            "links": [
                {"input": lk.input, "output": lk.output, "type": lk.type, "label": lk.label}
                for lk in graph.links[: 2 * MAX_LISTED_NODES]
            ],
            "truncated": len(nodes) > MAX_LISTED_NODES or len(graph.links) > 2 * MAX_LISTED_NODES,
        }
        technique = "DFT simulation" if is_dft else "simulation"
        return ExtractionResult(
            extractor=self.name,
            format=f"AiiDA export archive (format {graph.export_version})",
            media_type="application/zip",
            technique=technique,
            technique_iri=technique_iri(technique),
            software=Software(name="AiiDA", version=graph.aiida_version or None),
            open_format=True,
            start_time=min(times) if times else None,
            time_span_s=(max(times) - min(times)).total_seconds() if len(times) > 1 else None,
            n_points=len(nodes),
            structures=structures,
            provenance=provenance,
            archive={
                "n_nodes": len(nodes),
                "n_links": len(graph.links),
                "export_version": graph.export_version,
            },
            extra={"engine": engine} if engine else {},
        )


def _short_type(node_type: str) -> str:
    """'data.core.structure.StructureData.' -> 'StructureData'."""
    parts = [p for p in node_type.split(".") if p]
    return parts[-1] if parts else node_type


def _computer(graph: Any, code: Any) -> str | None:
    comp = graph.computers.get(code.computer) if code.computer else None
    return comp.label if comp is not None else None


def _engine(plugins: list[str]) -> str | None:
    names = {"quantumespresso": "Quantum ESPRESSO", "vasp": "VASP", "cp2k": "CP2K", "siesta": "SIESTA"}
    for p in plugins:
        for key, label in names.items():
            if key in p.lower():
                return label
    return None


def _read_capped(zf: zipfile.ZipFile, name: str) -> bytes:
    out = bytearray()
    with zf.open(name) as fh:
        while chunk := fh.read(1 << 20):
            out += chunk
            if len(out) > MAX_MEMBER_BYTES:
                raise UnsupportedFile(f"could not read: {name} expands beyond {MAX_MEMBER_BYTES} bytes")
    return bytes(out)


def _raw_structure_attributes(path: Path, uuids: list[str]) -> dict[str, dict[str, Any]]:
    """Full attributes (cell, kinds, sites) of the given StructureData nodes, from either layout."""
    if not uuids:
        return {}
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if "db.sqlite3" in names:
            conn = sqlite3.connect(":memory:")
            try:
                conn.deserialize(_read_capped(zf, "db.sqlite3"))
                marks = ",".join("?" * len(uuids))
                rows = conn.execute(f"SELECT uuid, attributes FROM db_dbnode WHERE uuid IN ({marks})", uuids)
                return {u: (json.loads(a) if isinstance(a, str | bytes) else a) or {} for u, a in rows}
            finally:
                conn.close()
        if "data.json" in names:
            data = json.loads(_read_capped(zf, "data.json"))
            attrs = data.get("node_attributes", {})
            pk_by_uuid = {
                v.get("uuid"): k
                for k, v in data.get("export_data", {}).get("Node", {}).items()
                if isinstance(v, dict)
            }
            return {u: attrs.get(str(pk_by_uuid.get(u)), {}) for u in uuids}
    return {}


def _structures(path: Path, graph: Any) -> list[Structure]:
    uuids = [u for u, n in graph.nodes.items() if n.node_type.endswith("StructureData.")][:MAX_STRUCTURES]
    try:
        raw = _raw_structure_attributes(path, uuids)
    except (sqlite3.Error, ValueError, KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise UnsupportedFile(f"could not read the structures in the AiiDA archive: {exc}") from exc
    out: list[Structure] = []
    for u in uuids:
        s = _structure(raw.get(u) or {})
        if s is not None:
            out.append(s)
    return out


def _structure(attrs: dict[str, Any]) -> Structure | None:
    """An AiiDA StructureData's attributes -> Structure (single-symbol kinds; alloys use the first)."""
    kinds = {k.get("name"): k.get("symbols", ["X"]) for k in attrs.get("kinds", []) if isinstance(k, dict)}
    sites = [s for s in attrs.get("sites", []) if isinstance(s, dict)]
    cell = attrs.get("cell")
    if not sites or not kinds:
        return None
    species = [str((kinds.get(s.get("kind_name")) or ["X"])[0]) for s in sites]
    positions = [[float(v) for v in s.get("position", [0, 0, 0])] for s in sites]
    lattice = [[float(v) for v in row] for row in cell] if isinstance(cell, list) and len(cell) == 3 else None
    volume = None
    if lattice:
        import numpy as np

        volume = abs(float(np.linalg.det(np.asarray(lattice))))
        lengths = [float(np.linalg.norm(v)) for v in lattice]
    pbc = [bool(attrs.get(f"pbc{i}", True)) for i in (1, 2, 3)]
    return Structure(
        engine=None,
        energy_ev=None,
        formula=reduced_hill_formula(species),
        elements=sorted(set(species)),
        n_sites=len(species),
        lattice=lattice,
        cell_lengths=lengths if lattice else None,
        volume=volume,
        species=species,
        cartesian_positions=positions,
        pbc=pbc,
    )
