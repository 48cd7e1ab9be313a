"""REST routes for datasets, versions, files, uploads, identifiers, search. Thin: one service call each."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterable
from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from databahn.api.deps import consume_body_in_thread, get_hub, get_principal
from databahn.domain.metadata import metadata_json_schema
from databahn.domain.records import FileRecord, VersionRecord
from databahn.errors import InvalidInput
from databahn.search.index import FACET_KEYS, SearchQuery
from databahn.services.hub import Hub
from databahn.services.policy import Principal

router = APIRouter(prefix="/api")
HubDep = Annotated[Hub, Depends(get_hub)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


class CreateDataset(BaseModel):
    metadata: dict[str, Any] = Field(description="see /api/schemas/metadata")
    access: str = Field("public", description="public, restricted or confidential")
    metadata_only: bool = False
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="deposit options handled by plugins, e.g. share_with, embargo_until, delivers, derived_from",
    )


class NewVersionIn(BaseModel):
    options: dict[str, Any] = Field(default_factory=dict)


class AccessChange(BaseModel):
    access: str | None = None
    metadata_only: bool | None = None
    embargo_until: dt.date | None = None


class IdentifierIn(BaseModel):
    scheme: str
    value: str
    level: str = "version"


class ExternalFileIn(BaseModel):
    key: str
    url: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    media_type: str | None = None


class UploadIn(BaseModel):
    key: str
    size: int
    sha256: str | None = None
    md5: str | None = None
    media_type: str | None = None


class SearchHit(BaseModel):
    pid: str
    concept_pid: str
    title: str
    description: str | None
    creators: list[str]
    keywords: list[str]
    published: dt.datetime | None
    version: str | None
    access: str
    url: str | None
    api_url: str | None


class SearchResponse(BaseModel):
    total: int
    page: int
    size: int
    hits: list[SearchHit]
    facets: dict[str, list[dict[str, Any]]]


@router.get("/health", tags=["meta"])
def health(hub: HubDep) -> dict[str, Any]:
    return {"status": "ok", **hub.describe()}


@router.get("/schemas/metadata", tags=["meta"])
def metadata_schema() -> dict[str, Any]:
    """The JSON Schema that deposit metadata is validated against."""
    return metadata_json_schema()


@router.get("/me", tags=["meta"])
def me(hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    if principal.anonymous:
        return {"anonymous": True}
    info = hub.users.by_id(principal.user_id)  # type: ignore[arg-type]
    return {"anonymous": False, "username": info.username, "name": info.name, "is_admin": info.is_admin}


@router.post("/datasets", status_code=201, tags=["datasets"])
def create_dataset(body: CreateDataset, hub: HubDep, principal: PrincipalDep) -> VersionRecord:
    return hub.datasets.create(
        principal, body.metadata, access=body.access, metadata_only=body.metadata_only, options=body.options
    )


@router.get("/datasets/{pid}", tags=["datasets"])
def get_dataset(pid: str, hub: HubDep, principal: PrincipalDep) -> VersionRecord:
    """A version by its PID, or a dataset's latest version by its concept PID."""
    return hub.datasets.get(principal, pid)


@router.get("/resolve", tags=["datasets"])
def resolve(hub: HubDep, principal: PrincipalDep, id: str = Query(..., min_length=1)) -> VersionRecord:
    """Find a dataset or version by any of its identifiers: hub PID, DOI, handle, lab id, URL."""
    return hub.datasets.get(principal, id)


@router.put("/datasets/{pid}/metadata", tags=["datasets"])
def update_metadata(
    pid: str, hub: HubDep, principal: PrincipalDep, metadata: dict[str, Any] = Body(...)
) -> VersionRecord:
    return hub.datasets.update_metadata(principal, pid, metadata)


@router.patch("/datasets/{pid}/access", tags=["datasets"])
def change_access(pid: str, body: AccessChange, hub: HubDep, principal: PrincipalDep) -> VersionRecord:
    return hub.datasets.set_access(
        principal, pid, access=body.access, metadata_only=body.metadata_only, embargo_until=body.embargo_until
    )


