"""Where the ontology lives on this machine, for the CLI and the server alike.

`DATABAHN_ONTOLOGY_DIR` names the folder with BattINFO (default: `$DATABAHN_HOME/ontology`, where
`databahn ontology fetch` puts it); the compiled index is cached in `$DATABAHN_HOME/cache/ontology`.
Extra SKOS vocabularies can be listed in `DATABAHN_VOCABULARIES` (paths separated by the OS path
separator). No ontology is not an error: the hub runs and says that semantic features are off.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from databahn.ontology.index import Ontology
from databahn.ontology.loader import load_ontology, source_fingerprint
from databahn.ontology.model import LoadProblem, OntologyUnavailable

SEMANTIC_OFF = "semantic features are off"

# Loaded ontologies by (folder, cache, vocabularies, fingerprint): repeated calls (one per request in
# the server) cost a few stat() calls, and an edited file is picked up without a restart.
_MEMO: dict[tuple[str, str, tuple[str, ...], str], Ontology] = {}
_MEMO_LOCK = threading.Lock()


@dataclass
class OntologyStatus:
    """What the server shows on its status page and the CLI prints when there is no ontology."""

    available: bool
    message: str
    source: Path | None = None
    problems: list[LoadProblem] = field(default_factory=list)


def databahn_home() -> Path:
    return Path(os.environ.get("DATABAHN_HOME", "./databahn-data"))


def ontology_dir() -> Path:
    configured = os.environ.get("DATABAHN_ONTOLOGY_DIR", "").strip()
    return Path(configured) if configured else databahn_home() / "ontology"


def ontology_cache_dir() -> Path:
    return databahn_home() / "cache" / "ontology"


def vocabulary_paths() -> list[Path]:
    raw = os.environ.get("DATABAHN_VOCABULARIES", "")
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def load_from_env() -> tuple[Ontology | None, OntologyStatus]:
    """Load the configured ontology; never raises for a missing or broken ontology."""
    source = ontology_dir()
    if not source.is_dir():
        hint = (
            "DATABAHN_ONTOLOGY_DIR points to a missing folder"
            if os.environ.get("DATABAHN_ONTOLOGY_DIR", "").strip()
            else "DATABAHN_ONTOLOGY_DIR is not set"
        )
        message = (
            f"no ontology at {source} ({hint}); {SEMANTIC_OFF}. "
            "Set DATABAHN_ONTOLOGY_DIR or run `databahn ontology fetch`."
        )
        return None, OntologyStatus(False, message, source)
    missing = [p for p in vocabulary_paths() if not p.exists()]
    vocabularies = [p for p in vocabulary_paths() if p.exists()]
    try:
        key = (
            str(source.resolve()),
            str(ontology_cache_dir().resolve()),
            tuple(str(v) for v in vocabularies),
            source_fingerprint(source, vocabularies),
        )
        with _MEMO_LOCK:
            ontology = _MEMO.get(key)
            if ontology is None:
                ontology = load_ontology(source, ontology_cache_dir(), extra=vocabularies)
                if missing:
                    ontology.problems.extend(
                        LoadProblem(str(p), "vocabulary listed in DATABAHN_VOCABULARIES is missing")
                        for p in missing
                    )
                _MEMO.clear()  # keep only the current version
                _MEMO[key] = ontology
    except OntologyUnavailable as exc:
        return None, OntologyStatus(False, exc.detail, source)
    except OSError as exc:
        return None, OntologyStatus(
            False, f"could not read the ontology in {source}: {exc}; {SEMANTIC_OFF}", source
        )
    n = len(ontology)
    message = f"ontology loaded from {source}: {n} terms"
    if ontology.problems:
        message += f", {len(ontology.problems)} problem(s) (see `databahn ontology compile`)"
    return ontology, OntologyStatus(True, message, source, list(ontology.problems))


def ontology_from_env() -> Ontology | None:
    """The configured ontology, or None when semantic features are off (see `load_from_env` for why)."""
    return load_from_env()[0]
