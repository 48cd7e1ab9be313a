"""Crystal structures and atomistic trajectories: CIF, POSCAR/CONTCAR, extended XYZ, ASE .traj.

ASE (LGPL-2.1, imported lazily) reads these formats most faithfully; we only add the sniffing, a
frame budget so a long trajectory cannot exhaust memory, and the mapping to the hub's Structure
model (species and Cartesian positions are kept because the OPTIMADE API serves them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from databahn.extractors._common import (
    ase_module,
    open_maybe_compressed,
    read_head,
    series,
    structure_checks,
    structure_from_atoms,
    technique_iri,
)
from databahn.extractors.base import ExtractionResult, Extractor, QualityFlag, Software, UnsupportedFile

#: Frames kept in full (first + last are always kept); energies are collected for all frames.
MAX_FRAMES = 20_000

_POSCAR_NAMES = re.compile(r"^(POSCAR|CONTCAR)([._-].*)?$", re.IGNORECASE)


def _looks_like_poscar(head: bytes) -> bool:
    """A POSCAR has a comment line, a scale factor, then three lattice rows of three numbers."""
    lines = head.decode("latin-1").splitlines()
    if len(lines) < 7:
        return False
    try:
        [float(v) for v in lines[1].split()[:1]]
        for row in lines[2:5]:
            parts = row.split()
            if len(parts) < 3:
                return False
            [float(v) for v in parts[:3]]
    except ValueError:
        return False
    return bool(lines[1].split())


def _ase_format(path: Path, head: bytes) -> str | None:
    name = path.name
    low = name.lower()
    if head.startswith(b"- of Ulm") or (low.endswith(".traj") and head[:8] == b"- of Ulm"):
        return "traj"
    text = head[:4096].decode("latin-1")
    if low.endswith((".cif", ".mcif")) or (re.search(r"^data_", text, re.M) and "_cell_length_a" in text):
        return "cif"
    if low.endswith((".extxyz", ".xyz")):
        first = text.splitlines()[:2]
        if len(first) == 2 and first[0].strip().isdigit():
            return "extxyz"
        return None
    if _POSCAR_NAMES.match(name) or low.endswith((".vasp", ".poscar")):
        return "vasp" if _looks_like_poscar(head) else None
    return None


def _cif_text_fields(path: Path) -> dict[str, str]:
    """Pull a few CIF header items ASE does not keep (space group, source database, title)."""
    keys = (
        "_symmetry_space_group_name_H-M",
        "_space_group_name_H-M_alt",
        "_chemical_formula_sum",
        "_database_code_",
        "_cod_database_code",
        "_publ_section_title",
        "_journal_name_full",
    )
    out: dict[str, str] = {}
    with open_maybe_compressed(path) as fh:
        for raw in fh.read(2_000_000).decode("utf-8", errors="replace").splitlines():
            s = raw.strip()
            for k in keys:
                if s.startswith(k) and len(s.split(None, 1)) == 2:
                    out.setdefault(k.strip("_"), s.split(None, 1)[1].strip().strip("'\""))
    return out


class StructureExtractor(Extractor):
    """CIF, POSCAR/CONTCAR, extended XYZ and ASE trajectories."""

    name = "structures"
    label = "structure file (CIF, POSCAR/CONTCAR, extended XYZ, ASE .traj)"
    suffixes = (".cif", ".mcif", ".vasp", ".poscar", ".xyz", ".extxyz", ".traj")

    def sniff(self, path: Path, head: bytes) -> float:
        fmt = _ase_format(path, head)
        if fmt is None:
            return 0.0
        if fmt == "cif":
            text = head.decode("latin-1")
            if "_cell_length_a" not in text and "_atom_site" not in text:
                return 0.2
            # powder CIFs with measured profiles belong to the diffraction extractor
            return 0.5 if "_pd_meas" in text or "_pd_proc_intensity" in text else 0.85
        return 0.9

    def extract(self, path: Path) -> ExtractionResult:
        head = read_head(path)
        fmt = _ase_format(path, head)
        if fmt is None:
            raise UnsupportedFile(
                "could not read: not a recognisable CIF, POSCAR/CONTCAR, extended XYZ or ASE trajectory"
            )
        frames, energies, n_frames, problem = self._read_frames(path, fmt)
        fmt_names = {
            "cif": "CIF",
            "vasp": "VASP POSCAR/CONTCAR",
            "extxyz": "extended XYZ",
            "traj": "ASE trajectory",
        }
        structures = [structure_from_atoms(a) for a in frames]
        extra: dict[str, Any] = {"n_frames": n_frames}
        quality: list[QualityFlag] = []
        if problem:
            quality.append(QualityFlag(severity="warning", code="truncated", message=problem))
        if fmt == "cif":
            fields = _cif_text_fields(path)
            extra.update(fields)
            sg = fields.get("symmetry_space_group_name_H-M") or fields.get("space_group_name_H-M_alt")
            for s, a in zip(structures, frames, strict=True):
                info_sg = a.info.get("spacegroup")
                s.space_group = sg or (str(info_sg.symbol) if info_sg is not None else None)
                occ = a.info.get("occupancy")
                if occ and any(any(v < 0.999 for v in d.values()) for d in occ.values()):
                    quality.append(
                        QualityFlag(
                            code="partial_occupancy",
                            severity="info",
                            message="the CIF has partially occupied sites; species show the majority element",
                        )
                    )
                    break
        info = dict(frames[-1].info)
        for key in ("energy", "REF_energy", "DFT_energy", "free_energy", "config_type", "mp_id", "task_id"):
            val = info.get(key)
            if isinstance(val, str):
                extra[key] = val
            elif isinstance(val, int | float):
                extra[key] = float(val)
        if structures[-1].energy_ev is None:
            for key in ("energy", "REF_energy", "DFT_energy", "free_energy"):
                if isinstance(info.get(key), int | float):
                    structures[-1].energy_ev = float(info[key])
                    break
        for s in structures:
            if s.lattice is not None and s.volume is not None and s.volume <= 0:
                quality.append(
                    QualityFlag(
                        severity="warning", code="degenerate_cell", message="cell volume is zero or negative"
                    )
                )
                break
        previews = []
        finite = [(i, e) for i, e in enumerate(energies) if e is not None]
        if len(finite) > 1:
            previews.append(
                series(
                    "energy per frame",
                    "frame",
                    None,
                    "energy",
                    "eV",
                    [i for i, _ in finite],
                    [e for _, e in finite],
                )
            )
        is_traj = n_frames > 1
        return ExtractionResult(
            archive=None,
            provenance=None,
            extractor=self.name,
            format=fmt_names[fmt],
            media_type="chemical/x-cif" if fmt == "cif" else None,
            technique=("atomistic simulation" if is_traj else "crystal structure"),
            technique_iri=technique_iri("atomistic simulation") if is_traj else None,
            software=Software(name="ASE") if fmt == "traj" else None,
            open_format=True,
            n_points=n_frames,
            structures=structures,
            quality=quality + structure_checks(structures[-1]),
            previews=previews,
            extra=extra,
        )

    def _read_frames(self, path: Path, fmt: str) -> tuple[list[Any], list[float | None], int, str | None]:
        """Stream frames: keep the first and last, collect every frame's energy.

        Returns (frames, energies, n_frames, problem): a file that breaks after some good frames,
        or that has more than MAX_FRAMES, is summarised from what was read and `problem` says why."""
        ase_io = ase_module("ase.io")

        first: Any = None
        energies: list[float | None] = []
        last: Any = None
        n = 0
        problem: str | None = None
        try:
            with open_maybe_compressed(path) as fh:
                # ASE's traj reader needs a real, seekable file; others accept a text stream
                src: Any = path if fmt in ("traj", "cif") else _text(fh)
                for atoms in ase_io.iread(src, index=":", format=fmt):
                    n += 1
                    if n > MAX_FRAMES:
                        n -= 1
                        problem = f"only the first {MAX_FRAMES} frames were read"
                        break
                    energies.append(_energy(atoms))
                    first = atoms if first is None else first
                    last = atoms
        except Exception as exc:  # ASE raises many exception types on bad input
            if n == 0:
                raise UnsupportedFile(f"could not read {fmt} file: {exc.__class__.__name__}: {exc}") from exc
            problem = f"reading stopped after frame {n}: {exc.__class__.__name__}: {exc}"
        if n == 0:
            raise UnsupportedFile(f"could not read: the {fmt} file contains no structure")
        return ([first, last] if n > 1 else [first]), energies, n, problem


def _text(fh: Any) -> Any:
    import io

    return io.TextIOWrapper(fh, encoding="utf-8", errors="replace")


def _energy(atoms: Any) -> float | None:
    if getattr(atoms, "calc", None) is not None:
        try:
            return float(atoms.get_potential_energy())
        except Exception:
            return None
    for key in ("energy", "REF_energy", "DFT_energy"):
        v = atoms.info.get(key)
        if isinstance(v, int | float):
            return float(v)
    return None
