"""BattINFO in the hub: IRIs in metadata, deposit rules, subclass-aware search and a term browser.

The engine (`databahn.ontology`) knows nothing about datasets; this plugin wires it into the hub's
hooks. The ontology is optional: without one (or with a broken one) every hook steps aside, the hub
keeps serving, and `/api/ontology/status` says why semantic features are off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from databahn.db.models import SearchDoc, SearchFacet
from databahn.errors import FieldError, InvalidInput
from databahn.ontology.branches import Mode, check_deposit_terms
from databahn.ontology.env import SEMANTIC_OFF, OntologyStatus, vocabulary_paths
from databahn.ontology.index import LEGACY_NAMESPACES, PREFIXES, Ontology
from databahn.ontology.loader import load_ontology, source_fingerprint
from databahn.ontology.model import AmbiguousTerm, Finding, OntologyUnavailable, Term, UnknownTerm
from databahn.search.index import SearchQuery
from databahn.services.policy import Action, can

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from databahn.db.models import Version
    from databahn.services.hub import Hub
    from databahn.services.policy import Principal

log = logging.getLogger("databahn.ontology")

RULES_ENV = "DATABAHN_TERM_RULES"
TERM_FACET = "term"
#: how often (seconds) a running hub looks for an edited ontology folder
RECHECK_SECONDS = 5.0

# Loaded ontologies by (folder, vocabularies, fingerprint), shared by every hub in the process: the
# compiled index is the same whatever a hub's home is, and compiling BattINFO costs seconds.
_LOADED: dict[tuple[str, tuple[str, ...], str], Ontology] = {}
_LOADED_LOCK = threading.Lock()


@dataclass(frozen=True)
class TermRef:
    """A metadata value that names an ontology term: where it was, what was stored, what it means."""

    field: str
    value: str
    iri: str
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "value": self.value, "iri": self.iri, "label": self.label}


def rules_mode() -> tuple[Mode, str | None]:
    """The deposit-terms mode from DATABAHN_TERM_RULES, and an error message when it is misspelt."""
    raw = os.environ.get(RULES_ENV, "").strip().lower() or "warn"
    if raw == "warn":
        return "warn", None
    if raw == "require":
        return "require", None
    return "warn", f"{RULES_ENV} must be 'warn' or 'require', not {raw!r}; fix the hub's configuration"


def finding_message(finding: Finding, limit: int = 6) -> str:
    """A finding as one line a depositor can act on, candidates included."""
    if not finding.candidates:
        return finding.message
    shown = ", ".join(f"{c.label} <{c.iri}>" for c in finding.candidates[:limit])
    more = f" and {len(finding.candidates) - limit} more" if len(finding.candidates) > limit else ""
    return f"{finding.message} (candidates: {shown}{more})"


class OntologyService:
    """The hub's view of the ontology: loading, metadata normalisation, rules, search and counts."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._lock = threading.Lock()
        self._ontology: Ontology | None = None
        self._status: OntologyStatus | None = None
        self._key: tuple[str, tuple[str, ...], str] | None = None
        self._checked = 0.0
        self._advice: dict[tuple[Any, ...], dict[str, Any]] = {}

    # -- loading --------------------------------------------------------------------------------
    @property
    def source(self) -> Path:
        """Settings win, then DATABAHN_ONTOLOGY_DIR, then `$DATABAHN_HOME/ontology` (where fetch puts it)."""
        if self.hub.settings.ontology_dir is not None:
            return Path(self.hub.settings.ontology_dir).expanduser()
        configured = os.environ.get("DATABAHN_ONTOLOGY_DIR", "").strip()
        return Path(configured).expanduser() if configured else self.hub.home / "ontology"

    @property
    def cache_dir(self) -> Path:
        return self.hub.home / "cache" / "ontology"

    def load(self) -> tuple[Ontology | None, OntologyStatus]:
        """The ontology (or None) and why; never raises, re-checks the folder every few seconds."""
        now = time.monotonic()
        if self._status is not None and now - self._checked < RECHECK_SECONDS:
            return self._ontology, self._status
        with self._lock:
            if self._status is None or time.monotonic() - self._checked >= RECHECK_SECONDS:
                self._ontology, self._status = self._load()
                self._checked = time.monotonic()
            return self._ontology, self._status

    def reload(self) -> OntologyStatus:
        """Forget what was loaded and look again now (after `databahn ontology fetch`, in tests)."""
        with self._lock:
            self._status = None
            self._checked = 0.0
        return self.load()[1]

    def _load(self) -> tuple[Ontology | None, OntologyStatus]:
        source = self.source
        configured = self.hub.settings.ontology_dir is not None or bool(
            os.environ.get("DATABAHN_ONTOLOGY_DIR", "").strip()
        )
        if not source.is_dir():
            if source.exists():
                why = "it is a file; point DATABAHN_ONTOLOGY_DIR to the folder that contains it"
            elif configured:
                why = "DATABAHN_ONTOLOGY_DIR points to a missing folder"
            else:
                why = "DATABAHN_ONTOLOGY_DIR is not set"
            message = (
                f"no ontology at {source} ({why}); {SEMANTIC_OFF}. "
                "Set DATABAHN_ONTOLOGY_DIR or run `databahn ontology fetch`."
            )
            return None, OntologyStatus(False, message, source)
        vocabularies = [p for p in vocabulary_paths() if p.exists()]
        try:
            key = (
                str(source.resolve()),
                tuple(str(v) for v in vocabularies),
                source_fingerprint(source, vocabularies),
            )
            if key == self._key and self._ontology is not None and self._status is not None:
                return self._ontology, self._status
            with _LOADED_LOCK:
                ontology = _LOADED.get(key)
                if ontology is None:
                    started = time.monotonic()
                    ontology = load_ontology(source, self.cache_dir, extra=vocabularies)
                    for old in [k for k in _LOADED if k[0] == key[0]]:
                        del _LOADED[old]  # an edited folder: keep only its current version
                    _LOADED[key] = ontology
                    log.info("ontology loaded from %s in %.1f s", source, time.monotonic() - started)
        except OntologyUnavailable as exc:
            return None, OntologyStatus(False, exc.detail, source)
        except Exception as exc:  # a broken ontology must never take the hub down
            log.exception("could not load the ontology from %s", source)
            message = f"could not load the ontology in {source}: {exc}; {SEMANTIC_OFF}"
            return None, OntologyStatus(False, message, source)
        self._key = key
        message = f"ontology loaded from {source}: {len(ontology)} terms"
        if ontology.problems:
            names = ", ".join(Path(p.file).name for p in ontology.problems[:5])
            message += f"; {len(ontology.problems)} file(s) could not be used ({names}): see `problems`"
        return ontology, OntologyStatus(True, message, source, list(ontology.problems))

    @property
    def version_key(self) -> str:
        """Changes whenever the ontology's files do: names artefacts generated from it (the reference)."""
        self.load()
        return self._key[2] if self._key else "none"

    @property
    def ontology(self) -> Ontology | None:
        return self.load()[0]

    def require(self) -> Ontology:
        """The ontology, or a clear 503 saying why semantic features are off."""
        ontology, status = self.load()
        if ontology is None:
            raise OntologyUnavailable(status.message)
        return ontology

    def status(self) -> dict[str, Any]:
        ontology, status = self.load()
        mode, mode_error = rules_mode()
        return {
            "available": status.available,
            "semantic_search": status.available,
            "message": status.message,
            "source": str(status.source) if status.source else None,
            "problems": [{"file": p.file, "message": p.message} for p in status.problems],
            "stats": ontology.stats if ontology is not None else None,
            "deposit_rules": mode,
            "deposit_rules_error": mode_error,
        }

    # -- metadata ---------------------------------------------------------------------------------
    def prepare_metadata(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Store IRIs: labels, synonyms and legacy IRIs become today's IRI; free text stays as it is."""
        ontology = self.ontology
        if ontology is None:
            return meta
        errors: list[FieldError] = []
        candidates: dict[str, list[dict[str, str]]] = {}

        def normalise(field: str, value: Any) -> Any:
            if not isinstance(value, str) or not value.strip():
                return value  # the metadata model reports wrong types and empty values
            try:
                return ontology.resolve(value).iri
            except AmbiguousTerm as exc:
                errors.append(FieldError(field, exc.detail))
                candidates[field] = [c._asdict() for c in exc.candidates]
                return value
            except UnknownTerm as exc:
                if _ontology_namespace(value):  # meant as a term, but no such class: a typo or a stale IRI
                    errors.append(FieldError(field, exc.detail))
                    candidates[field] = [c._asdict() for c in exc.candidates]
                return value  # supplementary free-text keywords are allowed (DMP 2.1.7)

        keywords = meta.get("keywords")
        if isinstance(keywords, list):
            meta["keywords"] = [normalise(f"keywords.{i}", kw) for i, kw in enumerate(keywords)]
        if "interface_aspect" in meta:
            meta["interface_aspect"] = normalise("interface_aspect", meta["interface_aspect"])
        method = meta.get("method")
        if isinstance(method, dict) and "name" in method:
            meta["method"] = {**method, "name": normalise("method.name", method["name"])}
        if errors:
            fields = ", ".join(e.field for e in errors)
            raise InvalidInput(
                f"ontology term(s) in {fields} need fixing: use the IRI of the class you mean.\n"
                + "\n".join(e.message for e in errors),
                errors=errors,
                candidates=candidates,
            )
        return meta

    def term_refs(self, meta: dict[str, Any], ontology: Ontology | None = None) -> list[TermRef]:
        """The ontology terms a version's metadata names (IRIs, or labels from before the ontology)."""
        ontology = ontology or self.ontology
        if ontology is None:
            return []
        values: list[tuple[str, Any]] = [("keywords", kw) for kw in meta.get("keywords") or []]
        values.append(("interface_aspect", meta.get("interface_aspect")))
        method = meta.get("method")
        if isinstance(method, dict):
            values.append(("method", method.get("name")))
        refs: list[TermRef] = []
        for field, value in values:
            if not isinstance(value, str) or not value.strip():
                continue
            term = _exact_term(ontology, value)
            if term is not None:
                refs.append(TermRef(field, value, term.iri, term.label))
        return refs

    def findings(self, version: Version, mode: Mode, ontology: Ontology | None) -> list[Finding]:
        meta = version.meta or {}
        method = meta.get("method")
        method_name = method.get("name") if isinstance(method, dict) else None
        return check_deposit_terms(
            ontology,
            [k for k in meta.get("keywords") or [] if isinstance(k, str)],
            meta.get("interface_aspect"),
            method_name if isinstance(method_name, str) else None,
            mode,
            hint_text=self._hint_text(version),
        )

    @staticmethod
    def _hint_text(version: Version) -> str:
        title = str((version.meta or {}).get("title", ""))
        return " ".join([title, *(f.key.rsplit("/", 1)[-1] for f in version.files)])

    def publish_checks(self, s: Session, version: Version) -> list[FieldError]:
        """In "require" mode, missing or wrong terms block publishing; "warn" never blocks."""
        mode, mode_error = rules_mode()
        if mode_error:
            return [FieldError(RULES_ENV, mode_error)]
        if mode != "require":
            return []
        findings = self.findings(version, mode, self.ontology)
        return [FieldError(f.field, finding_message(f)) for f in findings if f.severity == "error"]

    def record_extras(self, s: Session, version: Version, principal: Principal) -> dict[str, Any]:
        """`extras["terms"]`: the terms with labels; for those who may edit the version, also what the
        deposit rules found and terms suggested from the title and file names.

        Findings look for near matches (fuzzy search), which would cost more than the search itself
        on a page of hits, so they are computed only for the people who can act on them, and cached.
        """
        ontology, status = self.load()
        if ontology is None:
            return {"terms": {"available": False, "message": status.message}}
        mode, _ = rules_mode()
        refs = self.term_refs(version.meta or {}, ontology)
        info: dict[str, Any] = {
            "available": True,
            "mode": mode,
            "resolved": [r.as_dict() for r in refs],
            "labels": {r.iri: r.label for r in refs},
        }
        if can(principal, Action.edit, version):
            key = (version.id, str(version.updated), mode, tuple(f.key for f in version.files), self._key)
            cached = self._advice.get(key)
            if cached is None:
                tagged = {r.iri for r in refs}
                hints = ontology.suggest(self._hint_text(version), limit=10)
                cached = {
                    "findings": [f.as_dict() for f in self.findings(version, mode, ontology)],
                    "suggestions": [{"iri": t.iri, "label": t.label} for t in hints if t.iri not in tagged],
                }
                if len(self._advice) >= 2048:
                    self._advice.clear()
                self._advice[key] = cached
            info.update(cached)
        return {"terms": info}

    # -- search -------------------------------------------------------------------------------------
    def index_facets(self, version: Version) -> list[tuple[str, str]]:
        """("term", IRI) for every term the metadata names, so a search can match its subclasses."""
        return [(TERM_FACET, iri) for iri in dict.fromkeys(r.iri for r in self.term_refs(version.meta or {}))]

    def expand(self, label_or_iri: str) -> tuple[Term, frozenset[str]]:
        """The term a user typed and every IRI a search for it matches (itself and all subclasses)."""
        term = self.require().resolve(label_or_iri)
        return term, self.require().descendants(term.iri)

    def search_clauses(self, params: dict[str, Any]) -> list[Any]:
        """params {"term": [...]}: one clause per term (AND), each matching the term or a subclass."""
        if TERM_FACET not in params:
            return []
        raw = params[TERM_FACET]
        requested = [raw] if isinstance(raw, str) else list(raw or [])
        requested = [str(t).strip() for t in requested if str(t).strip()]
        if not requested:
            raise InvalidInput("term must name an ontology class, by label or IRI (e.g. term=Electrode)")
        clauses: list[Any] = []
        for item in requested:
            _term, iris = self.expand(item)
            clauses.append(
                SearchDoc.version_id.in_(
                    select(SearchFacet.version_id).where(
                        SearchFacet.key == TERM_FACET, SearchFacet.value.in_(sorted(iris))
                    )
                )
            )
        return clauses

    def count(self, principal: Principal, iri: str, *, subclasses: bool = True) -> int:
        """Datasets `principal` may see tagged with the class (and, by default, any subclass)."""
        query = (
            SearchQuery(params={TERM_FACET: [iri]}, with_facets=False, size=1)
            if subclasses
            else SearchQuery(facets={TERM_FACET: [iri]}, with_facets=False, size=1)
        )
        return self.hub.datasets.search(principal, query).total

    def term_page(self, principal: Principal, label_or_iri: str, *, sample: int = 10) -> dict[str, Any]:
        """Everything a term page shows; dataset counts come from the search, so they respect access."""
        ontology = self.require()
        term = ontology.resolve(label_or_iri)
        page = self.hub.datasets.search(
            principal, SearchQuery(params={TERM_FACET: [term.iri]}, with_facets=False, size=sample)
        )

        def brief(iris: tuple[str, ...], counted: bool) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for iri in sorted(iris, key=lambda i: ontology.label(i).lower()):
                row: dict[str, Any] = {"iri": iri, "label": ontology.label(iri)}
                if counted:
                    row["datasets"] = self.count(principal, iri) if page.total else 0
                rows.append(row)
            return rows

        return {
            **term.as_dict(),
            "parents": brief(term.parents, counted=False),
            "children": brief(term.children, counted=len(term.children) <= 60),
            "subclass_count": len(ontology.descendants(term.iri, include_self=False)),
            "datasets": {
                "total": page.total,
                "direct": self.count(principal, term.iri, subclasses=False) if page.total else 0,
                "search_url": f"/api/search?term={_quote(term.iri)}",
                "hits": [
                    {"pid": r.pid, "title": r.metadata.title, "url": r.url, "access": r.access.value}
                    for r in page.hits
                ],
            },
        }

    def labels(self, iris: list[str]) -> dict[str, str]:
        """What to show for stored IRIs (an unknown IRI is shown as itself)."""
        ontology = self.ontology
        if ontology is None:
            return {iri: iri for iri in iris}
        return {iri: ontology.label(iri) for iri in iris}


def _ontology_namespace(value: str) -> bool:
    """Does the value name something in BattINFO's namespaces (today's, legacy, or a CURIE)?"""
    text = value.strip().strip("<>")
    prefix, sep, local = text.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return True
    namespaces = [*PREFIXES.values(), *(old for old, _ in LEGACY_NAMESPACES)]
    return any(text.startswith(ns) for ns in namespaces)


def _exact_term(ontology: Ontology, value: str) -> Term | None:
    """The term a stored value names: an IRI, or a label/synonym matching exactly one current class.

    Unlike `Ontology.resolve` this never looks for near matches, so it is cheap enough for every
    record of a search page and every document of a re-index."""
    term = ontology.term(value)
    if term is not None:
        return term
    if "://" in value:
        return None
    matches = ontology.terms_with_label(value)
    current = [t for t in matches if not t.deprecated]
    if len(current) == 1:
        return current[0]
    return matches[0] if not current and len(matches) == 1 else None


def _quote(value: str) -> str:
    import urllib.parse

    return urllib.parse.quote(value, safe="")


def service(hub: Hub) -> OntologyService:
    """The hub's ontology service (set up by this plugin)."""
    svc = hub.ext.get("ontology")
    if not isinstance(svc, OntologyService):
        raise OntologyUnavailable("the ontology plugin is not installed on this hub")
    return svc


# -- plugin contract ---------------------------------------------------------------------------------
def setup(hub: Hub) -> None:
    svc = OntologyService(hub)
    hub.ext["ontology"] = svc
    hub.hooks.prepare_metadata.append(svc.prepare_metadata)
    hub.hooks.publish_checks.append(svc.publish_checks)
    hub.hooks.record_extras.append(svc.record_extras)
    hub.hooks.index_facets.append(svc.index_facets)
    hub.hooks.search_clauses.append(svc.search_clauses)


def routers() -> list[Any]:
    from databahn.ontology.api import router as api_router
    from databahn.ontology.web import router as web_router

    return [api_router, web_router]
