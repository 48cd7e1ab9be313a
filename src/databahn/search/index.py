"""Search over published datasets: full-text, facets with counts, sorting, paging.

One interface, two full-text engines: SQLite FTS5 (embedded) and PostgreSQL tsvector (scale-out).
Everything else — facets, filters, the access filter, sorting, paging — is shared SQL, and the
access policy's clause is part of the very query that counts, so totals and facet counts never
include what the principal may not see.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, and_, delete, func, insert, literal_column, select, text
from sqlalchemy.orm import Session

from databahn.db.models import SearchDoc, SearchFacet, Version
from databahn.search.facets import FacetCounter
from databahn.services.policy import Facts, Principal, readable

FACET_KEYS = (
    "work_package",
    "partner",
    "data_level",
    "method",
    "format",
    "license",
    "year",
    "keyword",
    "access",
    "resource_type",
    "technique",
    "element",
    "term",
)
SORTS = ("relevance", "newest", "oldest", "title")
_TOKEN = re.compile(r"[\w][\w.+-]*", re.UNICODE)


@dataclass
class SearchQuery:
    text: str = ""
    facets: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    size: int = 20
    #: extra clauses over SearchDoc (e.g. ontology term expansion), ANDed in
    extra: list[ColumnElement[bool]] = field(default_factory=list)
    #: plugin-specific search parameters (e.g. {"term": [...]}), turned into `extra` by hooks
    params: dict[str, Any] = field(default_factory=dict)
    with_facets: bool = True


@dataclass
class SearchResult:
    total: int
    version_ids: list[int]
    facets: dict[str, list[tuple[str, int]]]
    page: int
    size: int


def facet_values(meta: dict[str, Any], files: list[Any], version: Version) -> list[tuple[str, str]]:
    """The (key, value) pairs a version contributes to facets."""
    out: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if value is None or value == "":
            return
        out.append((key, str(value)[:300]))

    add("work_package", meta.get("work_package"))
    add("partner", meta.get("partner"))
    add("data_level", meta.get("data_level"))
    method = meta.get("method") or {}
    add("method", method.get("name") if isinstance(method, dict) else None)
    add("license", meta.get("license"))
    add("resource_type", meta.get("resource_type") or "Dataset")
    add("access", version.access)
    year = None
    if meta.get("generated_on"):
        year = str(meta["generated_on"])[:4]
    elif version.published_at:
        year = str(version.published_at.year)
    add("year", year)
    for kw in dict.fromkeys(meta.get("keywords") or []):
        add("keyword", kw)
    formats: dict[str, None] = {}
    for f in files:
        name = f.key.rsplit("/", 1)[-1]
        if "." in name:
            formats[name.rsplit(".", 1)[-1].lower()] = None
    for fmt in formats:
        add("format", fmt)
    return out


def document_text(meta: dict[str, Any], files: list[Any], pids: list[str], extracted: dict[str, Any]) -> str:
    """Everything searchable besides the title, as one text."""
    parts: list[str] = [meta.get("description") or ""]
    for person in (meta.get("creators") or []) + (meta.get("contributors") or []):
        parts.append(person.get("name", ""))
        parts.append(person.get("orcid") or "")
        parts += [a.get("name", "") for a in person.get("affiliation") or []]
    parts += meta.get("keywords") or []
    parts += meta.get("subjects") or []
    for key in ("work_package", "partner", "interface_aspect", "data_level", "fidelity", "dimensionality"):
        parts.append(str(meta.get(key) or ""))
    method = meta.get("method") or {}
    if isinstance(method, dict):
        parts += [method.get("name") or "", method.get("protocol") or "", method.get("instrument") or ""]
    parts += [s.get("name", "") for s in meta.get("software") or []]
    parts += [f.key for f in files]
    parts += pids
    for info in (extracted or {}).values():
        if isinstance(info, dict):
            for k in ("technique", "format", "instrument"):
                if info.get(k):
                    parts.append(str(info[k]))
            for s in info.get("structures") or []:
                parts.append(str(s.get("formula", "")))
                parts += list(s.get("elements") or [])
    return " ".join(p for p in parts if p)


DOC_FACTS = Facts(
    version_id=SearchDoc.version_id,
    state=SearchDoc.state,
    access=SearchDoc.access,
    metadata_only=SearchDoc.metadata_only,
    embargo_until=SearchDoc.embargo_until,
    owner_id=SearchDoc.owner_id,
)


class SearchIndex(ABC):
    """Maintains and queries the search documents; `fts_*` is what differs per database."""

    name = "abstract"

    def __init__(self) -> None:
        self.facet_counter = FacetCounter()

    # -- maintenance ------------------------------------------------------------------------
    def index_version(
        self,
        session: Session,
        version: Version,
        pids: list[str],
        extra_facets: list[tuple[str, str]] | None = None,
    ) -> None:
        """(Re)index `version` as its dataset's searchable document, replacing older ones."""
        old_rev = session.scalar(select(SearchDoc.rev).where(SearchDoc.version_id == version.id))
        self.remove_dataset(session, version.dataset_id)
        meta = version.meta or {}
        title = str(meta.get("title", ""))
        body = document_text(meta, list(version.files), pids, version.extracted or {})
        session.execute(
            insert(SearchDoc).values(
                version_id=version.id,
                dataset_id=version.dataset_id,
                published_at=version.published_at,
                title_sort=title.lower()[:200],
                state=version.state,
                access=version.access,
                metadata_only=version.metadata_only,
                embargo_until=version.embargo_until,
                owner_id=version.dataset.owner_id,
                rev=(old_rev or 0) + 1,
            )
        )
        rows = [
            {"version_id": version.id, "key": k, "value": v}
            for k, v in dict.fromkeys(facet_values(meta, list(version.files), version) + (extra_facets or []))
        ]
        if rows:
            session.execute(insert(SearchFacet), rows)
        self.fts_upsert(session, version.id, title, body)

    def remove_dataset(self, session: Session, dataset_id: int) -> None:
        old = session.scalars(select(SearchDoc.version_id).where(SearchDoc.dataset_id == dataset_id)).all()
        for vid in old:
            self.fts_delete(session, vid)
            session.execute(delete(SearchFacet).where(SearchFacet.version_id == vid))
        session.execute(delete(SearchDoc).where(SearchDoc.dataset_id == dataset_id))

    @abstractmethod
    def fts_upsert(self, session: Session, version_id: int, title: str, body: str) -> None: ...

    @abstractmethod
    def fts_delete(self, session: Session, version_id: int) -> None: ...

    @abstractmethod
    def fts_clear(self, session: Session) -> None: ...

    @abstractmethod
    def fts_match(self, query_text: str) -> Select[Any]:
        """A select of (version_id, rank) for documents matching the text (lower rank = better)."""

    # -- querying ---------------------------------------------------------------------------
    def _where(self, principal: Principal, q: SearchQuery) -> tuple[list[Any], Any]:
        """Clauses over SearchDoc (text, facet filters, extras, the access policy) and the rank column."""
        clauses: list[Any] = [readable(principal, facts=DOC_FACTS)]
        rank: Any = None
        if q.text.strip():
            match = self.fts_match(q.text).subquery("m")
            clauses.append(SearchDoc.version_id == match.c.version_id)
            rank = match.c.rank
        for key, values in q.facets.items():
            if values:
                clauses.append(
                    SearchDoc.version_id.in_(
                        select(SearchFacet.version_id).where(
                            and_(SearchFacet.key == key, SearchFacet.value.in_(values))
                        )
                    )
                )
        clauses.extend(q.extra)
        return clauses, rank

    def search(self, session: Session, principal: Principal, q: SearchQuery) -> SearchResult:
        clauses, rank = self._where(principal, q)
        facets: dict[str, list[tuple[str, int]]] = {}
        if q.with_facets:
            # one pass over the hits gives the total and feeds the facet counter; fetched through
            # the raw cursor because building 100,000 Row objects would cost more than the query
            stmt = select(SearchDoc.version_id, SearchDoc.rev).where(*clauses)
            rows = _fetch_int_pairs(session, stmt)
            total = int(rows.shape[0])
            if total:
                facets = self.facet_counter.count(session, rows[:, 0], rows[:, 1])
        else:
            total = session.scalar(select(func.count()).select_from(SearchDoc).where(*clauses)) or 0
        ordered = select(SearchDoc.version_id).where(*clauses)
        if q.sort == "relevance" and rank is not None:
            ordered = ordered.order_by(rank, SearchDoc.published_at.desc())
        elif q.sort == "oldest":
            ordered = ordered.order_by(SearchDoc.published_at.asc(), SearchDoc.version_id)
        elif q.sort == "title":
            ordered = ordered.order_by(SearchDoc.title_sort, SearchDoc.version_id)
        else:
            ordered = ordered.order_by(SearchDoc.published_at.desc(), SearchDoc.version_id.desc())
        ids = list(session.scalars(ordered.limit(q.size).offset((q.page - 1) * q.size)))
        return SearchResult(total=int(total), version_ids=ids, facets=facets, page=q.page, size=q.size)

    def reindex_all(self, session: Session, pid_lookup: Any, extra_facets: Any = None) -> int:
        """Rebuild every document from the versions table; returns how many."""
        session.execute(delete(SearchFacet))
        session.execute(delete(SearchDoc))
        self.fts_clear(session)
        count = 0
        versions = session.scalars(
            select(Version).where(Version.is_latest.is_(True), Version.state == "published")
        )
        for version in versions:
            self.index_version(
                session, version, pid_lookup(version), extra_facets(version) if extra_facets else None
            )
            count += 1
        return count


