"""Named branches of BattINFO and the deposit rules that use them.

A deposit says which interface aspect it studies and which method produced it; both must be
ontology terms from the right branch, and at least one keyword must be a BattINFO term. Projects
choose whether a miss only warns (the embedded demo) or blocks the deposit ("require").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from databahn.ontology.model import AmbiguousTerm, Candidate, Finding, Severity, Term, UnknownTerm

if TYPE_CHECKING:
    from databahn.ontology.index import Ontology

Mode = Literal["warn", "require"]

_ECHEM = "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_"
_CHAMEO = "https://w3id.org/emmo/domain/characterisation-methodology/chameo#"
_EMMO = "https://w3id.org/emmo#EMMO_"

# Roots found in BattINFO 0.20.1 / electrochemistry 0.36.0 / CHAMEO 1.0.2 / EMMO 1.0.2 (labels in comments).
DEFAULT_BRANCHES: dict[str, tuple[str, ...]] = {
    "interface_aspect": (
        _ECHEM
        + "b5ea31c9_bb10_4276_980e_c3eceb1efc82",  # ElectrochemicalComponent (Electrode, Electrolyte, ...)
        _ECHEM + "ebdb68e9_c4b5_4d57_a042_c0f51d446755",  # ElectrochemicalMaterial
        _ECHEM + "94d9d5e2_9e9b_4eb7_b3ce_f3d658b7ae64",  # Interface (ElectrodeElectrolyteInterface, ...)
        _ECHEM + "f78e3c87_01c6_4cc2_b047_30322262e22d",  # InterfacialRegion (Interphase, SEI, CEI, ...)
    ),
    "method": (
        _CHAMEO + "ElectrochemicalTesting",  # CyclicVoltammetry, EIS, Chronopotentiometry, ...
        _CHAMEO + "CharacterisationTechnique",  # XRD, XPS, microscopy, ...
        _CHAMEO + "CharacterisationProcedure",
        _ECHEM + "d3e2d213_d078_4b9a_8beb_62f063e57d69",  # Cycling (GalvanostaticCycling, ...)
        _EMMO + "463bcfda_867b_41d9_a967_211d4d437cfb",  # Measurement
        _EMMO + "eff42cb3_208e_4768_9a39_f8b6b3c3d7a2",  # Computation (Simulation, DataProcessing, ...)
    ),
    "quantity": (_EMMO + "0650c031_42b6_4f0a_b62d_d88f071da6bf",),  # Quantity
    "device": (
        "https://w3id.org/emmo/domain/battery#battery_74ed2670_657d_4f0b_b0a6_3f13bc2e9c17",  # Battery
        _ECHEM + "6f2c88c9_5c04_4953_a298_032cc3ab9b77",  # ElectrochemicalCell
    ),
}

BRANCH_TITLES = {
    "interface_aspect": "interface aspect (electrode, electrolyte, interface or interphase)",
    "method": "method (electrochemical test, characterisation technique, cycling, computation)",
    "quantity": "quantity",
    "device": "battery or cell",
}


def parse_branches(ontology: Ontology, config: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Turn a project's branch config (labels or IRIs per branch) into root IRIs; unknown labels raise."""
    out: dict[str, tuple[str, ...]] = {}
    for name, roots in config.items():
        if isinstance(roots, str):
            roots = [roots]
        out[name] = tuple(ontology.resolve(root).iri for root in roots)
    return out


def _severity(mode: Mode) -> Severity:
    return "error" if mode == "require" else "warning"


def _check_branch_term(
    ontology: Ontology, field: str, branch: str, value: str | None, mode: Mode
) -> list[Finding]:
    severity = _severity(mode)
    title = BRANCH_TITLES.get(branch, branch)
    roots = tuple(t.candidate for t in ontology.branch_roots(branch))
    if not roots:
        return [
            Finding(
                field,
                severity,
                f"cannot check {field}: none of the roots configured for the ontology branch {branch!r} "
                "is in the loaded ontology; fix the project's branch configuration",
            )
        ]
    if value is None or not value.strip():
        return [Finding(field, severity, f"{field} is missing: give an ontology term for the {title}", roots)]
    try:
        term = ontology.resolve(value)
    except AmbiguousTerm as exc:
        return [Finding(field, severity, f"{field} {value!r} is ambiguous; pick one by IRI", exc.candidates)]
    except UnknownTerm:
        near = tuple(
            t.candidate for t in ontology.search(value, limit=50) if ontology.in_branch(t.iri, branch)
        )
        return [
            Finding(
                field,
                severity,
                f"{field} {value!r} is not an ontology term; choose a {title} term",
                near[:10] or roots,
            )
        ]
    findings = _deprecation(ontology, field, term)
    if not ontology.in_branch(term.iri, branch):
        near = tuple(
            t.candidate for t in ontology.search(term.label, limit=50) if ontology.in_branch(t.iri, branch)
        )
        findings.append(
            Finding(
                field,
                severity,
                f"{field} {term.label!r} <{term.iri}> is not a {title} term; "
                f"it must be a subclass of {', '.join(c.label for c in roots)}",
                near[:10] or roots,
            )
        )
    return findings


def _deprecation(ontology: Ontology, field: str, term: Term) -> list[Finding]:
    if not term.deprecated:
        return []
    current = tuple(t.candidate for t in ontology.terms_with_label(term.label) if not t.deprecated)
    hint = "; use the current class instead" if current else ""
    return [Finding(field, "warning", f"{field} {term.label!r} <{term.iri}> is deprecated{hint}", current)]


def check_deposit_terms(
    ontology: Ontology | None,
    keywords: Iterable[str],
    interface_aspect: str | None,
    method: str | None,
    mode: Mode = "warn",
    *,
    hint_text: str = "",
) -> list[Finding]:
    """Check a deposit's ontology terms. An empty list means all rules are met.

    `hint_text` (title and file names) lets the keyword rule suggest terms when none are given.
    Without an ontology nothing can be checked: that is itself one finding, an error in "require".
    """
    if mode not in ("warn", "require"):
        raise ValueError(f"deposit-terms mode must be 'warn' or 'require', not {mode!r}")
    severity = _severity(mode)
    if ontology is None:
        return [
            Finding(
                "keywords",
                severity,
                "semantic features are off (no ontology loaded; set DATABAHN_ONTOLOGY_DIR), "
                "so ontology terms could not be checked",
            )
        ]
    findings: list[Finding] = []
    matched = 0
    for keyword in keywords:
        if not keyword or not keyword.strip():
            continue
        try:
            term = ontology.resolve(keyword)
        except AmbiguousTerm as exc:
            findings.append(
                Finding("keywords", "warning", f"keyword {keyword!r} matches several classes", exc.candidates)
            )
            matched += 1  # it is a BattINFO term, just not a unique one
            continue
        except UnknownTerm:
            continue  # free-text keywords are allowed next to ontology terms
        matched += 1
        findings.extend(_deprecation(ontology, "keywords", term))
    if matched == 0:
        suggestions: tuple[Candidate, ...] = tuple(t.candidate for t in ontology.suggest(hint_text, limit=10))
        findings.append(
            Finding(
                "keywords",
                severity,
                "no keyword is a BattINFO ontology term; add at least one"
                + (" (suggested from the title and file names below)" if suggestions else ""),
                suggestions,
            )
        )
    findings.extend(
        _check_branch_term(ontology, "interface_aspect", "interface_aspect", interface_aspect, mode)
    )
    findings.extend(_check_branch_term(ontology, "method", "method", method, mode))
    return findings
