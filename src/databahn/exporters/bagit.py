"""BagIt 1.0 bags (RFC 8493): the files with sha256 and md5 manifests, for transfer and preservation.

Written directly rather than through bagit-python, because the bytes come streamed from the hub's
store (never from a local directory) and are hashed once on the way in. The DataCite and schema.org
records go in as tag files, so a bag stays self-describing after it leaves the hub.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from databahn.domain.records import VersionRecord
from databahn.exporters import common as c
from databahn.exporters.base import ExportContext, ExportError, PackageExporter
from databahn.exporters.datacite import DataCiteExporter
from databahn.exporters.package import copy_file, materialise
from databahn.exporters.schemaorg import SchemaOrgExporter

ALGORITHMS = ("sha256", "md5")


def _encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: percent-encode CR, LF and % in manifest paths."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def bag_info(record: VersionRecord, ctx: ExportContext, octets: int, count: int) -> list[tuple[str, str]]:
    md = record.metadata
    info: list[tuple[str, str]] = [
        ("Source-Organization", c.publisher(record, ctx)),
        ("Bagging-Date", ctx.now.date().isoformat()),
        ("Bag-Software-Agent", f"{ctx.hub_name} (databahn)"),
        ("External-Identifier", c.persistent_url(record, ctx)),
        ("External-Identifier", record.pid),
        ("Bag-Group-Identifier", record.concept_pid),
        ("Payload-Oxum", f"{octets}.{count}"),
        ("Bag-Size", _human_size(octets)),
        ("Title", md.title),
        ("Version", c.version_label(record)),
    ]
    if ctx.contact_email:
        info.append(("Contact-Email", ctx.contact_email))
    if md.description:
        info.append(("External-Description", _one_line(md.description)[:4000]))
    for p in md.creators:
        info.append(("Creator", p.name + (f" ({c.ORCID_BASE}{p.orcid})" if p.orcid else "")))
    lic = c.license_links(md.license)
    if lic:
        info.append(("License", lic[1]))
    info.append(("Access-Rights", c.ACCESS_RIGHTS[c.access_level(record, ctx)]))
    info.append(("Access-Conditions", c.access_statement(record, ctx)))
    info.append(("Landing-Page", c.landing_url(record, ctx)))
    return [(k, _one_line(v)) for k, v in info]


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _hash_file(path: Path) -> dict[str, str]:
    hashes = {a: hashlib.new(a, usedforsecurity=False) for a in ALGORITHMS}
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            for h in hashes.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashes.items()}


class BagItExporter(PackageExporter):
    name = "bagit"
    label = "BagIt 1.0 bag"

    def export_package(self, record: VersionRecord, ctx: ExportContext, dest: Path) -> Path:
        def build(root: Path) -> None:
            payload: dict[str, dict[str, str]] = {}
            octets = 0
            data = root / "data"
            data.mkdir()
            # Withheld or external files are not copied; the tag files say how to get them.
            copy = [f for f in record.files if not (f.external_url and not f.sha256)]
            if c.include_files(record) and ctx.open_file is not None:
                for f in copy:
                    path = "data/" + c.safe_relpath(f.key)
                    d = copy_file(ctx, f, root / path)
                    payload[path] = {"sha256": d.sha256.hexdigest(), "md5": d.md5.hexdigest()}
                    octets += d.size
            elif c.include_files(record) and copy:
                raise ExportError(
                    "a BagIt bag must contain the files, but no file reader was given; "
                    "pass ExportContext(open_file=...) (the CLI does this when it runs inside a hub)"
                )
            (root / "bagit.txt").write_text(
                "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", "utf-8"
            )
            for algo in ALGORITHMS:
                lines = [f"{h[algo]}  {_encode_path(p)}\n" for p, h in sorted(payload.items())]
                (root / f"manifest-{algo}.txt").write_text("".join(lines), "utf-8")
            info = bag_info(record, ctx, octets, len(payload))
            (root / "bag-info.txt").write_text("".join(f"{k}: {v}\n" for k, v in info), "utf-8")
            meta = root / "metadata"
            meta.mkdir()
            (meta / "datacite.xml").write_bytes(DataCiteExporter().export(record, ctx))
            (meta / "schemaorg.jsonld").write_bytes(SchemaOrgExporter().export(record, ctx))
            tags = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(data))
            for algo in ALGORITHMS:
                lines = [
                    f"{_hash_file(p)[algo]}  {_encode_path(p.relative_to(root).as_posix())}\n" for p in tags
                ]
                (root / f"tagmanifest-{algo}.txt").write_text("".join(lines), "utf-8")

        folder = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in record.pid)
        return materialise(dest, build, top_folder=folder)