def _fetch_int_pairs(session: Session, stmt: Any) -> np.ndarray:
    """Execute a (version_id, rev) select and return an (n, 2) int64 array.

    The database aggregates the hits into one row (two comma-separated lists on SQLite, two arrays
    on PostgreSQL): a single value crosses the driver instead of 100,000 row tuples."""
    sub = stmt.subquery("hits")
    if session.connection().dialect.name == "sqlite":
        row = session.execute(
            select(func.group_concat(sub.c.version_id), func.group_concat(sub.c.rev), func.count())
        ).one()
        if not row[2]:
            return np.zeros((0, 2), dtype=np.int64)
        vids = np.fromstring(row[0], dtype=np.int64, sep=",")
        revs = np.fromstring(row[1], dtype=np.int64, sep=",")
    else:
        row = session.execute(select(func.array_agg(sub.c.version_id), func.array_agg(sub.c.rev))).one()
        if not row[0]:
            return np.zeros((0, 2), dtype=np.int64)
        vids = np.asarray(row[0], dtype=np.int64)
        revs = np.asarray(row[1], dtype=np.int64)
    return np.stack([vids, revs], axis=1)


def tokens(query_text: str) -> list[str]:
    return _TOKEN.findall(query_text.lower())[:32]


class SqliteSearchIndex(SearchIndex):
    """FTS5 with the porter stemmer; user text is tokenised and quoted, never passed raw."""

    name = "sqlite-fts5"

    def fts_upsert(self, session: Session, version_id: int, title: str, body: str) -> None:
        session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": version_id})
        session.execute(
            text("INSERT INTO search_fts(rowid, title, body) VALUES (:id, :title, :body)"),
            {"id": version_id, "title": title, "body": body},
        )

    def fts_delete(self, session: Session, version_id: int) -> None:
        session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": version_id})

    def fts_clear(self, session: Session) -> None:
        session.execute(text("DELETE FROM search_fts"))

    def fts_match(self, query_text: str) -> Select[Any]:
        toks = tokens(query_text)
        if not toks:
            toks = ['""']
        # every token must match (prefix match on the last one, for search-as-you-type)
        terms = ['"' + t.replace('"', '""') + '"' for t in toks]
        terms[-1] = terms[-1] + "*"
        expr = " ".join(terms)
        stmt: Any = (
            select(
                literal_column("rowid").label("version_id"),
                literal_column("bm25(search_fts, 5.0, 1.0)").label("rank"),
            )
            .select_from(text("search_fts"))
            .where(text("search_fts MATCH :q").bindparams(q=expr))
        )
        return stmt


