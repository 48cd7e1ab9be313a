"""BattINFO ontology engine: load, compile, resolve terms, expand subclasses, suggest and document.

Works without a database and, on a warm start, without rdflib. See `load_ontology` and
`ontology_from_env` for the two ways in. The download and HTML-reference helpers are imported on
first use (they pull in httpx and Jinja2), so a warm start stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from databahn.ontology.branches import DEFAULT_BRANCHES, check_deposit_terms, parse_branches
from databahn.ontology.env import OntologyStatus, load_from_env, ontology_from_env
from databahn.ontology.index import Ontology
from databahn.ontology.loader import compile_ontology, load_ontology, load_skos
from databahn.ontology.model import (
    AmbiguousTerm,
    Candidate,
    FetchError,
    Finding,
    LoadProblem,
    OntologyError,
    OntologyUnavailable,
    Term,
    UnknownTerm,
)

if TYPE_CHECKING:
    from databahn.ontology.fetch import fetch_ontology
    from databahn.ontology.reference import render_reference_html

_LAZY = {"fetch_ontology": "databahn.ontology.fetch", "render_reference_html": "databahn.ontology.reference"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'databahn.ontology' has no attribute {name!r}")


__all__ = [
    "DEFAULT_BRANCHES",
    "AmbiguousTerm",
    "Candidate",
    "FetchError",
    "Finding",
    "LoadProblem",
    "Ontology",
    "OntologyError",
    "OntologyStatus",
    "OntologyUnavailable",
    "Term",
    "UnknownTerm",
    "check_deposit_terms",
    "compile_ontology",
    "fetch_ontology",
    "load_from_env",
    "load_ontology",
    "load_skos",
    "ontology_from_env",
    "parse_branches",
    "render_reference_html",
]
