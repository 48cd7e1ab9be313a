"""Quantum ESPRESSO: pw.x standard output and the XML data file (data-file-schema.xml).

The text output is read with ASE (LGPL-2.1, lazily) for the cell and positions, plus a few regular
expressions for what ASE drops (version, start time, calculation type, convergence). The XML is
parsed defused; its quantities are in Hartree atomic units and converted to eV and Å here.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

from databahn.extractors._common import (
    ase_module,
    energy_previews,
    local,
    parse_xml,
    read_head,
    read_text,
    structure_checks,
    structure_from_atoms,
    technique_iri,
)
from databahn.extractors.base import ExtractionResult, Extractor, QualityFlag, Software, UnsupportedFile

RY_EV = 13.605693122994
HA_EV = 2 * RY_EV
BOHR_A = 0.529177210903

_PROGRAM = re.compile(r"Program (\w+) v\.?\s*([\w.]+) starts on\s+(\w+) at\s+([\d: ]+)")


def _qe_date(date: str, time: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(f"{date.strip()} {time.strip().replace(' ', '0')}", "%d%b%Y %H:%M:%S")
    except ValueError:
        return None


class QuantumEspressoExtractor(Extractor):
    """pw.x output text and QE XML (qes schema)."""

    name = "quantum_espresso"
    label = "Quantum ESPRESSO output (pw.x text or XML)"
    suffixes = (".out", ".xml", ".pwo", ".log")

    def sniff(self, path: Path, head: bytes) -> float:
        if b"<qes:espresso" in head[:4096] or b"quantum-espresso.org/ns/qes" in head[:4096]:
            return 0.95
        if re.search(rb"Program PWSCF v", head[:8192]):
            return 0.95
        return 0.0

    def extract(self, path: Path) -> ExtractionResult:
        head = read_head(path)
        if b"quantum-espresso.org/ns/qes" in head[:4096]:
            return self._xml(path)
        if b"Program PWSCF v" in head[:8192]:
            return self._pwout(path)
        raise UnsupportedFile("could not read: not a Quantum ESPRESSO pw.x output or XML data file")

    def _pwout(self, path: Path) -> ExtractionResult:
        text = read_text(path)
        m = _PROGRAM.search(text)
        program, version = (m.group(1), m.group(2)) if m else ("PWSCF", None)
        start = _qe_date(m.group(3), m.group(4)) if m else None
        calc = re.search(r"calculation\s*=\s*'?(\w+)", text)
        scf_energies = [
            float(v) * RY_EV for v in re.findall(r"^!\s+total energy\s+=\s+(-?\d+\.\d+) Ry", text, re.M)
        ]
        quality: list[QualityFlag] = []
        if "JOB DONE" not in text:
            quality.append(
                QualityFlag(
                    severity="warning", code="not_finished", message="no 'JOB DONE': the run did not finish"
                )
            )
        if "convergence NOT achieved" in text:
            quality.append(
                QualityFlag(
                    severity="warning", code="scf_not_converged", message="SCF convergence NOT achieved"
                )
            )
        ase_io = ase_module("ase.io")

        try:
            frames = list(ase_io.iread(io.StringIO(text), ":", format="espresso-out"))
        except Exception as exc:
            raise UnsupportedFile(f"could not read pw.x output: {exc.__class__.__name__}: {exc}") from exc
        if not frames:
            raise UnsupportedFile("could not read: no structure in the pw.x output")
        s = structure_from_atoms(frames[-1], "Quantum ESPRESSO", version)
        if s.energy_ev is None and scf_energies:
            s.energy_ev = scf_energies[-1]
        nk = re.search(r"number of k points=\s*(\d+)", text)
        cut = re.search(r"kinetic-energy cutoff\s*=\s*([\d.]+)\s*Ry", text)
        extra: dict[str, Any] = {
            "program": program,
            "ionic_steps": len(frames),
            "scf_cycles_converged": len(scf_energies),
        }
        if nk:
            extra["n_kpoints"] = int(nk.group(1))
        if cut:
            extra["ecutwfc_ry"] = float(cut.group(1))
        if calc:
            extra["calculation"] = calc.group(1)
        elif re.search(r"Band Structure Calculation|End of band structure calculation", text):
            extra["calculation"] = "nscf/bands"
        previews = energy_previews(scf_energies)
        return ExtractionResult(
            archive=None,
            provenance=None,
            extractor=self.name,
            format="Quantum ESPRESSO pw.x output",
            technique="DFT simulation",
            technique_iri=technique_iri("DFT simulation"),
            software=Software(name="Quantum ESPRESSO", version=version),
            open_format=True,
            start_time=start,
            n_points=len(frames),
            structures=[s],
            quality=quality + structure_checks(s),
            previews=previews,
            extra=extra,
        )

    def _xml(self, path: Path) -> ExtractionResult:
        root = parse_xml(read_head(path, 256 * 1024**2))
        if local(root.tag) != "espresso":
            raise UnsupportedFile(
                f"could not read: root element is <{local(root.tag)}>, expected <qes:espresso>"
            )
        creator = root.find("general_info/creator")
        created = root.find("general_info/created")
        version = creator.get("VERSION") if creator is not None else None
        start = _qe_date(created.get("DATE", ""), created.get("TIME", "")) if created is not None else None
        part = root.find("output")
        quality: list[QualityFlag] = []
        if part is None:
            part = root.find("input")
            quality.append(
                QualityFlag(
                    severity="warning",
                    code="no_output",
                    message="the XML has no <output>: the run did not finish",
                )
            )
        if part is None:
            raise UnsupportedFile("could not read: QE XML has neither <output> nor <input>")
        ast = part.find("atomic_structure")
        if ast is None:
            raise UnsupportedFile("could not read: QE XML has no <atomic_structure>")
        Atoms = ase_module("ase").Atoms

        symbols: list[str] = []
        pos: list[list[float]] = []
        for atom in ast.iter():
            if local(atom.tag) == "atom":
                symbols.append(re.sub(r"[^A-Za-z].*$", "", atom.get("name", "X")) or "X")
                pos.append([float(v) * BOHR_A for v in (atom.text or "").split()])
        cell = [[float(v) * BOHR_A for v in (ast.findtext(f"cell/a{i}") or "").split()] for i in (1, 2, 3)]
        try:
            atoms = Atoms(symbols=symbols, positions=pos, cell=cell, pbc=True)
        except (KeyError, ValueError) as exc:
            raise UnsupportedFile(f"could not read: bad atomic structure in QE XML ({exc})") from exc
        s = structure_from_atoms(atoms, "Quantum ESPRESSO", version)
        calc = root.findtext("input/control_variables/calculation")
        etot = part.findtext("total_energy/etot")
        if etot is not None and float(etot) != 0.0:
            s.energy_ev = float(etot) * HA_EV
        elif calc in ("nscf", "bands"):
            quality.append(
                QualityFlag(
                    code="no_total_energy", severity="info", message=f"a {calc} run reports no total energy"
                )
            )
        conv = part.findtext("convergence_info/scf_conv/convergence_achieved")
        if conv is not None and conv.strip().lower() == "false" and calc not in ("nscf", "bands"):
            quality.append(
                QualityFlag(
                    severity="warning", code="scf_not_converged", message="SCF convergence not achieved"
                )
            )
        extra: dict[str, Any] = {
            "calculation": calc,
            "prefix": root.findtext("input/control_variables/prefix"),
        }
        ecut = part.findtext("basis_set/ecutwfc")
        if ecut:
            extra["ecutwfc_ry"] = float(ecut) * 2
        fermi = part.findtext("band_structure/fermi_energy")
        if fermi:
            extra["fermi_energy_ev"] = float(fermi) * HA_EV
        nks = part.findtext("band_structure/nks")
        if nks:
            extra["n_kpoints"] = int(nks)
        return ExtractionResult(
            archive=None,
            provenance=None,
            extractor=self.name,
            format="Quantum ESPRESSO XML data file",
            media_type="application/xml",
            technique="DFT simulation",
            technique_iri=technique_iri("DFT simulation"),
            software=Software(name="Quantum ESPRESSO", version=version),
            open_format=True,
            start_time=start,
            n_points=1,
            structures=[s],
            quality=quality + structure_checks(s),
            extra=extra,
        )
