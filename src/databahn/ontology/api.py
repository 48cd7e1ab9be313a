"""JSON API of the ontology: status, term pages, autocomplete, suggestions and labels.

Everything but `/status` answers 503 with the reason when no ontology is loaded; the rest of the
hub is unaffected. Term pages count datasets through the search, so counts respect access.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from databahn.api.deps import get_hub, get_principal
from databahn.errors import NotFound
from databahn.ontology.model import Term, UnknownTerm
from databahn.ontology.plugin import OntologyService, service
from databahn.services.hub import Hub
from databahn.services.policy import Principal

router = APIRouter(prefix="/api/ontology", tags=["ontology"])


def _service(hub: Annotated[Hub, Depends(get_hub)]) -> OntologyService:
    return service(hub)


ServiceDep = Annotated[OntologyService, Depends(_service)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _brief(term: Term) -> dict[str, Any]:
    return {
        "iri": term.iri,
        "label": term.label,
        "synonyms": list(term.synonyms),
        "deprecated": term.deprecated,
        "elucidation": term.elucidation[:300],
    }


@router.get("/status")
def status(svc: ServiceDep) -> dict[str, Any]:
    """Whether semantic features are on, and if not, why (missing folder, broken file named)."""
    return svc.status()


def _term_page(svc: OntologyService, principal: Principal, ref: str) -> dict[str, Any]:
    try:
        return svc.term_page(principal, ref)
    except UnknownTerm as exc:  # a missing resource, with the near matches to choose from
        raise NotFound(exc.detail, candidates=[c._asdict() for c in exc.candidates]) from None


@router.get("/term")
def term_by_query(
    svc: ServiceDep,
    principal: PrincipalDep,
    iri: str = Query(..., max_length=500, description="label or IRI"),
) -> dict[str, Any]:
    """A class: label, IRI, elucidation, synonyms, parents, children and the datasets tagged with it."""
    return _term_page(svc, principal, iri)


@router.get("/terms/{ref:path}")
def term(svc: ServiceDep, principal: PrincipalDep, ref: str) -> dict[str, Any]:
    """Same as /term?iri=..., with the label or the (percent-encoded) IRI in the path."""
    return _term_page(svc, principal, ref)


@router.get("/search")
def search(
    svc: ServiceDep,
    q: str = Query(..., min_length=1, max_length=200),
    limit: int = Query(20, ge=1, le=100),
    deprecated: bool = False,
) -> dict[str, Any]:
    """Autocomplete over labels and synonyms (exact, prefix, word prefix, substring, then fuzzy)."""
    terms = svc.require().search(q, limit=limit, include_deprecated=deprecated)
    return {"query": q, "terms": [_brief(t) for t in terms]}


@router.get("/suggest")
def suggest(
    svc: ServiceDep,
    text: str = Query(..., min_length=1, max_length=2000),
    limit: int = Query(10, ge=1, le=50),
) -> dict[str, Any]:
    """Terms mentioned in a title or file names ("NMC811_cyclic-voltammetry.csv")."""
    terms = svc.require().suggest(text, limit=limit)
    return {"text": text, "terms": [_brief(t) for t in terms]}


@router.get("/labels")
def labels(svc: ServiceDep, iri: list[str] = Query(default_factory=list)) -> dict[str, Any]:
    """Labels to show for stored IRIs (facet values, keywords); unknown IRIs map to themselves."""
    return {"labels": svc.labels(iri)}