@router.post("/datasets/{pid}/publish", tags=["datasets"])
def publish(pid: str, hub: HubDep, principal: PrincipalDep) -> VersionRecord:
    return hub.datasets.publish(principal, pid)


@router.post("/datasets/{pid}/versions", status_code=201, tags=["datasets"])
def new_version(
    pid: str, hub: HubDep, principal: PrincipalDep, body: NewVersionIn | None = None
) -> VersionRecord:
    """Start a draft from the latest published version (files are shared, not copied)."""
    return hub.datasets.new_version(principal, pid, options=body.options if body else None)


@router.get("/datasets/{pid}/versions", tags=["datasets"])
def list_versions(pid: str, hub: HubDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [v.__dict__ for v in hub.datasets.versions(principal, pid)]


@router.delete("/datasets/{pid}", status_code=204, tags=["datasets"])
def discard_draft(pid: str, hub: HubDep, principal: PrincipalDep) -> Response:
    hub.datasets.discard_draft(principal, pid)
    return Response(status_code=204)


@router.post("/datasets/{pid}/identifiers", tags=["datasets"])
def add_identifier(pid: str, body: IdentifierIn, hub: HubDep, principal: PrincipalDep) -> VersionRecord:
    return hub.datasets.add_identifier(principal, pid, body.scheme, body.value, level=body.level)


@router.get("/drafts", tags=["datasets"])
def my_drafts(hub: HubDep, principal: PrincipalDep) -> list[VersionRecord]:
    return hub.datasets.my_drafts(principal)


# -- files ---------------------------------------------------------------------------------------
@router.get("/datasets/{pid}/files", tags=["files"])
def list_files(pid: str, hub: HubDep, principal: PrincipalDep) -> list[FileRecord]:
    record = hub.datasets.get(principal, pid)
    return record.files


@router.put("/datasets/{pid}/files/{key:path}", status_code=201, tags=["files"])
async def put_file(pid: str, key: str, request: Request, hub: HubDep, principal: PrincipalDep) -> FileRecord:
    """Stream one file into a draft. Optional headers: X-Checksum-Sha256, X-Checksum-Md5."""
    headers = request.headers
    replace = request.query_params.get("replace", "").lower() in ("1", "true", "yes")
    return await consume_body_in_thread(
        request,
        lambda chunks: hub.files.put(
            principal,
            pid,
            key,
            cast(Iterable[bytes], chunks),
            sha256=headers.get("x-checksum-sha256"),
            md5=headers.get("x-checksum-md5"),
            media_type=headers.get("content-type"),
            replace=replace,
        ),
    )


def _content_disposition(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name)}"


@router.api_route("/datasets/{pid}/files/{key:path}", methods=["GET", "HEAD"], tags=["files"])
def download(pid: str, key: str, request: Request, hub: HubDep, principal: PrincipalDep) -> Response:
    """Download with HTTP Range and ETag (the file's sha256)."""
    etag = None
    dl = hub.files.open(principal, pid, key, request.headers.get("range"))
    etag = f'"{dl.record.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": _content_disposition(key),
        "Content-Length": str(dl.end - dl.start),
        "Digest": f"sha-256={dl.record.sha256}",
    }
    if request.headers.get("if-none-match") == etag:
        _close(dl.chunks)
        return Response(status_code=304, headers={"ETag": etag})
    status = 200
    if dl.partial:
        status = 206
        headers["Content-Range"] = f"bytes {dl.start}-{dl.end - 1}/{dl.total}"
    media_type = dl.record.media_type or "application/octet-stream"
    if request.method == "HEAD":
        _close(dl.chunks)
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(dl.chunks, status_code=status, headers=headers, media_type=media_type)


