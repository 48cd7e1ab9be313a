"""Ontology pages: a browser (search + branch tree), a page per class, the static reference and the
"Ontology terms" card on dataset pages.

Counts of datasets come from the search, so a page never reveals what the viewer may not see. The
static reference has no counts at all: it is generated once and shared by every viewer.
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
import tempfile
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from jinja2 import pass_context
from markupsafe import Markup

from databahn.errors import InvalidInput, NotFound
from databahn.ontology.branches import BRANCH_TITLES
from databahn.ontology.model import UnknownTerm
from databahn.ontology.plugin import TERM_FACET, OntologyService, service
from databahn.web.render import (
    DATASET_SIDE_PANELS,
    NAV_ITEMS,
    HtmlRoute,
    NavItem,
    add_template_dir,
    get_hub,
    principal_of,
    render,
    templates,
)

log = logging.getLogger("databahn.ontology")
TEMPLATES = Path(__file__).resolve().parent / "web_templates"
router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
_REFERENCE_LOCK = threading.Lock()


def term_url(iri: str) -> str:
    return "/ontology/term?iri=" + urllib.parse.quote(iri, safe="")


def search_url(iri: str) -> str:
    return "/search?" + urllib.parse.urlencode([("facet", f"{TERM_FACET}:{iri}")])


def _svc(request: Request) -> OntologyService:
    return service(get_hub(request))


@router.get("/ontology")
def browser(request: Request, q: str = "") -> Response:
    """Search box, hits, and the branches the deposit rules use with their first level of classes."""
    svc = _svc(request)
    ontology, status = svc.load()
    text = q.strip()[:200]
    hits: list[Any] = []
    branches: list[dict[str, Any]] = []
    if ontology is not None:
        hits = ontology.search(text, limit=30) if text else []
        for name in ontology.branches:
            roots = []
            for root in ontology.branch_roots(name):
                kids = sorted(
                    (t for t in (ontology.term(c) for c in root.children) if t and not t.deprecated),
                    key=lambda t: t.label.lower(),
                )
                roots.append({"term": root, "children": kids[:40], "more": max(0, len(kids) - 40)})
            branches.append({"name": name, "title": BRANCH_TITLES.get(name, name), "roots": roots})
    return render(
        request,
        "ontology_browser.html",
        {
            "status": status,
            "stats": ontology.stats if ontology is not None else None,
            "q": text,
            "hits": hits,
            "branches": branches,
            "term_url": term_url,
        },
    )


@router.get("/ontology/term")
def term_page(request: Request, iri: str = "") -> Response:
    """One class: what it is, where it sits, and the datasets tagged with it or a subclass."""
    if not iri.strip():
        raise InvalidInput("give the class to show, e.g. /ontology/term?iri=Electrode (a label or an IRI)")
    svc = _svc(request)
    try:
        page = svc.term_page(principal_of(request), iri)
    except UnknownTerm as exc:
        raise NotFound(exc.detail) from None
    return render(
        request,
        "ontology_term.html",
        {"t": page, "term_url": term_url, "search_url": search_url(page["iri"])},
    )


# -- the static reference ---------------------------------------------------------------------------
def reference_dir(svc: OntologyService) -> Path:
    """The generated reference of the loaded ontology (one folder per version of the sources)."""
    ontology = svc.require()
    key = svc.version_key
    root = svc.hub.home / "cache" / "reference"
    target = root / key
    if (target / "index.html").is_file():
        return target
    with _REFERENCE_LOCK:
        if not (target / "index.html").is_file():
            from databahn.ontology.reference import render_reference_html

            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))  # unique: other workers may race
            try:
                title = f"{svc.hub.settings.hub_name}: ontology reference"
                render_reference_html(ontology, tmp, title=title)
                shutil.rmtree(target, ignore_errors=True)
                tmp.rename(target)  # readers never see a half-written reference
            except OSError:
                if not (target / "index.html").is_file():
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            for old in root.iterdir():  # keep only the current version
                if old.is_dir() and old.name != key and not old.name.startswith("."):
                    shutil.rmtree(old, ignore_errors=True)
    return target


@router.get("/ontology/reference")
def reference_root() -> RedirectResponse:
    return RedirectResponse("/ontology/reference/", status_code=307)


@router.get("/ontology/reference/{path:path}")
def reference_file(request: Request, path: str = "") -> Response:
    """Files of the reference, generated on the first request (or by `databahn ontology reference`)."""
    base = reference_dir(_svc(request)).resolve()
    target = (base / (path or "index.html")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if base not in target.parents or not target.is_file():
        raise NotFound(f"the ontology reference has no page {path!r}; start at /ontology/reference/")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media, headers={"Cache-Control": "public, max-age=300"})


# -- dataset page card --------------------------------------------------------------------------------
def terms_panel(request: Request, record: Any) -> Markup | None:
    """The record's ontology terms as labels linking to their pages (metadata keeps the IRIs)."""
    info = (record.extras or {}).get("terms") or {}
    if not info.get("available"):
        return None
    template = templates.env.get_template("ontology_panel.html")
    return Markup(
        template.render(
            terms=info.get("resolved", []),
            findings=info.get("findings", []),
            suggestions=info.get("suggestions", []),
            mode=info.get("mode"),
            is_draft=record.state.value == "draft",
            term_url=term_url,
        )
    )


def facet_label(request: Request, value: str) -> str:
    """Search-page facets show labels for IRIs (metadata and the index keep the IRIs)."""
    ontology = _svc(request).ontology
    return ontology.label(value) if ontology is not None and "://" in value else value


@pass_context
def term_label_filter(context: Any, value: Any) -> Any:
    """`{{ iri|term_label }}` in templates: the label of a stored IRI; anything else unchanged."""
    request = context.get("request")
    if request is None or not isinstance(value, str) or "://" not in value:
        return value
    try:
        return facet_label(request, value)
    except Exception:  # showing an IRI is better than failing the page
        return value


def _install() -> None:
    from databahn.web import routes

    add_template_dir(TEMPLATES)
    templates.env.filters["term_label"] = term_label_filter
    routes.FACET_LABELS.setdefault(TERM_FACET, "Ontology term")
    routes.PARAM_FACETS.add(TERM_FACET)
    for key in (TERM_FACET, "keyword", "method"):
        routes.FACET_VALUE_LABELS.setdefault(key, facet_label)
    if not any(item.href == "/ontology" for item in NAV_ITEMS):
        NAV_ITEMS.insert(max(0, len(NAV_ITEMS) - 1), NavItem("Ontology", "/ontology"))
    if terms_panel not in DATASET_SIDE_PANELS:
        DATASET_SIDE_PANELS.append(terms_panel)


_install()
