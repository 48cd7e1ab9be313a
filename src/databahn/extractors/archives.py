"""Archives (.zip, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz): a content summary, and a look inside.

Every member is validated by `safety.safe_members` first (no `../` or absolute names, no links or
devices, bounded member count, size and expansion ratio), so a hostile archive is refused as a
whole with the reason. Then the calculation folders are recognised by their files (INCAR/OUTCAR,
pw.x input/output, ...) and a budgeted number of interesting members are extracted into a private
temporary folder and run through the other installed extractors, one level deep.
"""

from __future__ import annotations

import lzma
import re
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from databahn.extractors._common import technique_iri
from databahn.extractors.base import ExtractionResult, Extractor, QualityFlag, Structure, UnsupportedFile

#: at most this many members are extracted and inspected, each at most MAX_INNER_BYTES
MAX_INNER_FILES = 25
MAX_INNER_BYTES = 64 * 1024**2
MAX_INNER_TOTAL = 256 * 1024**2
INNER_TIME_BUDGET_S = 30.0
#: extractors never run on members (no nested archive expansion)
NO_RECURSE = {"archives", "aiida"}

#: file-name patterns that mark a calculation folder, by engine
CALC_MARKERS: dict[str, tuple[str, ...]] = {
    "VASP": ("INCAR", "OUTCAR", "vasprun.xml", "POSCAR", "CONTCAR", "KPOINTS", "OSZICAR", "XDATCAR"),
    "Quantum ESPRESSO": (
        "data-file-schema.xml",
        "pw.out",
        "pw.in",
        "aiida.in",
        "aiida.out",
        "scf.in",
        "scf.out",
    ),
    "CP2K": ("cp2k.inp", "cp2k.out"),
    "LAMMPS": ("log.lammps", "in.lammps"),
    "Gaussian": (".gjf", ".log"),
}
#: inspection priority: lower runs first
PRIORITY = [
    r"(^|/)vasprun\.xml(\.gz)?$",
    r"(^|/)OUTCAR(\.gz)?$",
    r"(^|/)data-file-schema\.xml$",
    r"\.(out|pwo)$",
    r"(^|/)(CONTCAR|POSCAR)$",
    r"\.(cif|xyz|extxyz|traj)$",
    r"\.(xrdml|brml|raw|xy|xye|uxd|xdi|xmu|prj)$",
    r"\.(mpr|mpt|nda|ndax|res|dta|csv|txt|dat|h5|hdf5|nc|nxs|mat|json)$",
]


def _kind_from_head(head: bytes) -> str | None:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return "compressed"
    return None


class ArchiveExtractor(Extractor):
    """ZIP and tar archives (plain or gzip/bzip2/xz compressed)."""

    name = "archives"
    label = "zip or tar archive"
    suffixes = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

    def sniff(self, path: Path, head: bytes) -> float:
        kind = _kind_from_head(head)
        if kind == "zip":
            # OOXML (xlsx/docx), BRML, NDAX and AiiDA archives are zips with their own extractors
            return 0.5 if path.suffix.lower() == ".zip" else 0.3
        if kind == "tar":
            return 0.8
        if kind == "compressed":
            from databahn.extractors.safety import UnsafeContent, archive_kind

            try:
                return 0.8 if (archive_kind(path) or "").startswith("tar") else 0.0
            except (UnsafeContent, zlib.error, OSError, EOFError, lzma.LZMAError):
                return 0.0  # corrupt compressed data: not recognisably an archive
        return 0.0

    def extract(self, path: Path) -> ExtractionResult:
        from databahn.extractors.safety import archive_kind, safe_members

        kind = archive_kind(path)
        if kind is None:
            raise UnsupportedFile("could not read: not a zip or tar archive")
        members = list(safe_members(path))
        files = [m for m in members if not m.is_dir]
        if not files:
            raise UnsupportedFile("could not read: the archive is empty (no files)")
        total = sum(m.size for m in files)
        size = path.stat().st_size
        by_ext = Counter(_ext(m.name) for m in files)
        top = Counter(m.name.split("/", 1)[0] for m in files)
        calc_dirs = _calculation_folders([m.name for m in files])
        inner, structures, quality = self._inspect_members(path, files)
        engines = sorted({c["engine"] for c in calc_dirs})
        summary: dict[str, Any] = {
            "kind": kind,
            "n_files": len(files),
            "n_dirs": len(members) - len(files),
            "total_bytes": total,
            "compressed_bytes": size,
            "expansion_ratio": round(total / size, 2) if size else None,
            "by_extension": dict(by_ext.most_common(30)),
            "top_level": dict(top.most_common(20)),
            "calculation_folders": calc_dirs[:200],
            "members": [{"name": m.name, "size": m.size} for m in files[:200]],
            "members_truncated": len(files) > 200,
            "inspected": inner,
        }
        technique = (
            "DFT simulation" if engines and set(engines) & {"VASP", "Quantum ESPRESSO", "CP2K"} else None
        )
        if technique is None:
            techs = Counter(i["technique"] for i in inner if i.get("technique"))
            technique = techs.most_common(1)[0][0] if techs else None
        return ExtractionResult(
            provenance=None,
            extractor=self.name,
            format={"zip": "ZIP archive"}.get(kind, f"{kind} archive"),
            media_type="application/zip" if kind == "zip" else "application/x-tar",
            technique=technique,
            technique_iri=technique_iri(technique) if technique else None,
            open_format=True,
            n_points=len(files),
            structures=structures[:50],
            archive=summary,
            quality=quality,
            extra={"engines": engines} if engines else {},
        )

    def _inspect_members(
        self, path: Path, files: list[Any]
    ) -> tuple[list[dict[str, Any]], list[Structure], list[QualityFlag]]:
        """Extract the most interesting members (bounded) and run the other extractors on them."""
        from databahn.extractors import registry
        from databahn.extractors.safety import UnsafeContent, extract_member_to

        others = [e for e in registry.get_extractors() if e.name not in NO_RECURSE]
        ranked = sorted(
            (m for m in files if 0 < m.size <= MAX_INNER_BYTES and not _boring(m.name)),
            key=lambda m: (_priority(m.name), m.name),
        )
        picked: list[Any] = []
        budget = MAX_INNER_TOTAL
        for m in ranked:
            if len(picked) >= MAX_INNER_FILES:
                break
            if _priority(m.name) >= len(PRIORITY) or m.size > budget:
                continue
            picked.append(m)
            budget -= m.size
        inner: list[dict[str, Any]] = []
        structures: list[Structure] = []
        quality: list[QualityFlag] = []
        deadline = time.monotonic() + INNER_TIME_BUDGET_S
        with tempfile.TemporaryDirectory(prefix="databahn-archive-") as tmp:
            for m in picked:
                if time.monotonic() > deadline:
                    quality.append(
                        QualityFlag(
                            code="inspection_budget",
                            severity="info",
                            message=f"stopped looking inside after {INNER_TIME_BUDGET_S:.0f} s",
                        )
                    )
                    break
                try:
                    target = extract_member_to(path, m, Path(tmp))
                except UnsafeContent as exc:
                    raise UnsupportedFile(f"could not read: {exc}") from exc
                except (
                    zipfile.BadZipFile,
                    tarfile.TarError,
                    zlib.error,
                    lzma.LZMAError,
                    OSError,
                    EOFError,
                ) as exc:
                    inner.append({"member": m.name, "error": f"corrupt member: {exc}"})
                    quality.append(
                        QualityFlag(
                            severity="warning",
                            code="corrupt_member",
                            message=f"{m.name} cannot be decompressed: {exc}",
                        )
                    )
                    continue
                entry = _run_inner(others, target, m.name)
                inner.append(entry)
                structures.extend(entry.pop("_structures", []))
                target.unlink(missing_ok=True)
        if len(ranked) > len(picked):
            quality.append(
                QualityFlag(
                    code="partially_inspected",
                    severity="info",
                    message=f"{len(picked)} of {len(files)} members were inspected (budget)",
                )
            )
        return inner, structures, quality