def _close(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if close:
        close()


@router.delete("/datasets/{pid}/files/{key:path}", status_code=204, tags=["files"])
def delete_file(pid: str, key: str, hub: HubDep, principal: PrincipalDep) -> Response:
    hub.files.delete(principal, pid, key)
    return Response(status_code=204)


@router.post("/datasets/{pid}/external", status_code=201, tags=["files"])
def add_external(pid: str, body: ExternalFileIn, hub: HubDep, principal: PrincipalDep) -> FileRecord:
    """Reference data that stays where it is (URL or DOI), with optional size and checksums."""
    return hub.files.add_external(
        principal,
        pid,
        body.key,
        body.url,
        size=body.size,
        sha256=body.sha256,
        md5=body.md5,
        media_type=body.media_type,
    )


@router.post("/datasets/{pid}/uploads", status_code=201, tags=["uploads"])
def start_upload(pid: str, body: UploadIn, hub: HubDep, principal: PrincipalDep) -> dict[str, object]:
    """Begin a chunked, resumable upload; then PUT chunks to /api/uploads/{id}?offset=N."""
    state = hub.files.start_upload(
        principal, pid, body.key, body.size, sha256=body.sha256, md5=body.md5, media_type=body.media_type
    )
    return state.as_dict()


@router.get("/uploads/{upload_id}", tags=["uploads"])
def upload_status(upload_id: str, hub: HubDep, principal: PrincipalDep) -> dict[str, object]:
    return hub.files.upload_status(principal, upload_id).as_dict()


@router.put("/uploads/{upload_id}", tags=["uploads"])
async def upload_chunk(
    upload_id: str, request: Request, hub: HubDep, principal: PrincipalDep, offset: int = Query(..., ge=0)
) -> dict[str, object]:
    """Append one chunk at `offset`; header X-Chunk-Sha256 verifies it."""
    chunk_sha = request.headers.get("x-chunk-sha256")
    state = await consume_body_in_thread(
        request,
        lambda chunks: hub.files.append_chunk(
            principal, upload_id, offset, cast(Iterable[bytes], chunks), chunk_sha256=chunk_sha
        ),
    )
    return state.as_dict()


@router.post("/uploads/{upload_id}/complete", tags=["uploads"])
def complete_upload(upload_id: str, hub: HubDep, principal: PrincipalDep) -> FileRecord:
    return hub.files.complete_upload(principal, upload_id)


@router.delete("/uploads/{upload_id}", status_code=204, tags=["uploads"])
def abort_upload(upload_id: str, hub: HubDep, principal: PrincipalDep) -> Response:
    hub.files.abort_upload(principal, upload_id)
    return Response(status_code=204)


# -- search --------------------------------------------------------------------------------------
def parse_facets(values: list[str]) -> dict[str, list[str]]:
    facets: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition(":")
        if not sep:
            key, sep, value = item.partition("=")
        if not sep or not value:
            raise InvalidInput(f"facet filter {item!r} must look like key:value (e.g. work_package:WP2)")
        if key not in FACET_KEYS:
            raise InvalidInput(f"unknown facet {key!r}; use one of {', '.join(FACET_KEYS)}")
        facets.setdefault(key, []).append(value)
    return facets


@router.get("/search", tags=["search"])
def search(
    hub: HubDep,
    principal: PrincipalDep,
    q: str = Query("", max_length=500),
    facet: list[str] = Query(default_factory=list),
    term: list[str] = Query(default_factory=list, description="ontology term (label or IRI), subclass-aware"),
    sort: str = "relevance",
    page: int = 1,
    size: int = 20,
) -> SearchResponse:
    """Full-text search with facets (key:value filters combine: AND across keys, OR within one)."""
    params: dict[str, Any] = {"term": term} if term else {}
    result = hub.datasets.search(
        principal,
        SearchQuery(text=q, facets=parse_facets(facet), sort=sort, page=page, size=size, params=params),
    )
    hits = [
        SearchHit(
            pid=r.pid,
            concept_pid=r.concept_pid,
            title=r.metadata.title,
            description=(r.metadata.description or "")[:500] or None,
            creators=[c.name for c in r.metadata.creators],
            keywords=r.metadata.keywords,
            published=r.published,
            version=r.metadata.version,
            access=r.access.value,
            url=r.url,
            api_url=r.api_url,
        )
        for r in result.hits
    ]
    return SearchResponse(
        total=result.total,
        page=result.page,
        size=result.size,
        hits=hits,
        facets={k: [{"value": v, "count": c} for v, c in vals] for k, vals in result.facets.items()},
    )
