"""The engine on the real BattINFO 0.20.1 closure in ../shared/ontology (57 files, 4,580 classes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from databahn.ontology import (
    DEFAULT_BRANCHES,
    AmbiguousTerm,
    Ontology,
    UnknownTerm,
    check_deposit_terms,
    load_ontology,
)
from tests.shared import require_shared

pytestmark = pytest.mark.shared

ECHEM = "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_"
CHAMEO = "https://w3id.org/emmo/domain/characterisation-methodology/chameo#"
ELECTRODE = ECHEM + "0f007072_a8dd_4798_b865_1bf9363be627"
NEGATIVE = ECHEM + "c94c041b_8ea6_43e7_85cc_d2bce7785b4c"
POSITIVE = ECHEM + "aff732a9_238a_4734_977c_b2ba202af126"
SOC_CURRENT = ECHEM + "8b2aaa50_bbe1_45da_8778_8898326246a2"
SOC_DEPRECATED = "https://w3id.org/emmo/domain/battery#battery_17591da0_34ec_41b9_b3c1_3a4446dc6f0a"
BATTERY_CELL = "https://w3id.org/emmo/domain/battery#battery_68ed592a_7924_45d0_a108_94d6275d57f0"
QUANTITY = "https://w3id.org/emmo#EMMO_0650c031_42b6_4f0a_b62d_d88f071da6bf"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ontology-cache")


@pytest.fixture(scope="module")
def battinfo(cache: Path) -> Ontology:
    return load_ontology(require_shared("ontology"), cache)


def test_loads_the_whole_closure(battinfo: Ontology) -> None:
    assert battinfo.problems == []
    assert battinfo.stats["files"] == 57
    assert 4500 <= battinfo.stats["classes"] <= 4700  # 4,580 in 0.20.1
    assert battinfo.stats["deprecated"] > 50


def test_warm_load_equals_cold(battinfo: Ontology, cache: Path) -> None:
    warm = load_ontology(require_shared("ontology"), cache)
    assert len(warm) == len(battinfo)
    assert warm.term(NEGATIVE) == battinfo.term(NEGATIVE)
    assert warm.ancestors(NEGATIVE) == battinfo.ancestors(NEGATIVE)


def test_electrode_subclasses(battinfo: Ontology) -> None:
    electrode = battinfo.resolve("Electrode")
    assert electrode.iri == ELECTRODE
    assert "conductive" in electrode.elucidation
    below = battinfo.descendants(ELECTRODE)
    assert {NEGATIVE, POSITIVE} <= below
    assert battinfo.is_a(NEGATIVE, ELECTRODE)
    assert battinfo.resolve("negative electrode").iri == NEGATIVE
    assert battinfo.resolve("NegativePlate").iri == NEGATIVE  # altLabel


def test_state_of_charge_skips_the_deprecated_duplicate(battinfo: Ontology) -> None:
    assert len(battinfo.terms_with_label("StateOfCharge")) == 2
    soc = battinfo.resolve("StateOfCharge")
    assert soc.iri == SOC_CURRENT and not soc.deprecated
    assert battinfo.resolve("SoC").iri == SOC_CURRENT
    old = battinfo.resolve(SOC_DEPRECATED)
    assert old.deprecated


def test_current_duplicates_are_ambiguous(battinfo: Ontology) -> None:
    with pytest.raises(AmbiguousTerm) as info:
        battinfo.resolve("ElectrodeCoating")
    assert len(info.value.candidates) == 2
    assert all(c.label == "ElectrodeCoating" for c in info.value.candidates)


@pytest.mark.parametrize(
    ("legacy", "current"),
    [
        ("http://emmo.info/battery#battery_68ed592a_7924_45d0_a108_94d6275d57f0", BATTERY_CELL),
        ("http://emmo.info/emmo#EMMO_0650c031_42b6_4f0a_b62d_d88f071da6bf", QUANTITY),
        (
            "http://emmo.info/electrochemistry#electrochemistry_0f007072_a8dd_4798_b865_1bf9363be627",
            ELECTRODE,
        ),
        (
            "https://big-map.github.io/BattINFO/ontology/BattINFO#EMMO_68ed592a_7924_45d0_a108_94d6275d57f0",
            BATTERY_CELL,
        ),
        ("https://big-map.github.io/BattINFO/ontology/BattINFO#Electrode", ELECTRODE),
    ],
)
def test_legacy_iris_map_to_w3id(battinfo: Ontology, legacy: str, current: str) -> None:
    assert battinfo.resolve(legacy).iri == current
    assert battinfo.term(legacy) is not None


def test_removed_legacy_iri_is_a_clear_unknown(battinfo: Ontology) -> None:
    # BattINFO's old Capacity class: re-minted since, so its UUID is gone.
    with pytest.raises(UnknownTerm, match="not in the loaded ontology"):
        battinfo.resolve("http://emmo.info/battery#battery_df6bdaa9_5275_4a02_a592_adafd4e5c3c3")


def test_search_ranking(battinfo: Ontology) -> None:
    assert battinfo.search("electrode")[0].iri == ELECTRODE
    assert battinfo.search("CV")[0].iri == CHAMEO + "CyclicVoltammetry"
    assert battinfo.search("cyclic volt")[0].iri == CHAMEO + "CyclicVoltammetry"
    assert battinfo.search("capacty")[0].label == "Capacity"  # typo, fuzzy tier
    elec = [t.label for t in battinfo.search("elec", limit=50)]
    assert elec[:2] == ["Electrode", "Electrolyte"]  # shortest prefixes first, domain before EMMO core
    assert all(not t.deprecated for t in battinfo.search("state of charge", limit=50))


def test_suggest_from_real_titles(battinfo: Ontology) -> None:
    labels = [t.label for t in battinfo.suggest("NMC811_cyclic-voltammetry_coin cell.csv")]
    assert labels[:2] == ["CyclicVoltammetry", "CoinCell"]
    labels = [t.label for t in battinfo.suggest("EIS of graphite negative electrodes in LP30 electrolyte")]
    assert {"ElectrochemicalImpedanceSpectroscopy", "NegativeElectrode", "LP30", "Electrolyte"} <= set(labels)


def test_default_branch_roots_exist(battinfo: Ontology) -> None:
    for branch, roots in DEFAULT_BRANCHES.items():
        assert len(battinfo.branch_roots(branch)) == len(roots), branch


@pytest.mark.parametrize(
    ("label", "branch", "expected"),
    [
        ("NegativeElectrode", "interface_aspect", True),
        ("Electrolyte", "interface_aspect", True),
        ("ElectrodeElectrolyteInterface", "interface_aspect", True),
        ("CathodeElectrolyteInterphase", "interface_aspect", True),
        ("CyclicVoltammetry", "method", True),
        ("XRD", "method", True),
        ("GalvanostaticCycling", "method", True),
        ("Simulation", "method", True),
        ("Capacity", "method", False),
        ("Capacity", "quantity", True),
        ("CoinCell", "device", True),
        ("CoinCell", "interface_aspect", False),
    ],
)
def test_branches(battinfo: Ontology, label: str, branch: str, expected: bool) -> None:
    assert battinfo.in_branch(battinfo.resolve(label).iri, branch) is expected


def test_deposit_rules_on_battinfo(battinfo: Ontology) -> None:
    assert check_deposit_terms(battinfo, ["CoinCell"], "NegativeElectrode", "CV", "require") == []
    findings = check_deposit_terms(
        battinfo, ["my words"], "Capacity", "Electrode", "require", hint_text="graphite_half-cell_GCPL.mpr"
    )
    assert {f.field for f in findings} == {"keywords", "interface_aspect", "method"}
    assert all(f.severity == "error" for f in findings)
    keywords = next(f for f in findings if f.field == "keywords")
    assert "Graphite" in {c.label for c in keywords.candidates}


def test_broken_file_in_a_copy(tmp_path: Path) -> None:
    copy = tmp_path / "ontology"
    shutil.copytree(require_shared("ontology"), copy)
    broken = copy / "battery" / "modules" / "battery-testing.ttl"
    broken.write_text(broken.read_text()[:5000] + "\n this is ;; not <<< turtle\n")
    onto = load_ontology(copy, tmp_path / "cache")
    (problem,) = onto.problems
    assert problem.file == "battery/modules/battery-testing.ttl"
    assert "could not be parsed" in problem.message
    assert onto.resolve("NegativeElectrode").iri == NEGATIVE
    assert len(onto) > 4000
