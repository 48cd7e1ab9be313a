"""Ontology engine on a tiny BattINFO-shaped fixture (runs without ../shared)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from databahn.ontology import (
    AmbiguousTerm,
    Ontology,
    OntologyUnavailable,
    UnknownTerm,
    check_deposit_terms,
    load_from_env,
    load_ontology,
    load_skos,
    ontology_from_env,
    parse_branches,
)

DATA = Path(__file__).parent / "data" / "ontology"
MINI = "https://example.org/mini#"
BATT = "https://w3id.org/emmo/domain/battery#"
DEPRECATED_SOC = BATT + "battery_17591da0_34ec_41b9_b3c1_3a4446dc6f0a"
CELL = BATT + "battery_68ed592a_7924_45d0_a108_94d6275d57f0"


@pytest.fixture()
def mini_dir(tmp_path: Path) -> Path:
    """A private copy, so tests may break or touch files."""
    target = tmp_path / "mini"
    shutil.copytree(DATA / "mini", target)
    return target


@pytest.fixture()
def onto(mini_dir: Path, tmp_path: Path) -> Ontology:
    ontology = load_ontology(mini_dir, tmp_path / "cache")
    ontology.branches = parse_branches(
        ontology,
        {"interface_aspect": ["Component"], "method": ["Method"], "quantity": ["Quantity"]},
    )
    return ontology


# ---------------------------------------------------------------- loading and caching


def test_follows_imports_through_catalog_and_reports_missing_import(onto: Ontology) -> None:
    assert onto.stats["files"] == 3  # battery.ttl -> core (by version IRI) + methods
    assert MINI + "CyclicVoltammetry" in onto
    problems = [p for p in onto.problems if "not-in-the-catalog" in p.message]
    assert len(problems) == 1
    assert problems[0].file == "battery.ttl"
    assert "catalog" in problems[0].message


def test_term_fields(onto: Ontology) -> None:
    neg = onto.term(MINI + "NegativeElectrode")
    assert neg is not None
    assert neg.label == "NegativeElectrode"
    assert set(neg.synonyms) == {"Negative Elektrode", "NegativePlate"}  # other-language prefLabel too
    assert neg.parents == (MINI + "Electrode",)
    assert neg.children == (MINI + "GraphiteNegativeElectrode",)
    assert neg.module == "core/core.ttl"
    assert neg.namespace == MINI
    electrode = onto.term(MINI + "Electrode")
    assert electrode is not None and "conductive" in electrode.elucidation
    positive = onto.term(MINI + "PositiveElectrode")
    assert positive is not None and positive.comment.startswith("The electrode")
    assert onto.term(MINI + "Nope") is None


def test_warm_start_uses_index_without_rdflib(mini_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = load_ontology(mini_dir, cache)
    indexes = list(cache.glob("ontology-*.json"))
    assert len(indexes) == 1
    code = (
        "import sys, json; from pathlib import Path; from databahn.ontology import load_ontology;"
        f"o = load_ontology(Path({str(mini_dir)!r}), Path({str(cache)!r}));"
        "print(json.dumps([len(o), 'rdflib' in sys.modules, o.resolve('negative electrode').iri]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, rdflib_loaded, iri = json.loads(out.stdout)
    assert count == len(cold)
    assert rdflib_loaded is False
    assert iri == MINI + "NegativeElectrode"


def test_changed_source_recompiles(mini_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_ontology(mini_dir, cache)
    core = mini_dir / "core" / "core.ttl"
    core.write_text(core.read_text().replace('"Capacity"@en', '"RatedCapacity"@en'))
    os.utime(core, (time.time() + 5, time.time() + 5))
    again = load_ontology(mini_dir, cache)
    assert again.resolve("RatedCapacity").iri == MINI + "Capacity"
    assert len(list(cache.glob("ontology-*.json"))) == 1  # the stale index was removed


def test_damaged_cache_is_rebuilt(mini_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_ontology(mini_dir, cache)
    (index,) = cache.glob("ontology-*.json")
    index.write_text("{not json")
    assert len(load_ontology(mini_dir, cache)) > 10


def test_broken_file_is_reported_and_the_rest_loads(mini_dir: Path, tmp_path: Path) -> None:
    (mini_dir / "methods.ttl").write_text(
        "@prefix : <https://example.org/mini#> .\n:Broken a owl:Class ;;; <<<\n"
    )
    onto = load_ontology(mini_dir, tmp_path / "cache")
    broken = [p for p in onto.problems if p.file == "methods.ttl"]
    assert len(broken) == 1 and "could not be parsed" in broken[0].message
    assert MINI + "Electrode" in onto
    assert MINI + "CyclicVoltammetry" not in onto


def test_catalog_entry_pointing_to_missing_file(mini_dir: Path, tmp_path: Path) -> None:
    (mini_dir / "methods.ttl").unlink()
    onto = load_ontology(mini_dir, None)
    assert any(p.file == "methods.ttl" and "does not exist" in p.message for p in onto.problems)
    assert MINI + "Electrode" in onto


def test_missing_directory_is_a_clean_unavailable_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(OntologyUnavailable, match="semantic features are off"):
        load_ontology(tmp_path / "nowhere", tmp_path / "cache")
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("DATABAHN_HOME", str(tmp_path / "home"))
    assert ontology_from_env() is None
    ontology, status = load_from_env()
    assert ontology is None and not status.available
    assert "semantic features are off" in status.message and "nowhere" in status.message


def test_folder_of_unreadable_files_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "bad.ttl").write_text("this is not turtle")
    with pytest.raises(OntologyUnavailable, match=r"bad\.ttl"):
        load_ontology(tmp_path, None)


def test_ontology_from_env(mini_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(mini_dir))
    monkeypatch.setenv("DATABAHN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATABAHN_VOCABULARIES", str(DATA / "vocab"))
    onto = ontology_from_env()
    assert onto is not None
    assert onto.resolve("SOP-001").label == "Coin cell assembly SOP"
    assert list((tmp_path / "home" / "cache" / "ontology").glob("ontology-*.json"))


# ---------------------------------------------------------------- resolving terms


@pytest.mark.parametrize(
    "query", ["NegativeElectrode", "negative electrode", "NEGATIVE-ELECTRODE", "NegativePlate"]
)
def test_resolve_labels_and_synonyms_case_and_spacing_insensitive(onto: Ontology, query: str) -> None:
    assert onto.resolve(query).iri == MINI + "NegativeElectrode"


def test_resolve_skips_deprecated_but_returns_only_deprecated(onto: Ontology) -> None:
    assert onto.resolve("StateOfCharge").iri == MINI + "StateOfCharge"
    assert onto.resolve("soc").iri == MINI + "StateOfCharge"
    only = onto.resolve("ObsoleteLife")
    assert only.deprecated  # nothing current has that label: the deprecated one is returned, flagged
    assert onto.resolve(DEPRECATED_SOC).deprecated  # an explicit IRI always resolves


def test_ambiguous_label_lists_candidates(onto: Ontology) -> None:
    with pytest.raises(AmbiguousTerm) as info:
        onto.resolve("electrode coating")
    assert {c.iri for c in info.value.candidates} == {MINI + "Coating1", MINI + "Coating2"}
    assert MINI + "Coating1" in str(info.value) and "ambiguous" in str(info.value)


def test_unknown_term_suggests_near_matches(onto: Ontology) -> None:
    with pytest.raises(UnknownTerm) as info:
        onto.resolve("Electrod")
    assert info.value.candidates[0].label == "Electrode"
    assert "did you mean" in str(info.value)
    with pytest.raises(UnknownTerm, match="empty"):
        onto.resolve("  ")


def test_legacy_and_prefixed_iris(onto: Ontology) -> None:
    assert onto.resolve("http://emmo.info/battery#battery_68ed592a_7924_45d0_a108_94d6275d57f0").iri == CELL
    uuid_iri = (
        "https://big-map.github.io/BattINFO/ontology/BattINFO#EMMO_68ed592a_7924_45d0_a108_94d6275d57f0"
    )
    assert onto.resolve(uuid_iri).iri == CELL
    assert onto.resolve(f"<{CELL}>").iri == CELL
    assert onto.resolve("battery:battery_68ed592a_7924_45d0_a108_94d6275d57f0").iri == CELL
    assert onto.to_iri("Cell") == CELL
    with pytest.raises(UnknownTerm, match="not in the loaded ontology"):
        onto.resolve("http://emmo.info/battery#battery_00000000_0000_4000_8000_000000000000")


# ---------------------------------------------------------------- hierarchy and facets


def test_descendants_ancestors_is_a(onto: Ontology) -> None:
    below = onto.descendants(MINI + "Electrode")
    assert below == {
        MINI + "Electrode",
        MINI + "NegativeElectrode",
        MINI + "PositiveElectrode",
        MINI + "GraphiteNegativeElectrode",
    }
    assert MINI + "Electrode" not in onto.descendants(MINI + "Electrode", include_self=False)
    assert onto.ancestors(MINI + "GraphiteNegativeElectrode") == {
        MINI + "NegativeElectrode",
        MINI + "Electrode",
        MINI + "Component",
    }
    assert onto.is_a(MINI + "GraphiteNegativeElectrode", MINI + "Electrode")
    assert not onto.is_a(MINI + "Electrolyte", MINI + "Electrode")
    assert onto.expand(["Electrode", "Capacity"]) >= {MINI + "NegativeElectrode", MINI + "SpecificCapacity"}


def test_count_by_term_counts_each_dataset_once_per_ancestor(onto: Ontology) -> None:
    counts = onto.count_by_term(
        [
            [MINI + "NegativeElectrode", MINI + "PositiveElectrode"],
            [MINI + "GraphiteNegativeElectrode"],
            [MINI + "Electrolyte"],
        ]
    )
    assert counts[MINI + "Electrode"] == 2
    assert counts[MINI + "NegativeElectrode"] == 2
    assert counts[MINI + "Component"] == 3


def test_with_branches_leaves_the_shared_ontology_alone(onto: Ontology) -> None:
    view = onto.with_branches({"method": (MINI + "Voltammetry",)})
    assert view.in_branch(MINI + "CyclicVoltammetry", "method")
    assert not view.in_branch(MINI + "ElectrochemicalImpedanceSpectroscopy", "method")
    assert onto.in_branch(MINI + "ElectrochemicalImpedanceSpectroscopy", "method")
    assert view.resolve("CV") is onto.resolve("CV")


def test_branches(onto: Ontology) -> None:
    assert onto.in_branch(MINI + "GraphiteNegativeElectrode", "interface_aspect")
    assert onto.in_branch(MINI + "CyclicVoltammetry", "method")
    assert not onto.in_branch(MINI + "Capacity", "method")
    with pytest.raises(ValueError, match="unknown ontology branch"):
        onto.in_branch(MINI + "Capacity", "colour")


# ---------------------------------------------------------------- search and suggestions


def test_search_ranks_exact_prefix_wordprefix_substring_fuzzy(onto: Ontology) -> None:
    labels = [t.label for t in onto.search("electrode")]
    assert labels[0] == "Electrode"  # exact
    assert labels.index("ElectrodeElectrolyteInterface") < labels.index("NegativeElectrode")  # prefix first
    assert labels.index("NegativeElectrode") < labels.index("GraphiteNegativeElectrode")  # shorter first
    assert [t.label for t in onto.search("volt")][:1] == ["Voltammetry"]
    assert "CyclicVoltammetry" in [t.label for t in onto.search("volt")]  # word prefix
    assert [t.label for t in onto.search("ammetry")][:2] == ["Voltammetry", "CyclicVoltammetry"]  # substring
    assert onto.search("capacty")[0].label == "Capacity"  # fuzzy
    assert onto.search("") == []
    assert onto.search("electrode", limit=2) == onto.search("electrode")[:2]


def test_search_hides_deprecated_unless_asked(onto: Ontology) -> None:
    assert all(not t.deprecated for t in onto.search("obsolete"))
    assert [t.label for t in onto.search("obsolete", include_deprecated=True)] == ["ObsoleteLife"]


def test_suggest_from_title_and_file_names(onto: Ontology) -> None:
    iris = [t.iri for t in onto.suggest("CV of graphite negative electrodes; coin_cell-03_EIS.csv")]
    # the longest phrase first ("graphite negative electrodes", plural), then two-word ones
    assert iris[:2] == [
        MINI + "GraphiteNegativeElectrode",
        BATT + "battery_b7fdab58_6e91_4c84_b097_b06eff86a124",
    ]
    assert MINI + "CyclicVoltammetry" in iris and MINI + "ElectrochemicalImpedanceSpectroscopy" in iris
    assert MINI + "NegativeElectrode" not in iris  # covered by the longer phrase
    assert onto.suggest("the data of a final run") == []


# ---------------------------------------------------------------- SKOS vocabularies


def test_skos_vocabulary_loads_and_merges(onto: Ontology) -> None:
    vocab = load_skos(DATA / "vocab" / "protocols.ttl")
    ns = "https://example.org/consortium/protocols#"
    sop = vocab.resolve("coin cell assembly sop")
    assert sop.kind == "concept" and sop.parents == (ns + "CellAssembly",)  # from skos:narrower
    assert vocab.term(ns + "FormationProtocol").parents == (ns + "CellTesting",)  # type: ignore[union-attr]
    assert sop.elucidation.startswith("Assembling CR2032")
    assert vocab.resolve("Zelltest").iri == ns + "CellTesting"
    assert vocab.resolve("formation cycling").iri == ns + "FormationProtocol"  # hidden label
    merged = onto.merge(vocab)
    assert len(merged) == len(onto) + len(vocab)
    assert merged.descendants(ns + "CellAssembly") == {ns + "CellAssembly", ns + "CoinCellAssembly"}
    assert merged.resolve("Electrode").iri == MINI + "Electrode"
    with pytest.raises(OntologyUnavailable):
        load_skos(DATA / "vocab" / "missing.ttl")


# ---------------------------------------------------------------- deposit rules


def test_deposit_terms_ok(onto: Ontology) -> None:
    assert (
        check_deposit_terms(onto, ["NegativeElectrode", "my own words"], "Electrode", "CV", "require") == []
    )


def test_deposit_terms_warn_mode(onto: Ontology) -> None:
    findings = check_deposit_terms(
        onto, ["free text"], None, "Capacity", "warn", hint_text="coin cell CV.csv"
    )
    assert {f.severity for f in findings} == {"warning"}
    by_field = {f.field: f for f in findings}
    assert "no keyword" in by_field["keywords"].message
    assert "CoinCell" in {c.label for c in by_field["keywords"].candidates}
    assert "missing" in by_field["interface_aspect"].message
    assert "not a method" in by_field["method"].message
    assert "Method" in {c.label for c in by_field["method"].candidates}


def test_deposit_terms_require_mode_errors_and_deprecation(onto: Ontology) -> None:
    findings = check_deposit_terms(onto, [DEPRECATED_SOC], "Electrod", "Volt", "require")
    errors = {f.field for f in findings if f.severity == "error"}
    assert errors == {"interface_aspect", "method"}
    deprecated = [f for f in findings if "deprecated" in f.message]
    assert deprecated and deprecated[0].severity == "warning"
    assert deprecated[0].candidates[0].iri == MINI + "StateOfCharge"
    method = next(f for f in findings if f.field == "method")
    assert "Voltammetry" in {c.label for c in method.candidates}


def test_deposit_terms_without_ontology_and_bad_mode(onto: Ontology) -> None:
    (finding,) = check_deposit_terms(None, ["x"], "y", "z", "require")
    assert finding.severity == "error" and "semantic features are off" in finding.message
    with pytest.raises(ValueError, match="'warn' or 'require'"):
        check_deposit_terms(onto, [], None, None, "strict")  # type: ignore[arg-type]


def test_branch_config_missing_from_ontology_is_reported(onto: Ontology) -> None:
    onto.branches = {"interface_aspect": ("https://example.org/elsewhere#Thing",), "method": ()}
    findings = check_deposit_terms(onto, ["Electrode"], "Electrode", "CV", "require")
    assert {f.field for f in findings} == {"interface_aspect", "method"}
    assert all("branch configuration" in f.message for f in findings)


def test_source_that_is_a_file(mini_dir: Path) -> None:
    with pytest.raises(OntologyUnavailable, match="is a file"):
        load_ontology(mini_dir / "battery.ttl", None)


def test_two_sources_share_a_cache(mini_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    other = tmp_path / "other"
    shutil.copytree(DATA / "vocab", other)
    load_ontology(mini_dir, cache)
    load_ontology(other, cache)
    assert len(list(cache.glob("ontology-*.json"))) == 2  # neither evicts the other


def test_non_ascii_labels_resolve() -> None:
    vocab = load_skos(DATA / "vocab")
    ns = "https://example.org/consortium/protocols#"
    assert vocab.resolve("PARTIKELGRÖSSENBESTIMMUNG".replace("SS", "ß")).iri == ns + "ParticleSizing"
    assert vocab.resolve("粒度分析").iri == ns + "ParticleSizing"
    assert vocab.search("partikel")[0].iri == ns + "ParticleSizing"


def test_env_loading_is_memoised_until_a_file_changes(
    mini_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(mini_dir))
    monkeypatch.setenv("DATABAHN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DATABAHN_VOCABULARIES", raising=False)
    first = ontology_from_env()
    assert first is not None and ontology_from_env() is first
    methods = mini_dir / "methods.ttl"
    methods.write_text(methods.read_text().replace('"CV"@en', '"CycV"@en'))
    os.utime(methods, (time.time() + 5, time.time() + 5))
    second = ontology_from_env()
    assert second is not None and second is not first
    assert second.resolve("CycV").label == "CyclicVoltammetry"
