"""Structure and simulation-output extractors on the real files in ../shared/realdata/structures.

What a user checks: the formula, number of sites, lattice, engine and version, final energy, and
that species/positions are filled for OPTIMADE. Bad input must give a clear UnsupportedFile.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from databahn.extractors.base import ExtractionResult, Extractor, UnsupportedFile
from databahn.extractors.qe import QuantumEspressoExtractor
from databahn.extractors.structures import StructureExtractor
from databahn.extractors.vasp import VaspExtractor
from tests.shared import require_shared

CHAMEO_DFT = "https://w3id.org/emmo#EMMO_6eca09be_17e9_445e_abc9_000aa61b7a11"


def sdir() -> Path:
    return require_shared("realdata", "structures")


def run(ext: Extractor, path: Path) -> ExtractionResult:
    head = path.read_bytes()[:65536]
    assert ext.sniff(path, head) >= 0.5, f"{ext.name} should claim {path.name}"
    res = ext.extract(path)
    json.dumps(res.model_dump(mode="json"))  # must be JSON-serialisable for the catalogue
    return res


def test_cif_materials_project() -> None:
    res = run(StructureExtractor(), sdir() / "chgnet" / "mp-18767-LiMnO2.cif")
    s = res.structures[0]
    assert s.formula == "LiMnO2"
    assert s.elements == ["Li", "Mn", "O"]
    assert s.n_sites == 8
    assert s.lattice is not None and len(s.lattice) == 3
    assert s.species is not None and len(s.species) == 8
    assert s.cartesian_positions is not None and len(s.cartesian_positions) == 8
    assert s.volume is not None and s.volume > 10
    assert res.open_format


def test_cif_partial_occupancy_flagged() -> None:
    res = run(StructureExtractor(), sdir() / "matterviz" / "Li10GeP2S12.cif")
    assert "partial_occupancy" in [q.code for q in res.quality]
    assert res.structures[0].space_group == "P 42/n m c"


def test_poscar_and_contcar() -> None:
    for name in ("POSCAR", "CONTCAR"):
        res = run(StructureExtractor(), sdir() / "custodian_postprocess" / name)
        s = res.structures[0]
        assert s.formula == "FeO" and s.n_sites == 4


def test_extxyz_trajectory_energies() -> None:
    res = run(StructureExtractor(), sdir() / "matterviz" / "mp-1184225.extxyz")
    assert res.n_points == 6
    assert res.structures[-1].formula == "Fe3W"
    assert res.structures[-1].energy_ev == pytest.approx(-38.10605112)
    assert res.previews and len(res.previews[0].y) == 6


def test_extxyz_many_configs() -> None:
    res = run(StructureExtractor(), sdir() / "workflow" / "DFT_evaluated_fitting.ALL.xyz")
    assert res.n_points == 152
    assert {"Li", "Cu"} >= set(res.structures[0].elements)


def test_ase_traj() -> None:
    res = run(StructureExtractor(), sdir() / "matterviz" / "ase-LiMnO2-chgnet-relax.traj")
    assert res.n_points == 2
    assert res.structures[-1].formula == "LiMnO2"
    assert res.structures[-1].energy_ev == pytest.approx(-58.5936, abs=1e-3)


def test_vasprun_streamed() -> None:
    res = run(VaspExtractor(), sdir() / "custodian_postprocess" / "vasprun.xml")
    assert res.software is not None and res.software.name == "VASP" and res.software.version == "5.3.5"
    assert res.technique == "DFT simulation" and res.technique_iri == CHAMEO_DFT
    s = res.structures[0]
    assert (s.formula, s.n_sites, s.engine) == ("FeO", 4, "VASP")
    assert s.energy_ev == pytest.approx(-28.21851457)
    assert res.n_points == 28  # ionic steps
    assert res.start_time is not None and res.start_time.year == 2014
    assert res.extra["incar"]["ENCUT"].startswith("520")


def test_outcar_matches_vasprun() -> None:
    res = run(VaspExtractor(), sdir() / "custodian_postprocess" / "OUTCAR")
    s = res.structures[0]
    assert res.software is not None and res.software.version == "5.3.5"
    assert s.formula == "FeO" and s.energy_ev == pytest.approx(-28.21851457)
    assert res.extra["finished"] is True


def test_xdatcar_gz() -> None:
    res = run(VaspExtractor(), sdir() / "matterviz" / "vasp-XDATCAR.MD.gz")
    assert res.n_points == 5
    assert res.structures[0].formula == "Fe2O3" and res.structures[0].n_sites == 80


def test_qe_output_and_xml_agree() -> None:
    out = run(QuantumEspressoExtractor(), sdir() / "qe-tools_pw_240411" / "pw.out")
    xml = run(QuantumEspressoExtractor(), sdir() / "qe-tools_pw_240411" / "data-file-schema.xml")
    for res in (out, xml):
        assert res.software is not None and res.software.version == "7.3.1"
        assert res.structures[0].formula == "Si" and res.structures[0].n_sites == 2
        assert res.structures[0].energy_ev == pytest.approx(-308.343, abs=1e-2)
    assert xml.extra["calculation"] == "vc-relax"


def test_qe_nscf_has_no_energy_but_says_why() -> None:
    res = run(QuantumEspressoExtractor(), sdir() / "qe-tools_pw_collinear" / "data-file-schema.xml")
    assert res.structures[0].formula == "FLi"
    assert res.structures[0].energy_ev is None
    assert "no_total_energy" in [q.code for q in res.quality]


def test_extractors_do_not_claim_each_others_files() -> None:
    d = sdir()
    assert VaspExtractor().sniff(d / "qe-tools_pw_240411/data-file-schema.xml", b"<?xml") == 0.0
    head = (d / "custodian_postprocess/vasprun.xml").read_bytes()[:65536]
    assert QuantumEspressoExtractor().sniff(d / "custodian_postprocess/vasprun.xml", head) == 0.0
    assert StructureExtractor().sniff(d / "custodian_postprocess/OUTCAR", b"vasp.5.3.5") == 0.0


# ----------------------------------------------------------------------------------- bad input


def test_truncated_vasprun_is_flagged_not_crashed(tmp_path: Path) -> None:
    data = (sdir() / "custodian_postprocess" / "vasprun.xml").read_bytes()
    cut = tmp_path / "vasprun.xml"
    cut.write_bytes(data[: len(data) // 2])
    res = VaspExtractor().extract(cut)
    assert "truncated" in [q.code for q in res.quality]
    assert res.structures and res.structures[0].formula == "FeO"


def test_vasprun_entity_expansion_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "vasprun.xml"
    bomb.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n'
        '<modeling><generator><i name="program">vasp</i></generator><x>&b;</x></modeling>\n'
    )
    with pytest.raises(UnsupportedFile, match=r"DTD|entit"):
        VaspExtractor().extract(bomb)


def test_truncated_extxyz_keeps_good_frames(tmp_path: Path) -> None:
    text = (sdir() / "matterviz" / "mp-1184225.extxyz").read_text()
    cut = tmp_path / "cut.extxyz"
    cut.write_text(text[: int(len(text) * 0.6)])
    res = StructureExtractor().extract(cut)
    assert 1 <= (res.n_points or 0) < 6
    assert "truncated" in [q.code for q in res.quality]


def test_long_trajectory_is_summarised_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import databahn.extractors.structures as mod

    monkeypatch.setattr(mod, "MAX_FRAMES", 3)
    res = StructureExtractor().extract(sdir() / "matterviz" / "mp-1184225.extxyz")
    assert res.n_points == 3
    assert "truncated" in [q.code for q in res.quality]


def test_overlapping_atoms_flagged(tmp_path: Path) -> None:
    p = tmp_path / "POSCAR"
    p.write_text(
        "bad cell\n1.0\n4 0 0\n0 4 0\n0 0 4\nLi O\n1 1\nDirect\n0 0 0\n0.99 0.0 0.0\n"  # 0.04 Å via PBC
    )
    res = StructureExtractor().extract(p)
    assert "overlapping_atoms" in [q.code for q in res.quality]
    ok = StructureExtractor().extract(sdir() / "custodian_postprocess" / "POSCAR")
    assert not [q for q in ok.quality if q.code in ("overlapping_atoms", "implausible_volume")]


def test_garbage_cif_gives_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a 3.0\n_cell_length_b oops\n")
    with pytest.raises(UnsupportedFile, match="could not read"):
        StructureExtractor().extract(bad)


def test_png_named_poscar_is_not_claimed(tmp_path: Path) -> None:
    fake = tmp_path / "POSCAR"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    head = fake.read_bytes()
    assert StructureExtractor().sniff(fake, head) == 0.0
    with pytest.raises(UnsupportedFile):
        StructureExtractor().extract(fake)


def test_empty_qe_output(tmp_path: Path) -> None:
    p = tmp_path / "pw.out"
    p.write_text("     Program PWSCF v.7.2 starts on 10Oct2025 at  8:44:54 \n")
    with pytest.raises(UnsupportedFile, match="could not read"):
        QuantumEspressoExtractor().extract(p)


def test_corrupt_gzip_xdatcar(tmp_path: Path) -> None:
    data = gzip.compress(b"Fe2O3\n1\n9 0 0\n0 9 0\n0 0 9\nO Fe\n1 1\nDirect configuration= 1\n")
    p = tmp_path / "XDATCAR.gz"
    p.write_bytes(data[: len(data) - 12])
    with pytest.raises(UnsupportedFile):
        VaspExtractor().extract(p)
