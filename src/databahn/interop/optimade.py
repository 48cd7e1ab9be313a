"""OPTIMADE API v1.2 at /optimade/v1 over the crystal structures that extraction found in files.

Materials databases and clients (optimade-python-tools, pymatgen, ASE, the OPTIMADE client) can
query the hub's structures with the standard filter language. Each structure comes from a file
of a dataset's latest published version the caller may download (the access policy's
`read_files`, evaluated inside the query), and links back to it through the provider fields
`_databahn_dataset`, `_databahn_url` and `_databahn_file`.

Filters are parsed and translated by the `optimade` package (MIT) to a MongoDB query, which
`mongomock` (ISC) evaluates over the caller's visible structures: the grammar, its corner cases
and the validator's expectations come from the reference implementation rather than from here.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import string
import warnings
from collections import Counter
from functools import cached_property, reduce
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from databahn import __version__
from databahn.api.deps import get_principal
from databahn.db.models import Dataset, FileEntry, Version
from databahn.errors import DatabahnError
from databahn.services.policy import Action, Principal, readable

if TYPE_CHECKING:
    from optimade.filterparser import LarkParser
    from optimade.filtertransformers.mongo import MongoTransformer
    from optimade.server.config import ServerConfig

    from databahn.services.hub import Hub

log = logging.getLogger("databahn.optimade")
API_VERSION = "1.2.0"
PREFIX = "databahn"
PROVIDER_FIELDS = ("dataset", "url", "file")
DEFAULT_LIMIT, MAX_LIMIT = 20, 500
_SYMBOL = re.compile(r"[A-Z][a-z]?")
_ENTRY_ID = re.compile(r"^.+\.f(\d{1,9})\.s\d{1,6}$")  # bounded: PostgreSQL integers

#: the structure properties served, with their description, type, unit and whether they sort
PROPERTIES: dict[str, tuple[str, str, str | None, bool]] = {
    "id": ("Entry id: <version pid>.f<file row>.s<index>", "string", None, True),
    "type": ("Always 'structures'", "string", None, False),
    "immutable_id": ("Same as id: versions are immutable", "string", None, True),
    "last_modified": ("When the version holding the file was published", "timestamp", None, True),
    "elements": ("Chemical symbols of the elements, sorted", "list", None, False),
    "nelements": ("Number of distinct elements", "integer", None, True),
    "elements_ratios": ("Relative proportions of the elements", "list", None, False),
    "chemical_formula_descriptive": ("The formula as the file states it", "string", None, True),
    "chemical_formula_reduced": ("Reduced formula, elements alphabetical", "string", None, True),
    "chemical_formula_hill": ("Formula in Hill order (reduced)", "string", None, True),
    "chemical_formula_anonymous": ("Anonymous formula (A, B, C...)", "string", None, True),
    "dimension_types": ("Periodicity of each lattice direction (1 periodic, 0 not)", "list", None, False),
    "nperiodic_dimensions": ("Number of periodic dimensions", "integer", None, True),
    "lattice_vectors": ("Lattice vectors", "list", "Å", False),
    "cartesian_site_positions": ("Cartesian site positions", "list", "Å", False),
    "nsites": ("Number of sites", "integer", None, True),
    "species": ("Species (one per element)", "list", None, False),
    "species_at_sites": ("Species name of each site", "list", None, False),
    "structure_features": ("Structure features (none are used)", "list", None, False),
    f"_{PREFIX}_dataset": ("PID of the dataset version holding the file", "string", None, True),
    f"_{PREFIX}_url": ("Landing page of that dataset version", "string", None, True),
    f"_{PREFIX}_file": ("File (key) the structure was extracted from", "string", None, True),
}


class OptimadeError(Exception):
    """Answered as a JSON:API error document, as OPTIMADE clients expect (not problem+json)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


