"""FAIR Signposting and content negotiation on landing pages, so machines find what people see.

- Level 1: `Link` headers on `/datasets/{pid}` (cite-as, type, author, license, describedby, item,
  linkset), `collection` on file downloads and `describes` on metadata documents.
- Level 2: an RFC 9264 linkset (`application/linkset+json` and `application/linkset`) at
  `/api/datasets/{pid}/linkset`, covering the landing page, its metadata documents and its files.
- Content negotiation: `/datasets/{pid}` with `Accept: application/ld+json`,
  `application/vnd.datacite.datacite+xml`, `application/x-bibtex`, `text/x-bibliography`, ...
  answers with that export instead of HTML (DOI-style negotiation, on the hub's own URL).
- The landing page embeds schema.org JSON-LD (`<script type="application/ld+json">`) for Google
  Dataset Search, through the page's side-panel hook.

Everything reads the record through the access policy: the links never name a file the reader
may not download.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from databahn.api.deps import get_hub, get_principal
from databahn.domain.records import VersionRecord
from databahn.errors import DatabahnError, InvalidInput
from databahn.exporters import ExportContext, UnknownExporter, exporters, get_exporter
from databahn.exporters import common as c
from databahn.exporters.schemaorg import to_jsonld
from databahn.services.policy import ANONYMOUS, Principal

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from databahn.services.hub import Hub

LINKSET_JSON = "application/linkset+json"
LINKSET = "application/linkset"
SCHEMA_DATASET = "https://schema.org/Dataset"
SCHEMA_ABOUT = "https://schema.org/AboutPage"
#: metadata documents that describe a version (rel="describedby"), by export name
DESCRIBED_BY = ("datacite", "schemaorg", "dc", "dcat", "csl", "bibtex")
#: media types a client may ask `/datasets/{pid}` for, and what answers them
NEGOTIABLE: dict[str, str] = {
    "application/ld+json": "schemaorg",
    "application/vnd.schemaorg.ld+json": "schemaorg",
    "application/vnd.datacite.datacite+xml": "datacite",
    "application/x-bibtex": "bibtex",
    "application/vnd.citationstyles.csl+json": "csl",
    "text/turtle": "dcat",
    "text/x-bibliography": "citation",
    LINKSET_JSON: "linkset",
    LINKSET: "linkset-text",
}
_LANDING = re.compile(r"^/datasets/([^/]+)$")
_FILE = re.compile(r"^/api/datasets/([^/]+)/files/(.+)$")
ITEM_LIMIT = 100  # more files than this: the Link header points to the linkset instead of listing all


def export_context(hub: Hub) -> ExportContext:
    s = hub.settings
    return ExportContext(base_url=s.base_url, hub_name=s.hub_name, publisher=s.publisher)


def _root(hub: Hub) -> str:
    return hub.settings.base_url.rstrip("/")


def export_url(hub: Hub, pid: str, fmt: str) -> str:
    return f"{_root(hub)}/api/datasets/{quote(pid)}/export/{fmt}"


def linkset_url(hub: Hub, pid: str) -> str:
    return f"{_root(hub)}/api/datasets/{quote(pid)}/linkset"


# -- the links ------------------------------------------------------------------------------------
def landing_links(hub: Hub, record: VersionRecord, *, all_items: bool = True) -> list[dict[str, str]]:
    """The signposting links of a landing page as (rel, href, type) dicts, in a stable order."""
    ctx = export_context(hub)
    links: list[dict[str, str]] = [{"rel": "cite-as", "href": c.persistent_url(record, ctx)}]
    links += [{"rel": "type", "href": SCHEMA_DATASET}, {"rel": "type", "href": SCHEMA_ABOUT}]
    for person in record.metadata.creators:
        orcid = c.orcid_url(person)
        if orcid:
            links.append({"rel": "author", "href": orcid})
    lic = c.license_links(record.metadata.license)
    if lic:
        links.append({"rel": "license", "href": lic[1]})
    for name in DESCRIBED_BY:
        exporter = get_exporter(name)
        links.append(
            {"rel": "describedby", "href": export_url(hub, record.pid, name), "type": exporter.media_type}
        )
    files = record.files if record.files_visible and c.include_files(record) else []
    if all_items or len(files) <= ITEM_LIMIT:
        for f in files:
            item = {"rel": "item", "href": c.file_url(record, f, ctx)}
            if f.media_type:
                item["type"] = f.media_type
            links.append(item)
    links.append({"rel": "linkset", "href": linkset_url(hub, record.pid), "type": LINKSET_JSON})
    links.append({"rel": "linkset", "href": linkset_url(hub, record.pid) + "?format=text", "type": LINKSET})
    return links


def link_header(links: list[dict[str, str]]) -> str:
    """RFC 8288 serialisation: `<href>; rel="x"; type="y", ...`."""
    parts = []
    for link in links:
        attrs = "".join(f'; {k}="{v}"' for k, v in link.items() if k not in ("href", "anchor"))
        anchor = f'; anchor="{link["anchor"]}"' if "anchor" in link else ""
        parts.append(f"<{link['href']}>{anchor}{attrs}")
    return ", ".join(parts)


def linkset(hub: Hub, record: VersionRecord) -> dict[str, Any]:
    """The RFC 9264 JSON linkset: the landing page, its metadata documents and its files."""
    landing = c.landing_url(record, export_context(hub))
    context: dict[str, Any] = {"anchor": landing}
    for link in landing_links(hub, record):
        if link["rel"] == "linkset":
            continue
        target = {k: v for k, v in link.items() if k != "rel"}
        context.setdefault(link["rel"], []).append(target)
    out: list[dict[str, Any]] = [context]
    for target in context.get("describedby", []):
        out.append({"anchor": target["href"], "describes": [{"href": landing, "type": "text/html"}]})
    for target in context.get("item", []):
        out.append({"anchor": target["href"], "collection": [{"href": landing, "type": "text/html"}]})
    return {"linkset": out}


def linkset_text(data: dict[str, Any]) -> str:
    """The same linkset as `application/linkset` (RFC 9264 §4.1): Link-header syntax with anchors."""
    links: list[dict[str, str]] = []
    for context in data["linkset"]:
        for rel, targets in context.items():
            if rel == "anchor":
                continue
            for target in targets:
                links.append(
                    {
                        "href": target["href"],
                        "anchor": context["anchor"],
                        "rel": rel,
                        **{k: v for k, v in target.items() if k != "href"},
                    }
                )
    return ",\n".join(link_header([link]) for link in links) + "\n"


def jsonld_panel(request: Request, record: VersionRecord) -> Markup:
    """The schema.org JSON-LD of the version, embedded in its landing page for search engines."""
    hub = request.app.state.hub
    text = json.dumps(to_jsonld(record, export_context(hub)), ensure_ascii=False)
    # "</" would end the script element early; JSON allows the escaped form
    text = text.replace("</", "<\\/").replace("<!--", "<\\!--")
    return Markup(f'<script type="application/ld+json">{text}</script>')


def setup_web() -> None:
    from databahn.web.render import DATASET_SIDE_PANELS

    if jsonld_panel not in DATASET_SIDE_PANELS:
        DATASET_SIDE_PANELS.append(jsonld_panel)


# -- routes ---------------------------------------------------------------------------------------
router = APIRouter(prefix="/api", tags=["interoperability"])


@router.get("/datasets/{pid}/linkset")
def get_linkset(
    pid: str,
    request: Request,
    hub: Any = Depends(get_hub),
    principal: Principal = Depends(get_principal),
    format: str | None = None,
) -> Response:
    """FAIR Signposting level 2: the RFC 9264 linkset of a version (JSON, or `?format=text`)."""
    record = hub.datasets.get(principal, pid)
    data = linkset(hub, record)
    accept = request.headers.get("accept", "")
    if format not in (None, "json", "text"):
        raise InvalidInput(f"unknown linkset format {format!r}; use json or text")
    if format == "text" or (format is None and _best(accept, [LINKSET_JSON, LINKSET]) == LINKSET):
        return Response(linkset_text(data), media_type=LINKSET, headers={"Vary": "Accept"})
    return Response(json.dumps(data, indent=2), media_type=LINKSET_JSON, headers={"Vary": "Accept"})


@router.get("/datasets/{pid}/export/{fmt}")
def get_export(
    pid: str,
    fmt: str,
    hub: Any = Depends(get_hub),
    principal: Principal = Depends(get_principal),
) -> Response:
    """A metadata document of a version (DataCite XML, schema.org JSON-LD, Dublin Core, BibTeX...)."""
    if fmt == "citation":
        from databahn.web.previews import citation

        record = hub.datasets.get(principal, pid)
        cited = citation(record, hub.settings.publisher) + "\n"
        return Response(
            cited, media_type="text/x-bibliography; charset=utf-8", headers=_describes(hub, record)
        )
    try:
        exporter = get_exporter(fmt)
    except UnknownExporter:
        names = sorted(n for n, e in exporters().items() if not e.is_package)
        raise InvalidInput(
            f"unknown export format {fmt!r}; use one of {', '.join(names)}, citation"
        ) from None
    if exporter.is_package:
        raise InvalidInput(
            f"{fmt!r} is a package with the files, not a metadata document; "
            f"use `databahn export {pid} --format {fmt} -o out.zip`"
        )
    record = hub.datasets.get(principal, pid)
    try:
        body = exporter.export(record, export_context(hub))
    except Exception as exc:  # exporters raise ExportError with a reason; never a 500
        raise DatabahnError(f"cannot write {pid} as {fmt}: {exc}") from None
    media = exporter.media_type + ("; charset=utf-8" if exporter.media_type.startswith("text/") else "")
    return Response(body, media_type=media, headers=_describes(hub, record))


def _describes(hub: Hub, record: VersionRecord) -> dict[str, str]:
    landing = c.landing_url(record, export_context(hub))
    return {"Link": link_header([{"href": landing, "rel": "describes", "type": "text/html"}])}


# -- content negotiation and Link headers on the landing page -------------------------------------
def _parse_accept(header: str) -> list[tuple[str, float, int]]:
    out = []
    for index, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        q = 1.0
        for param in pieces[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        out.append((media, q, index))
    return out


def _best(header: str, offered: list[str]) -> str | None:
    """The offered media type the Accept header prefers (ties go to the earlier offer)."""
    best: tuple[float, int] | None = None
    choice = None
    accepted = _parse_accept(header)
    for rank, media in enumerate(offered):
        main = media.split("/")[0]
        q = max(
            (
                qv - (0.0001 if m != media else 0.0)
                for m, qv, _ in accepted
                if m in (media, f"{main}/*", "*/*")
            ),
            default=0.0,
        )
        if q > 0 and (best is None or (q, -rank) > best):
            best, choice = (q, -rank), media
    return choice


def negotiate(accept: str) -> str | None:
    """The export `Accept` asks for, or None for the HTML page (which wins ties and wildcards)."""
    if not accept:
        return None
    plain = [m for m, _, _ in _parse_accept(accept)]
    if not any(m in NEGOTIABLE for m in plain):
        return None
    choice = _best(accept, ["text/html", *NEGOTIABLE])
    return NEGOTIABLE.get(choice or "text/html")


class SignpostingMiddleware:
    """Pure ASGI (streams pass through untouched): negotiation on `/datasets/{pid}` by rewriting the
    request to the matching API route, and Link headers on landing pages and file downloads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        landing = _LANDING.match(path)
        if landing:
            pid = landing.group(1)
            accept = _header(scope, b"accept")
            fmt = negotiate(accept)
            if fmt is not None:
                tail = "linkset" if fmt.startswith("linkset") else f"export/{fmt}"
                target = f"/api/datasets/{pid}/{tail}"
                raw = f"/api/datasets/{quote(pid)}/{tail}".encode()
                query = b"format=text" if fmt == "linkset-text" else b""
                head = scope["method"] == "HEAD"
                scope = {**scope, "method": "GET", "path": target, "raw_path": raw, "query_string": query}
                await self.app(scope, receive, _vary(_no_body(send) if head else send))
                return
            if scope["method"] == "HEAD":  # signposting clients ask with HEAD; the page route is GET-only
                scope, send = {**scope, "method": "GET"}, _no_body(send)
            await self.app(scope, receive, self._landing_send(scope, send, pid))
            return
        file_match = _FILE.match(path)
        if file_match:
            await self.app(scope, receive, self._file_send(scope, send, file_match.group(1)))
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _landing_send(scope: Scope, send: Send, pid: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = list(message.get("headers", []))
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    hub = scope["app"].state.hub
                    principal = scope.get("state", {}).get("principal") or ANONYMOUS
                    header = await run_in_threadpool(_landing_header, hub, principal, pid)
                    if header:
                        headers.append((b"link", header.encode("latin-1", errors="replace")))
                headers.append((b"vary", b"Accept"))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    @staticmethod
    def _file_send(scope: Scope, send: Send, pid: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 206):
                hub = scope["app"].state.hub
                landing = f"{_root(hub)}/datasets/{quote(pid)}"
                links = [
                    {"href": landing, "rel": "collection", "type": "text/html"},
                    {"href": linkset_url(hub, pid), "rel": "linkset", "type": LINKSET_JSON},
                ]
                headers = [*message.get("headers", []), (b"link", link_header(links).encode("latin-1"))]
                message = {**message, "headers": headers}
            await send(message)

        return wrapped


def _landing_header(hub: Hub, principal: Principal, pid: str) -> str | None:
    try:
        record = hub.datasets.get(principal, pid)
    except DatabahnError:
        return None
    return link_header(landing_links(hub, record, all_items=False))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _vary(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"vary", b"Accept")]}
        await send(message)

    return wrapped


def _no_body(send: Send) -> Send:
    """Answer a HEAD request from the GET response: same status and headers, no body."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return wrapped