def _run_inner(extractors: list[Extractor], target: Path, name: str) -> dict[str, Any]:
    with open(target, "rb") as fh:
        head = fh.read(65536)
    scored = sorted(((_safe_sniff(e, target, head), e) for e in extractors), key=lambda p: -p[0])
    reasons: list[str] = []
    for score, ext in scored:
        if score <= 0:
            break
        try:
            r = ext.extract(target)
        except UnsupportedFile as exc:
            reasons.append(f"{ext.name}: {exc}")
            continue
        except Exception as exc:
            reasons.append(f"{ext.name}: {type(exc).__name__}: {exc}")
            continue
        entry: dict[str, Any] = {
            "member": name,
            "extractor": r.extractor,
            "format": r.format,
            "technique": r.technique,
            "n_points": r.n_points,
            "_structures": [s.model_copy() for s in r.structures[-1:]],
        }
        if r.software:
            entry["software"] = r.software.model_dump()
        if r.structures:
            s = r.structures[-1]
            entry["structure"] = {"formula": s.formula, "n_sites": s.n_sites, "energy_ev": s.energy_ev}
        if r.quality:
            entry["quality"] = [q.code for q in r.quality]
        return entry
    return {"member": name, "error": "; ".join(reasons) if reasons else "no extractor recognised it"}


def _safe_sniff(ext: Extractor, path: Path, head: bytes) -> float:
    try:
        return float(ext.sniff(path, head))
    except Exception:
        return 0.0


def _ext(name: str) -> str:
    p = PurePosixPath(name)
    suf = "".join(p.suffixes[-2:]).lower() if p.suffixes else ""
    if suf and not re.fullmatch(r"(\.[a-z0-9]{1,6}){1,2}", suf):
        suf = p.suffix.lower()
    return suf or p.name  # extension-less files (OUTCAR, INCAR) count by name


def _priority(name: str) -> int:
    for i, pat in enumerate(PRIORITY):
        if re.search(pat, name, re.IGNORECASE if i >= 3 else 0):
            return i
    return len(PRIORITY)


def _boring(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") or "__MACOSX" in name or base in ("WAVECAR", "CHGCAR", "CHG", "WAVEDER")


def _calculation_folders(names: list[str]) -> list[dict[str, Any]]:
    """Folders whose files identify a simulation engine (e.g. INCAR + OUTCAR -> VASP)."""
    folders: dict[str, set[str]] = {}
    for n in names:
        d, _, base = n.rpartition("/")
        folders.setdefault(d, set()).add(base)
    out = []
    for d, bases in sorted(folders.items()):
        for engine, markers in CALC_MARKERS.items():
            hits = sorted(
                b for b in bases if any(b == mk or (mk.startswith(".") and b.endswith(mk)) for mk in markers)
            )
            if engine == "Gaussian" and not any(b.endswith(".gjf") for b in hits):
                continue
            if len(hits) >= (1 if engine != "VASP" else 2) or any(
                h in ("vasprun.xml", "OUTCAR", "data-file-schema.xml") for h in hits
            ):
                out.append({"path": d or ".", "engine": engine, "files": hits[:20]})
                break
    return out