# -- from extraction results to OPTIMADE entries --------------------------------------------------
def _reduce(counts: dict[str, int]) -> dict[str, int]:
    g = reduce(math.gcd, counts.values())
    return {k: v // g for k, v in counts.items()}


def _formula(counts: dict[str, int], order: list[str]) -> str:
    return "".join(f"{el}{counts[el] if counts[el] != 1 else ''}" for el in order)


def _anonymous(counts: dict[str, int]) -> str:
    letters = [*string.ascii_uppercase]
    names = letters + [a + b.lower() for a in letters for b in letters]
    ordered = sorted(counts.values(), reverse=True)
    return "".join(f"{names[i]}{n if n != 1 else ''}" for i, n in enumerate(ordered))


def _hill(counts: dict[str, int]) -> str:
    if "C" in counts:
        order = ["C", *(["H"] if "H" in counts else []), *sorted(k for k in counts if k not in ("C", "H"))]
    else:
        order = sorted(counts)
    return _formula(counts, order)


def _counts_from_formula(formula: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula):
        counts[el] += int(n) if n else 1
    return dict(counts)


def structure_document(
    raw: dict[str, Any], *, entry_id: str, version: Version, file_key: str, landing: str
) -> dict[str, Any] | None:
    """One extracted structure as a flat OPTIMADE document (backend names), or None if unusable."""
    species_at_sites = raw.get("species")
    positions = raw.get("cartesian_positions")
    symbols: list[str] = []
    site_names: list[str] = []
    if isinstance(species_at_sites, list) and species_at_sites:
        site_names = [str(name) for name in species_at_sites]
        for name in site_names:
            m = _SYMBOL.match(str(name))
            if not m:
                return None
            symbols.append(m.group(0))
        counts = dict(Counter(symbols))
    else:
        counts = _counts_from_formula(str(raw.get("formula") or ""))
    if not counts:
        return None
    reduced = _reduce(counts)
    elements = sorted(counts)
    total = sum(counts.values())
    pbc = raw.get("pbc")
    lattice = raw.get("lattice")
    dims = [1 if p else 0 for p in pbc] if isinstance(pbc, list) and len(pbc) == 3 else [1, 1, 1]
    if lattice is None:
        dims = [0, 0, 0]
    doc: dict[str, Any] = {
        "id": entry_id,
        "immutable_id": entry_id,
        "type": "structures",
        "last_modified": version.published_at or version.updated,
        "elements": elements,
        "nelements": len(elements),
        "elements_ratios": [counts[e] / total for e in elements],
        "chemical_formula_descriptive": str(raw.get("formula") or _formula(counts, elements)),
        "chemical_formula_reduced": _formula(reduced, elements),
        "chemical_formula_hill": _hill(reduced),
        "chemical_formula_anonymous": _anonymous(reduced),
        "dimension_types": dims,
        "nperiodic_dimensions": sum(dims),
        "lattice_vectors": lattice,
        "nsites": int(raw.get("n_sites") or len(symbols) or total),
        "cartesian_site_positions": positions if symbols and isinstance(positions, list) else None,
        "species_at_sites": site_names or None,
        "species": [
            {"name": name, "chemical_symbols": [symbol], "concentration": [1.0]}
            for name, symbol in sorted(set(zip(site_names, symbols, strict=True)))
        ]
        or None,
        "structure_features": [],
        "dataset": version.pid,
        "url": landing,
        "file": file_key,
    }
    if doc["cartesian_site_positions"] is not None and len(doc["cartesian_site_positions"]) != doc["nsites"]:
        return None
    return doc


def _entry(doc: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    """Backend document -> JSON:API resource object (provider fields get their prefix back)."""
    attributes: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("id", "type", "_id"):
            continue
        name = f"_{PREFIX}_{key}" if key in PROVIDER_FIELDS else key
        if fields is not None and name not in fields:
            continue
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        attributes[name] = value
    return {"id": doc["id"], "type": "structures", "attributes": attributes}


class OptimadeService:
    """The OPTIMADE provider of one hub: visible structures, filtered and paged."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # the optimade package is imported on first use: a hub that is never asked stays quick to start
    @cached_property
    def config(self) -> ServerConfig:
        from optimade.models import Provider
        from optimade.server.config import ServerConfig

        return ServerConfig(
            provider=Provider(
                prefix=PREFIX,
                name=self.hub.settings.hub_name,
                description="Crystal structures extracted from the files of a Databahn research-data hub",
                homepage=None,
            ),
            provider_fields={"structures": list(PROVIDER_FIELDS)},
        )

    @cached_property
    def _transformer(self) -> MongoTransformer:
        from optimade.filtertransformers.mongo import MongoTransformer
        from optimade.server.mappers import StructureMapper

        return MongoTransformer(mapper=StructureMapper(self.config))

    @cached_property
    def _parser(self) -> LarkParser:
        from optimade.filterparser import LarkParser

        return LarkParser(version=(1, 2, 0))

    @property
    def provider(self) -> dict[str, Any]:
        return {
            "name": self.hub.settings.hub_name,
            "description": "Crystal structures extracted from the files of a Databahn research-data hub",
            "prefix": PREFIX,
            "homepage": self.hub.settings.base_url.rstrip("/") + "/",
        }

    def documents(self, principal: Principal, *, file_id: int | None = None) -> list[dict[str, Any]]:
        """Every structure in files of latest published versions whose files `principal` may read
        (only those of one file row when `file_id` is given)."""
        base = self.hub.settings.base_url.rstrip("/")
        out: list[dict[str, Any]] = []
        structures_json = FileEntry.extracted["structures"]
        with self.hub.read() as s:
            rows = s.execute(
                # only the structures of each extraction result, not its previews and quantities
                select(FileEntry.id, FileEntry.key, structures_json, Version)
                .join(Version, Version.id == FileEntry.version_id)
                .join(Dataset, Dataset.id == Version.dataset_id)
                .where(
                    Version.state == "published",
                    Version.is_latest.is_(True),
                    structures_json.is_not(None),
                    readable(principal, Action.read_files),
                    *([FileEntry.id == file_id] if file_id is not None else []),
                )
                .order_by(Version.id, FileEntry.id)
            )
            for row_id, key, structures, version in rows:
                for index, raw in enumerate(structures if isinstance(structures, list) else []):
                    if not isinstance(raw, dict):
                        continue
                    entry_id = f"{version.pid}.f{row_id}.s{index}"
                    doc = structure_document(
                        raw,
                        entry_id=entry_id,
                        version=version,
                        file_key=key,
                        landing=f"{base}/datasets/{version.pid}",
                    )
                    if doc is not None and self._valid(doc):
                        out.append(doc)
        return out

    @staticmethod
    def _valid(doc: dict[str, Any]) -> bool:
        from optimade.models.structures import StructureResource

        try:
            StructureResource(**_entry(doc, None))
        except ValidationError as exc:
            log.info("structure %s left out of OPTIMADE: %s", doc["id"], exc.errors()[:1])
            return False
        return True

    def mongo_filter(self, text: str | None) -> dict[str, Any]:
        if not text or not text.strip():
            return {}
        try:
            tree = self._parser.parse(text)
        except Exception as exc:  # the parser raises BadRequest with a readable message
            raise OptimadeError(400, "Bad Request", f"cannot parse filter {text!r}: {exc}") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                query: dict[str, Any] = self._transformer.transform(tree)
        except Exception as exc:  # lark wraps the transformer's errors; show the original
            detail = getattr(exc, "orig_exc", exc)
            raise OptimadeError(400, "Bad Request", f"filter {text!r} is not supported: {detail}") from None
        return query

    def query(
        self,
        principal: Principal,
        *,
        filter_text: str | None,
        sort: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int, int]:
        """(page of documents, matching count, available count) for one request."""
        import mongomock

        criteria = self.mongo_filter(filter_text)
        docs = self.documents(principal)
        collection: Any = mongomock.MongoClient().db.structures
        if docs:
            collection.insert_many([dict(d) for d in docs])
        sort_spec = self._sort(sort)
        try:
            cursor = collection.find(criteria, projection={"_id": False})
            returned = collection.count_documents(criteria)
            if sort_spec:
                cursor = cursor.sort(sort_spec)
            page = list(cursor.skip(offset).limit(limit))
        except Exception as exc:  # mongomock refuses an operator combination
            raise OptimadeError(
                400, "Bad Request", f"filter {filter_text!r} could not be applied: {exc}"
            ) from None
        return page, returned, len(docs)

    @staticmethod
    def _sort(sort: str | None) -> list[tuple[str, int]]:
        if not sort:
            return [("id", 1)]
        spec: list[tuple[str, int]] = []
        for field in sort.split(","):
            field = field.strip()
            direction = -1 if field.startswith("-") else 1
            name = field.lstrip("-")
            if name not in PROPERTIES:
                raise OptimadeError(400, "Bad Request", f"cannot sort by unknown property {name!r}")
            if not PROPERTIES[name][3]:
                raise OptimadeError(400, "Bad Request", f"property {name!r} is not sortable (it is a list)")
            backend = name[len(f"_{PREFIX}_") :] if name.startswith(f"_{PREFIX}_") else name
            spec.append((backend, direction))
        return spec


# -- HTTP ------------------------------------------------------------------------------------------
router = APIRouter(prefix="/optimade", tags=["optimade"])


def _service(request: Request) -> OptimadeService:
    service: OptimadeService = request.app.state.hub.ext["optimade"]
    return service


def _root(request: Request) -> str:
    return request.app.state.hub.settings.base_url.rstrip("/") + "/optimade/v1"


def _meta(request: Request, **extra: Any) -> dict[str, Any]:
    service = _service(request)
    query = request.url.path.split("/optimade/v1", 1)[-1] or "/"
    if request.url.query:
        query += "?" + request.url.query
    return {
        "query": {"representation": query},
        "api_version": API_VERSION,
        "more_data_available": False,
        "time_stamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provider": service.provider,
        "implementation": {"name": "databahn", "version": __version__},
        **extra,
    }


def _error(request: Request, exc: OptimadeError) -> JSONResponse:
    body = {
        "errors": [{"status": str(exc.status), "title": exc.title, "detail": exc.detail}],
        "meta": _meta(request),
    }
    return JSONResponse(body, status_code=exc.status, media_type="application/vnd.api+json")


def _ok(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, media_type="application/vnd.api+json")


def _common_checks(request: Request) -> None:
    fmt = request.query_params.get("response_format")
    if fmt not in (None, "json"):
        raise OptimadeError(400, "Bad Request", f"response_format {fmt!r} is not supported; use json")


def _int_param(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise OptimadeError(400, "Bad Request", f"{name} must be an integer, not {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        status = 403 if name == "page_limit" and high is not None and value > high else 400
        raise OptimadeError(status, "Bad Request", f"{name} must be {bounds}, not {value}")
    return value


def _fields(request: Request) -> set[str] | None:
    raw = request.query_params.get("response_fields")
    if not raw:
        return None
    return {f.strip() for f in raw.split(",") if f.strip()}


def _principal(request: Request) -> Principal:
    try:
        return get_principal(request)
    except DatabahnError as exc:
        raise OptimadeError(exc.status, "Unauthorized", str(exc)) from None


@router.get("/versions", response_class=PlainTextResponse)
@router.get("/v1/versions", response_class=PlainTextResponse, include_in_schema=False)
def versions() -> PlainTextResponse:
    """The OPTIMADE API versions served (CSV, newest first)."""
    return PlainTextResponse("version\n1\n", media_type="text/csv; header=present")


@router.get("/v1/info")
def info(request: Request) -> JSONResponse:
    """The OPTIMADE base info: versions, formats, entry types."""
    try:
        _common_checks(request)
    except OptimadeError as exc:
        return _error(request, exc)
    data = {
        "id": "/",
        "type": "info",
        "attributes": {
            "api_version": API_VERSION,
            "available_api_versions": [{"url": _root(request), "version": API_VERSION}],
            "formats": ["json"],
            "entry_types_by_format": {"json": ["structures"]},
            "available_endpoints": ["info", "links", "structures"],
            "is_index": False,
        },
    }
    return _ok({"data": data, "meta": _meta(request, data_returned=1)})


@router.get("/v1/info/{entry}")
def entry_info(request: Request, entry: str) -> JSONResponse:
    """Which properties the structures entries have (and which can sort)."""
    if entry != "structures":
        return _error(
            request, OptimadeError(404, "Not Found", f"no entry type {entry!r}; this hub has structures")
        )
    properties = {
        name: {"description": desc, "type": typ, "sortable": sortable, **({"unit": unit} if unit else {})}
        for name, (desc, typ, unit, sortable) in PROPERTIES.items()
    }
    data = {
        "id": "structures",
        "type": "info",
        "formats": ["json"],
        "description": "Crystal structures extracted from files of published datasets",
        "properties": properties,
        "output_fields_by_format": {"json": list(PROPERTIES)},
    }
    return _ok({"data": data, "meta": _meta(request, data_returned=1)})


@router.get("/v1/links")
def links(request: Request) -> JSONResponse:
    """Links to other OPTIMADE databases: none besides this one."""
    return _ok({"data": [], "meta": _meta(request, data_returned=0, data_available=0)})


@router.get("/v1/structures")
async def structures(request: Request) -> JSONResponse:
    """Structures the caller may see, filtered with the OPTIMADE filter language and paged."""
    try:
        _common_checks(request)
        principal = _principal(request)
        limit = _int_param(request, "page_limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        offset = _int_param(request, "page_offset", 0, 0)
        if "page_number" in request.query_params:
            number = _int_param(request, "page_number", 1, 1)
            offset = (number - 1) * limit
        page, returned, available = await run_in_threadpool(
            _service(request).query,
            principal,
            filter_text=request.query_params.get("filter"),
            sort=request.query_params.get("sort"),
            limit=limit,
            offset=offset,
        )
    except OptimadeError as exc:
        return _error(request, exc)
    fields = _fields(request)
    more = offset + len(page) < returned
    next_link = None
    if more:
        params = dict(request.query_params)
        params.pop("page_number", None)
        params.update(page_offset=str(offset + len(page)), page_limit=str(limit))
        next_link = f"{_root(request)}/structures?{urlencode(params)}"
    return _ok(
        {
            "data": [_entry(d, fields) for d in page],
            "links": {"next": next_link},
            "meta": _meta(
                request, more_data_available=more, data_returned=returned, data_available=available
            ),
        }
    )


@router.get("/v1/structures/{entry_id}")
async def structure(request: Request, entry_id: str) -> JSONResponse:
    """One structure by id (404 if it does not exist or the caller may not see it)."""
    try:
        _common_checks(request)
        principal = _principal(request)
        service = _service(request)
        parsed = _ENTRY_ID.match(entry_id)
        docs = (
            await run_in_threadpool(service.documents, principal, file_id=int(parsed.group(1)))
            if parsed
            else []
        )
    except OptimadeError as exc:
        return _error(request, exc)
    match = next((d for d in docs if d["id"] == entry_id), None)
    if match is None:
        return _error(
            request, OptimadeError(404, "Not Found", f"no structure {entry_id!r}, or you may not see it")
        )
    return _ok(
        {
            "data": _entry(match, _fields(request)),
            "meta": _meta(request, data_returned=1),
        }
    )
