"""VASP outputs: vasprun.xml (streamed, defused), OUTCAR and XDATCAR.

vasprun.xml files reach gigabytes, so they are parsed incrementally with defusedxml's iterparse:
each ionic step is read and then dropped, which keeps memory flat and forbids entity expansion.
OUTCAR and XDATCAR are read with ASE (LGPL-2.1, imported lazily); the version line is ours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors._common import (
    ase_module,
    energy_previews,
    local,
    open_maybe_compressed,
    read_head,
    structure_checks,
    structure_from_atoms,
    technique_iri,
)
from databahn.extractors.base import (
    ExtractionResult,
    Extractor,
    QualityFlag,
    Software,
    Structure,
    UnsupportedFile,
)

MAX_STEPS = 200_000
_VERSION = re.compile(rb"vasp\.(\d+\.\d+(?:\.\d+)?)")


def _kind(path: Path, head: bytes) -> str | None:
    low = path.name.lower()
    text = head[:4096]
    if b"<modeling" in text and (b"<generator" in head or b"vasp" in head.lower()):
        return "vasprun"
    if _VERSION.search(text[:400]) and (b"executed on" in head or b"POTCAR" in head):
        return "outcar"
    if low.startswith("xdatcar") or b"Direct configuration=" in head:
        lines = head.decode("latin-1").splitlines()
        if len(lines) > 7 and any(line.startswith("Direct configuration=") for line in lines[:12]):
            return "xdatcar"
    return None


class VaspExtractor(Extractor):
    """vasprun.xml, OUTCAR and XDATCAR (also gzip-compressed)."""

    name = "vasp"
    label = "VASP output (vasprun.xml, OUTCAR, XDATCAR)"
    suffixes = (".xml", ".gz")

    def sniff(self, path: Path, head: bytes) -> float:
        if head[:2] == b"\x1f\x8b":
            import gzip
            import zlib

            try:
                head = gzip.decompress(head)
            except (OSError, EOFError, zlib.error):
                try:
                    head = zlib.decompressobj(31).decompress(head, 65536)
                except zlib.error:
                    return 0.0
        return 0.95 if _kind(path, head) else 0.0

    def extract(self, path: Path) -> ExtractionResult:
        head = read_head(path)
        kind = _kind(path, head)
        if kind == "vasprun":
            return self._vasprun(path)
        if kind == "outcar":
            return self._outcar(path, head)
        if kind == "xdatcar":
            return self._xdatcar(path)
        raise UnsupportedFile("could not read: not a VASP vasprun.xml, OUTCAR or XDATCAR")

    # -- vasprun.xml ---------------------------------------------------------------------------

    def _vasprun(self, path: Path) -> ExtractionResult:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, iterparse

        gen: dict[str, str] = {}
        incar: dict[str, str] = {}
        species: list[str] = []
        initial: Any = None
        final: Any = None
        energies: list[float] = []
        last_struct: Any = None
        n_kpoints: int | None = None
        depth = 0
        try:
            with open_maybe_compressed(path) as fh:
                for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=True):
                    if event == "start":
                        depth += 1
                        continue
                    depth -= 1
                    tag = local(elem.tag)
                    if tag == "generator":
                        gen = {i.get("name", ""): (i.text or "").strip() for i in elem.iter("i")}
                    elif tag == "incar" and depth == 1:
                        incar = {i.get("name", ""): (i.text or "").strip() for i in elem if i.get("name")}
                        elem.clear()
                    elif tag == "kpoints" and depth == 1:
                        for va in elem.iter("varray"):
                            if va.get("name") == "kpointlist":
                                n_kpoints = len(va)
                        elem.clear()
                    elif tag == "atominfo":
                        species = _atominfo_species(elem)
                        elem.clear()
                    elif tag == "structure" and depth == 1:
                        if elem.get("name") == "initialpos":
                            initial = _structure_arrays(elem)
                        elif elem.get("name") == "finalpos":
                            final = _structure_arrays(elem)
                        elem.clear()
                    elif tag == "calculation" and depth == 1:
                        # e_fr_energy (free energy, what ASE reports): VASP 5.x writes a wrong
                        # e_0_energy into the final <energy> block of each ionic step
                        en = elem.find("energy")
                        if en is not None:
                            for i in en.findall("i"):
                                if i.get("name") == "e_fr_energy" and i.text:
                                    energies.append(float(i.text))
                        st = elem.find("structure")
                        if st is not None:
                            last_struct = _structure_arrays(st)
                        elem.clear()
                        if len(energies) > MAX_STEPS:
                            raise UnsupportedFile(f"could not read: more than {MAX_STEPS} ionic steps")
                    elif depth > 2 and tag in ("dos", "eigenvalues", "projected", "partial"):
                        elem.clear()
        except DefusedXmlException as exc:
            raise UnsupportedFile("could not read: vasprun.xml declares a DTD or entities (refused)") from exc
        except (ParseError, EOFError, OSError, zlib.error) as exc:
            if not species or (initial is None and last_struct is None):
                raise UnsupportedFile(f"could not read: malformed vasprun.xml ({exc})") from exc
            truncated = str(exc)
        else:
            truncated = ""
        if not species:
            raise UnsupportedFile("could not read: vasprun.xml has no <atominfo> block (not a VASP run?)")
        version = gen.get("version", "").strip() or None
        structures: list[Structure] = []
        quality: list[QualityFlag] = []
        cell_pos = final or last_struct or initial
        if cell_pos is not None:
            structures.append(
                _make_structure(
                    species, cell_pos, version, energies[-1] if energies and cell_pos is not initial else None
                )
            )
        if truncated:
            quality.append(
                QualityFlag(
                    code="truncated",
                    severity="error",
                    message=f"vasprun.xml ends early ({truncated}); the run probably did not finish",
                )
            )
        elif final is None:
            quality.append(
                QualityFlag(severity="warning", code="no_final_structure", message="no finalpos block")
            )
        start: dt.datetime | None = None
        if gen.get("date") and gen.get("time"):
            try:
                start = dt.datetime.strptime(f"{gen['date']} {gen['time']}", "%Y %m %d %H:%M:%S")
            except ValueError:
                start = None
        extra: dict[str, Any] = {
            "ionic_steps": len(energies),
            "incar": {k: incar[k] for k in list(incar)[:60]},
            "subversion": gen.get("subversion"),
            "platform": gen.get("platform"),
        }
        if n_kpoints is not None:
            extra["n_kpoints"] = n_kpoints
        previews = energy_previews(energies)
        return ExtractionResult(
            archive=None,
            provenance=None,
            extractor=self.name,
            format="VASP vasprun.xml",
            media_type="application/xml",
            technique="DFT simulation",
            technique_iri=technique_iri("DFT simulation"),
            software=Software(name="VASP", version=version),
            open_format=True,
            start_time=start,
            n_points=len(energies),
            structures=structures,
            quality=quality + (structure_checks(structures[-1]) if structures else []),
            previews=previews,
            extra=extra,
        )

    # -- OUTCAR --------------------------------------------------------------------------------

    def _outcar(self, path: Path, head: bytes) -> ExtractionResult:
        m = _VERSION.search(head[:400])
        version = m.group(1).decode() if m else None
        start: dt.datetime | None = None
        d = re.search(rb"executed on\s+\S+\s+date\s+(\d{4}\.\d\d\.\d\d)\s+(\d\d:\d\d:\d\d)", head)
        if d:
            start = dt.datetime.strptime(f"{d.group(1).decode()} {d.group(2).decode()}", "%Y.%m.%d %H:%M:%S")
        atoms_list, energies, _ = _ase_frames(path, "vasp-out")
        quality: list[QualityFlag] = []
        finished = _tail_contains(path, b"General timing and accounting")
        if not finished:
            quality.append(
                QualityFlag(
                    severity="warning",
                    code="not_finished",
                    message="OUTCAR has no final timing block: the run did not finish",
                )
            )
        structures = [structure_from_atoms(atoms_list[-1], "VASP", version)]
        previews = energy_previews(energies)
        return ExtractionResult(
            archive=None,
            provenance=None,
            extractor=self.name,
            format="VASP OUTCAR",
            technique="DFT simulation",
            technique_iri=technique_iri("DFT simulation"),
            software=Software(name="VASP", version=version),
            open_format=True,
            start_time=start,
            n_points=len(energies),
            structures=structures,
            quality=quality + (structure_checks(structures[-1]) if structures else []),
            previews=previews,
            extra={"ionic_steps": len(energies), "finished": finished},
        )

    # -- XDATCAR -------------------------------------------------------------------------------

    def _xdatcar(self, path: Path) -> ExtractionResult:
        atoms_list, _, n_frames = _ase_frames(path, "vasp-xdatcar")
        first = structure_from_atoms(atoms_list[0], "VASP")
        last = structure_from_atoms(atoms_list[-1], "VASP")
        return ExtractionResult(
            archive=None,
            provenance=None,
            extractor=self.name,
            format="VASP XDATCAR",
            technique="atomistic simulation",
            technique_iri=technique_iri("atomistic simulation"),
            software=Software(name="VASP"),
            open_format=True,
            n_points=n_frames,
            structures=[first, last] if len(atoms_list) > 1 else [first],
            quality=structure_checks(last),
            extra={"n_frames": n_frames},
        )


def _atominfo_species(elem: Any) -> list[str]:
    for arr in elem.iter("array"):
        if arr.get("name") == "atoms":
            out = []
            for rc in arr.iter("rc"):
                cs = rc.findall("c")
                if cs and cs[0].text:
                    out.append(cs[0].text.strip())
            return out
    return []


def _structure_arrays(elem: Any) -> tuple[np.ndarray, np.ndarray] | None:
    basis: list[list[float]] = []
    frac: list[list[float]] = []
    for va in elem.iter("varray"):
        rows = [[float(x) for x in (v.text or "").split()] for v in va.findall("v")]
        if va.get("name") == "basis":
            basis = rows
        elif va.get("name") == "positions":
            frac = rows
    if len(basis) != 3 or not frac:
        return None
    return np.asarray(basis, dtype=float), np.asarray(frac, dtype=float)


def _make_structure(
    species: list[str], cell_pos: tuple[np.ndarray, np.ndarray], version: str | None, energy: float | None
) -> Structure:
    Atoms = ase_module("ase").Atoms

    cell, frac = cell_pos
    if len(frac) != len(species):
        raise UnsupportedFile(
            f"could not read: vasprun.xml lists {len(species)} atoms but {len(frac)} positions"
        )
    atoms = Atoms(symbols=species, scaled_positions=frac, cell=cell, pbc=True)
    s = structure_from_atoms(atoms, "VASP", version)
    s.energy_ev = energy
    return s


def _ase_frames(path: Path, fmt: str) -> tuple[list[Any], list[float], int]:
    """Read all frames with ASE, keeping only first and last Atoms but every energy."""
    import io

    ase_io = ase_module("ase.io")

    first: Any = None
    last: Any = None
    energies: list[float] = []
    n = 0
    try:
        with open_maybe_compressed(path) as fh:
            for atoms in ase_io.iread(
                io.TextIOWrapper(fh, encoding="utf-8", errors="replace"), ":", format=fmt
            ):
                n += 1
                if n > MAX_STEPS:
                    raise UnsupportedFile(f"could not read: more than {MAX_STEPS} frames")
                first = first if first is not None else atoms
                last = atoms
                if atoms.calc is not None:
                    with contextlib.suppress(Exception):  # a step without an energy
                        energies.append(float(atoms.get_potential_energy()))
    except UnsupportedFile:
        raise
    except Exception as exc:
        if last is None:
            raise UnsupportedFile(f"could not read {fmt}: {exc.__class__.__name__}: {exc}") from exc
    if last is None:
        raise UnsupportedFile(f"could not read: no structure found in the {fmt} file")
    return ([first, last] if n > 1 else [first]), energies, n


def _tail_contains(path: Path, needle: bytes, size: int = 65536) -> bool:
    with open_maybe_compressed(path) as fh:
        if fh.seekable() and not hasattr(fh, "fileobj"):
            fh.seek(0, 2)
            end = fh.tell()
            fh.seek(max(0, end - size))
            return needle in fh.read()
        tail = b""
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-size:]
        return needle in tail
