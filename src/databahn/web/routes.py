"""The web interface: server-rendered pages over the same services (and policy) as the JSON API.

Every page reads without JavaScript; `static/databahn.js` adds drag-and-drop, chunked resumable
uploads through the JSON API and search suggestions. State-changing forms carry a CSRF token.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile

from databahn.api.datasets import parse_facets
from databahn.domain.records import VersionRecord
from databahn.errors import DatabahnError, Forbidden, InvalidInput, NotFound, Unauthenticated
from databahn.search.index import SORTS, SearchQuery
from databahn.services.policy import Principal
from databahn.services.users import SCOPES
from databahn.web import forms, previews, queries
from databahn.web.render import (
    DATASET_PANELS,
    DATASET_SIDE_PANELS,
    HERE,
    NAV_ITEMS,
    HtmlRoute,
    NavItem,
    check_csrf_form,
    get_hub,
    principal_of,
    render,
    render_panels,
    safe_next,
)

__all__ = ["NAV_ITEMS", "NavItem", "render", "router"]

log = logging.getLogger("databahn.web")
router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
PAGE_SIZE = 20
FACET_LABELS = {
    "work_package": "Work package",
    "data_level": "Data level",
    "access": "Openness",
    "method": "Method",
    "partner": "Partner",
    "format": "File format",
    "license": "License",
    "year": "Year",
    "keyword": "Keyword",
    "resource_type": "Resource type",
}
STATIC_FILES = {"databahn.css": "text/css", "databahn.js": "text/javascript"}
#: Facet keys a plugin answers through search params rather than plain filters (e.g. "term": the
#: ontology's subclass-aware search), and how to show facet values (e.g. an IRI as its label).
PARAM_FACETS: set[str] = set()
FACET_VALUE_LABELS: dict[str, Callable[[Request, str], str]] = {}


def _facet_value(request: Request, key: str, value: str) -> str:
    show = FACET_VALUE_LABELS.get(key)
    return show(request, value) if show else value


def _flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def _user(request: Request) -> Principal:
    principal = principal_of(request)
    if principal.anonymous:
        raise Unauthenticated("please sign in first")
    return principal


def _can_manage(principal: Principal, record: VersionRecord) -> bool:
    """Only decides which buttons to show; the services enforce the policy on every action."""
    return not principal.anonymous and (principal.is_admin or record.owner == principal.username)


# -- static files and small endpoints -------------------------------------------------------------
@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(
        HERE / "static" / name,
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/api-docs")
def api_docs() -> RedirectResponse:
    return RedirectResponse("/api/docs", status_code=307)


_ONTOLOGY: dict[str, Any] = {}
_ONTOLOGY_LOCK = threading.Lock()


def _ontology(request: Request) -> Any:
    """The BattINFO ontology (DATABAHN_ONTOLOGY_DIR), loaded once per folder; None when not configured.

    Without it, suggestions fall back to the keywords and methods of visible datasets."""
    hub = get_hub(request)
    source = hub.settings.ontology_dir
    key = str(source)
    with _ONTOLOGY_LOCK:
        if key not in _ONTOLOGY:
            try:
                from databahn.ontology import load_ontology

                _ONTOLOGY[key] = (
                    load_ontology(source, hub.home / "cache" / "ontology")
                    if source and source.is_dir()
                    else None
                )
            except Exception:  # optional capability: a broken ontology must not break the pages
                log.exception("could not load the ontology from %s; suggestions use keywords only", source)
                _ONTOLOGY[key] = None
        return _ONTOLOGY[key]


@router.get("/suggest")
def suggest(request: Request, q: str = "") -> JSONResponse:
    """Search-as-you-type: ontology terms (when loaded) and keywords/methods of visible datasets."""
    text = q.strip()[:100]
    out: list[dict[str, str]] = []
    if len(text) >= 2:
        ontology = _ontology(request)
        if ontology is not None:
            # a broken ontology must not break typing in the search box
            with contextlib.suppress(Exception):
                out += [
                    {"label": t.label, "iri": t.iri, "kind": "term"} for t in ontology.search(text, limit=8)
                ]
        page = get_hub(request).datasets.search(principal_of(request), SearchQuery(size=1))
        low = text.lower()
        seen = {s["label"].lower() for s in out}
        for key in ("keyword", "method"):
            for value, count in page.facets.get(key, []):
                if low in value.lower() and value.lower() not in seen:
                    seen.add(value.lower())
                    out.append({"label": value, "kind": key, "count": str(count)})
    return JSONResponse({"query": text, "suggestions": out[:15]})


# -- reading ---------------------------------------------------------------------------------------
def _facet_groups(page: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"key": k, "label": FACET_LABELS.get(k, k), "values": page.facets.get(k, [])}
        for k in keys
        if page.facets.get(k)
    ]


@router.get("/")
def home(request: Request) -> Response:
    hub = get_hub(request)
    page = queries.overview(hub, principal_of(request))
    return render(
        request,
        "home.html",
        {"page": page, "groups": _facet_groups(page, queries.OVERVIEW_FACETS), "labels": FACET_LABELS},
    )


def _search_url(q: str, facets: list[str], sort: str, page: int = 1) -> str:
    params: list[tuple[str, str]] = []
    if q:
        params.append(("q", q))
    params += [("facet", f) for f in facets]
    if sort != "relevance":
        params.append(("sort", sort))
    if page > 1:
        params.append(("page", str(page)))
    return "/search" + ("?" + urllib.parse.urlencode(params) if params else "")


@router.get("/search")
def search(request: Request) -> Response:
    params = request.query_params
    q = params.get("q", "").strip()[:500]
    chosen = [f for f in params.getlist("facet") if f.strip()]
    sort = params.get("sort", "relevance")
    try:
        page_no = int(params.get("page", "1"))
    except ValueError:
        raise InvalidInput("page must be a whole number such as 2") from None
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}; use {', '.join(SORTS)}")
    param_filters: dict[str, list[str]] = {}
    for c in chosen:
        if c.partition(":")[0] in PARAM_FACETS and c.partition(":")[2]:
            param_filters.setdefault(c.partition(":")[0], []).append(c.partition(":")[2])
    facets = parse_facets([c for c in chosen if c.partition(":")[0] not in param_filters])
    hub = get_hub(request)
    result = hub.datasets.search(
        principal_of(request),
        SearchQuery(text=q, facets=facets, sort=sort, page=page_no, size=PAGE_SIZE, params=param_filters),
    )
    groups = []
    for key, values in result.facets.items():
        entries = []
        for value, count in values[:12]:
            token = f"{key}:{value}"
            active = token in chosen
            toggled = [c for c in chosen if c != token] if active else [*chosen, token]
            entries.append(
                {
                    "value": _facet_value(request, key, value),
                    "count": count,
                    "active": active,
                    "url": _search_url(q, toggled, sort),
                }
            )
        groups.append({"key": key, "label": FACET_LABELS.get(key, key), "values": entries})
    order = list(FACET_LABELS)
    groups.sort(key=lambda g: order.index(g["key"]) if g["key"] in order else 99)
    active_filters = [
        {
            "label": f"{FACET_LABELS.get(c.partition(':')[0], c)}: "
            + _facet_value(request, c.partition(":")[0], c.partition(":")[2]),
            "url": _search_url(q, [x for x in chosen if x != c], sort),
        }
        for c in chosen
    ]
    pages = max(1, -(-result.total // PAGE_SIZE))
    return render(
        request,
        "search.html",
        {
            "q": q,
            "sort": sort,
            "sorts": SORTS,
            "chosen": chosen,
            "result": result,
            "groups": groups,
            "active_filters": active_filters,
            "pages": pages,
            "prev_url": _search_url(q, chosen, sort, page_no - 1) if page_no > 1 else None,
            "next_url": _search_url(q, chosen, sort, page_no + 1) if page_no < pages else None,
        },
    )


@router.get("/datasets/{pid}")
def dataset_page(request: Request, pid: str) -> Response:
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return RedirectResponse(f"/api/datasets/{urllib.parse.quote(pid)}", status_code=303)
    hub = get_hub(request)
    principal = principal_of(request)
    record = hub.datasets.get(principal, pid)
    versions = hub.datasets.versions(principal, record.pid)
    return render(
        request,
        "dataset.html",
        {
            "r": record,
            "m": record.metadata,
            "versions": versions,
            "can_manage": _can_manage(principal, record),
            "plots": previews.plots(record),
            "structures": previews.structures(record),
            "citation": previews.citation(record, hub.settings.publisher),
            "panels": render_panels(DATASET_PANELS, request, record),
            "side_panels": render_panels(DATASET_SIDE_PANELS, request, record),
        },
    )


# -- deposit and edit ------------------------------------------------------------------------------
def _form_context(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "licenses": forms.LICENSES,
        "data_levels": forms.DATA_LEVELS,
        "access_levels": forms.ACCESS_LEVELS,
        "data_templates": forms.TEMPLATES,
        "labels": forms.LABELS,
    }


@router.get("/deposit")
def deposit_form(request: Request, template: str = "") -> Response:
    _user(request)
    values = {name: "" for name in forms.TEXT_FIELDS}
    values["access"] = "public"
    chosen = forms.TEMPLATES.get(template)
    if template and chosen is None:
        raise InvalidInput(f"unknown data template {template!r}; use one of {', '.join(forms.TEMPLATES)}")
    if chosen:
        values.update(chosen.values)
    return render(request, "deposit.html", {**_form_context(values, {}), "template": template})


@router.post("/deposit")
async def deposit_submit(request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal = await run_in_threadpool(_user, request)
    parsed = forms.parse_form(form)
    if not parsed.ok:
        return render(request, "deposit.html", {**_form_context(parsed.values, parsed.errors)}, 422)
    hub = get_hub(request)
    try:
        record = await run_in_threadpool(
            hub.datasets.create, principal, parsed.metadata, access=parsed.values["access"] or "public"
        )
    except InvalidInput as exc:
        errors = forms.field_errors(exc.errors) or {"form": exc.detail}
        return render(request, "deposit.html", {**_form_context(parsed.values, errors)}, 422)
    _flash(request, f"Draft {record.pid} created. Now add its files, then publish.")
    return RedirectResponse(f"/datasets/{record.pid}/edit", status_code=303)


def _draft_for_edit(request: Request, pid: str) -> tuple[Principal, VersionRecord]:
    principal = _user(request)
    record = get_hub(request).datasets.get(principal, pid)
    if not _can_manage(principal, record):
        raise NotFound(f"no dataset {pid!r}, or you may not change it")
    return principal, record


def _edit_page(
    request: Request, record: VersionRecord, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    hub = get_hub(request)
    return render(
        request,
        "edit.html",
        {
            **_form_context(values, errors),
            "r": record,
            "chunk_size": hub.settings.upload_chunk_bytes,
        },
        status,
    )


@router.get("/datasets/{pid}/edit")
def edit_form(request: Request, pid: str) -> Response:
    _principal, record = _draft_for_edit(request, pid)
    if record.state != "draft":
        _flash(request, f"{record.pid} is published and cannot change; start a new version to edit it.")
        return RedirectResponse(f"/datasets/{record.pid}", status_code=303)
    return _edit_page(request, record, forms.values_from_metadata(record.metadata, record.access.value), {})


@router.post("/datasets/{pid}/edit")
async def edit_submit(request: Request, pid: str) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal, record = await run_in_threadpool(_draft_for_edit, request, pid)
    hub = get_hub(request)
    parsed = forms.parse_form(form)
    if not parsed.ok:
        return _edit_page(request, record, parsed.values, parsed.errors, 422)
    metadata = forms.merge_metadata(record.metadata, parsed.metadata)
    try:
        record = await run_in_threadpool(hub.datasets.update_metadata, principal, record.pid, metadata)
        if parsed.values["access"] and parsed.values["access"] != record.access.value:
            record = await run_in_threadpool(
                lambda: hub.datasets.set_access(principal, record.pid, access=parsed.values["access"])
            )
    except InvalidInput as exc:
        return _edit_page(
            request, record, parsed.values, forms.field_errors(exc.errors) or {"form": exc.detail}, 422
        )
    if form.get("action") != "publish":
        _flash(request, "Draft saved.")
        return RedirectResponse(f"/datasets/{record.pid}/edit", status_code=303)
    try:
        record = await run_in_threadpool(hub.datasets.publish, principal, record.pid)
    except InvalidInput as exc:
        errors = forms.field_errors(exc.errors)
        errors["form"] = "Not published yet: fix the fields marked below."
        for err in exc.errors:
            if err.field == "files":
                errors["files"] = err.message
        return _edit_page(request, record, parsed.values, errors, 422)
    _flash(request, f"Published {record.pid}.")
    return RedirectResponse(f"/datasets/{record.pid}", status_code=303)


def _read_upload(upload: UploadFile, size: int = 1024 * 1024) -> Iterator[bytes]:
    while True:
        block = upload.file.read(size)
        if not block:
            return
        yield block


@router.post("/datasets/{pid}/files")
async def upload_files(request: Request, pid: str) -> Response:
    """The no-JavaScript upload: a plain multipart form (the script uses resumable chunks instead)."""
    form = await request.form(max_files=200)
    check_csrf_form(request, form)
    principal, record = await run_in_threadpool(_draft_for_edit, request, pid)
    hub = get_hub(request)
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if not uploads:
        values = forms.values_from_metadata(record.metadata, record.access.value)
        return _edit_page(request, record, values, {"files": "choose at least one file to upload"}, 422)
    stored = []
    for upload in uploads:
        name = str(upload.filename).replace("\\", "/").rsplit("/", 1)[-1]
        try:
            await run_in_threadpool(
                hub.files.put,
                principal,
                record.pid,
                name,
                _read_upload(upload),
                media_type=upload.content_type,
            )
        except DatabahnError as exc:
            values = forms.values_from_metadata(record.metadata, record.access.value)
            fresh = await run_in_threadpool(hub.datasets.get, principal, record.pid)
            return _edit_page(request, fresh, values, {"files": f"{name}: {exc.detail}"}, exc.status)
        stored.append(name)
    _flash(request, f"Uploaded {', '.join(stored)}.")
    return RedirectResponse(f"/datasets/{record.pid}/edit", status_code=303)


@router.post("/datasets/{pid}/files/delete")
async def delete_file(request: Request, pid: str) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal, record = await run_in_threadpool(_draft_for_edit, request, pid)
    key = str(form.get("key") or "")
    await run_in_threadpool(get_hub(request).files.delete, principal, record.pid, key)
    _flash(request, f"Removed {key}.")
    return RedirectResponse(f"/datasets/{record.pid}/edit", status_code=303)


@router.post("/datasets/{pid}/discard")
async def discard(request: Request, pid: str) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal, record = await run_in_threadpool(_draft_for_edit, request, pid)
    await run_in_threadpool(get_hub(request).datasets.discard_draft, principal, record.pid)
    _flash(request, f"Discarded draft {record.pid}.")
    return RedirectResponse("/my", status_code=303)


@router.post("/datasets/{pid}/new-version")
async def new_version(request: Request, pid: str) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal, record = await run_in_threadpool(_draft_for_edit, request, pid)
    draft = await run_in_threadpool(get_hub(request).datasets.new_version, principal, record.concept_pid)
    _flash(request, f"Draft {draft.pid} started from {record.pid}.")
    return RedirectResponse(f"/datasets/{draft.pid}/edit", status_code=303)


@router.get("/my")
def my_data(request: Request) -> Response:
    principal = _user(request)
    rows = queries.my_datasets(get_hub(request), principal)
    drafts = [r for r in rows if r.state == "draft"]
    published = [r for r in rows if r.state != "draft"]
    return render(request, "my.html", {"drafts": drafts, "published": published})


# -- sign in / out ---------------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": safe_next(next), "username": "", "error": None})


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or "/"))
    hub = get_hub(request)
    try:
        if not username or not password:
            raise Unauthenticated("enter your user name and password")
        user = await run_in_threadpool(hub.users.check_password, username, password)
    except Unauthenticated as exc:
        ctx = {"next": target, "username": username, "error": exc.detail}
        return render(request, "login.html", ctx, 401)
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session["user_id"] = user.id
    request.state.principal = None
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


# -- administration --------------------------------------------------------------------------------
def _admin(request: Request) -> Principal:
    principal = _user(request)
    if not principal.is_admin:
        raise Forbidden("only administrators may open the admin pages")
    return principal


def _admin_page(request: Request, status: int = 200, **extra: Any) -> Response:
    principal = _admin(request)
    hub = get_hub(request)
    ctx = {
        "users": hub.users.list(),
        "tokens": queries.list_tokens(hub, principal),
        "scopes": sorted(SCOPES),
        "new_token": None,
        "user_error": None,
        "token_error": None,
        "form": {},
    }
    ctx.update(extra)
    return render(request, "admin.html", ctx, status)


@router.get("/admin")
def admin(request: Request) -> Response:
    return _admin_page(request)


@router.post("/admin/users")
async def admin_add_user(request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    await run_in_threadpool(_admin, request)
    hub = get_hub(request)
    fields = {k: str(form.get(k) or "").strip() for k in ("username", "name", "email", "password")}
    try:
        info = await run_in_threadpool(
            lambda: hub.users.add(
                fields["username"],
                name=fields["name"] or None,
                email=fields["email"] or None,
                is_admin=form.get("is_admin") == "on",
                password=fields["password"] or None,
            )
        )
    except DatabahnError as exc:
        fields.pop("password")
        return await run_in_threadpool(
            functools.partial(_admin_page, request, exc.status, user_error=exc.detail, form=fields)
        )
    _flash(request, f"User {info.username} created.")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/tokens")
async def admin_create_token(request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    await run_in_threadpool(_admin, request)
    hub = get_hub(request)
    days_text = str(form.get("expires_in_days") or "").strip()
    try:
        days = int(days_text) if days_text else None
    except ValueError:
        days = -1
    try:
        if days == -1:
            raise InvalidInput("the lifetime must be a whole number of days, e.g. 90")
        token = await run_in_threadpool(
            lambda: hub.users.create_token(
                str(form.get("username") or "").strip(),
                name=str(form.get("name") or "").strip() or "web",
                scopes=[str(form.get("scope") or "*")],
                expires_in_days=days,
            )
        )
    except DatabahnError as exc:
        return await run_in_threadpool(
            functools.partial(_admin_page, request, exc.status, token_error=exc.detail)
        )
    # shown once, in this response only (never stored in the session cookie)
    return await run_in_threadpool(functools.partial(_admin_page, request, 201, new_token=token))


@router.post("/admin/tokens/{token_id}/revoke")
async def admin_revoke_token(request: Request, token_id: int) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal = await run_in_threadpool(_admin, request)
    await run_in_threadpool(get_hub(request).users.revoke_token, principal, token_id)
    _flash(request, f"Token {token_id} revoked.")
    return RedirectResponse("/admin", status_code=303)
