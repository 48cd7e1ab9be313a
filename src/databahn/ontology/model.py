"""Value types and errors of the ontology engine.

Terms are plain frozen records so the compiled index can be loaded without rdflib, and errors carry
their candidates so the API, the CLI and the deposit form can all show "did you mean" lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from databahn.errors import DatabahnError, InvalidInput

TermKind = Literal["class", "concept"]
Severity = Literal["warning", "error"]


class Candidate(NamedTuple):
    """A label and IRI pair offered to a user who must choose."""

    label: str
    iri: str


@dataclass(frozen=True, slots=True)
class Term:
    """One ontology class (OWL) or concept (SKOS): what a page, a tag or a facet shows."""

    iri: str
    label: str
    synonyms: tuple[str, ...] = ()
    elucidation: str = ""
    comment: str = ""
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    deprecated: bool = False
    namespace: str = ""
    module: str = ""
    kind: TermKind = "class"

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.label, self.iri)

    def as_dict(self) -> dict[str, object]:
        return {
            "iri": self.iri,
            "label": self.label,
            "synonyms": list(self.synonyms),
            "elucidation": self.elucidation,
            "comment": self.comment,
            "parents": list(self.parents),
            "children": list(self.children),
            "deprecated": self.deprecated,
            "namespace": self.namespace,
            "module": self.module,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """A file that could not be read (or an import that could not be found); loading went on without it."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of a deposit-terms check; `candidates` are terms the user may pick instead."""

    field: str
    severity: Severity
    message: str
    candidates: tuple[Candidate, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "field": self.field,
            "severity": self.severity,
            "message": self.message,
            "candidates": [c._asdict() for c in self.candidates],
        }


def _format_candidates(candidates: tuple[Candidate, ...], limit: int = 10) -> str:
    lines = [f"  - {c.label} <{c.iri}>" for c in candidates[:limit]]
    if len(candidates) > limit:
        lines.append(f"  ... and {len(candidates) - limit} more")
    return "\n".join(lines)


class OntologyError(DatabahnError):
    """Base of the ontology engine's errors."""


class OntologyUnavailable(OntologyError):
    """No usable ontology: the hub keeps serving, but semantic features are off."""

    status = 503
    title = "Ontology unavailable"


class FetchError(OntologyError):
    """Downloading the official ontology release failed (offline, HTTP error, bad content)."""

    status = 502
    title = "Ontology download failed"


class UnknownTerm(InvalidInput):
    """No class or concept matches the query; `candidates` are near matches."""

    def __init__(self, query: str, candidates: tuple[Candidate, ...] = (), note: str = "") -> None:
        message = f"unknown ontology term {query!r}"
        if note:
            message += f" ({note})"
        if candidates:
            message += "; did you mean one of:\n" + _format_candidates(candidates)
        else:
            message += "; try `databahn ontology search TEXT` to find the right term"
        super().__init__(message, query=query, candidates=[c._asdict() for c in candidates])
        self.query = query
        self.candidates = candidates


class AmbiguousTerm(InvalidInput):
    """Several current classes share the label; the user must pick one by IRI."""

    def __init__(self, query: str, candidates: tuple[Candidate, ...]) -> None:
        message = (
            f"ontology term {query!r} is ambiguous: {len(candidates)} classes match; "
            "use the IRI of the one you mean:\n" + _format_candidates(candidates)
        )
        super().__init__(message, query=query, candidates=[c._asdict() for c in candidates])
        self.query = query
        self.candidates = candidates