class PostgresSearchIndex(SearchIndex):
    """tsvector column on search_docs with a GIN index; websearch syntax for user text."""

    name = "postgres-tsvector"

    def fts_upsert(self, session: Session, version_id: int, title: str, body: str) -> None:
        session.execute(
            text(
                "UPDATE search_docs SET tsv = setweight(to_tsvector('english', :title), 'A') || "
                "setweight(to_tsvector('english', :body), 'B') WHERE version_id = :id"
            ),
            {"id": version_id, "title": title, "body": body},
        )

    def fts_delete(self, session: Session, version_id: int) -> None:
        return None  # the tsvector lives in the search_docs row, deleted with it

    def fts_clear(self, session: Session) -> None:
        return None

    def fts_match(self, query_text: str) -> Select[Any]:
        words = re.findall(r"\w+", query_text.lower())[:32]
        expr = " & ".join(w + ":*" for w in words) or "''"
        query = func.to_tsquery(literal_column("'english'"), expr)
        tsv: Any = literal_column("search_docs.tsv")
        stmt: Select[Any] = select(
            SearchDoc.version_id.label("version_id"),
            (-func.ts_rank_cd(tsv, query)).label("rank"),
        ).where(tsv.op("@@")(query))
        return stmt


def make_search_index(dialect: str) -> SearchIndex:
    return PostgresSearchIndex() if dialect == "postgresql" else SqliteSearchIndex()


def parse_year(value: str) -> int | None:
    try:
        return dt.date.fromisoformat(value).year
    except ValueError:
        return None
