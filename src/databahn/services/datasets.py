"""Datasets and their versions: draft → publish → new version → publish.

Rules held here (and nowhere else): a published version is immutable; a dataset has at most one
draft; publishing needs files and complete metadata; unchanged files are shared between versions
(file rows point at the same blob, never a copy); the concept PID resolves to the latest version
the reader may see. Reads go through the access policy (`policy.can` / `policy.readable`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from databahn.db.models import (
    AuditEvent,
    Dataset,
    FileEntry,
    IdentifierEntry,
    Version,
    utcnow,
)
from databahn.domain.metadata import DatasetMetadata
from databahn.domain.records import Access, FileRecord, Identifier, VersionRecord, VersionState
from databahn.errors import Conflict, DatabahnError, FieldError, InvalidInput, NotFound, pydantic_field_errors
from databahn.search.index import SearchQuery
from databahn.services import ids
from databahn.services.policy import Action, Principal, can, readable
from databahn.services.users import require_user

if TYPE_CHECKING:
    from databahn.services.hub import Hub


@dataclass(frozen=True)
class VersionSummary:
    pid: str
    number: int
    state: str
    version_label: str | None
    published: dt.datetime | None
    created: dt.datetime
    is_latest: bool
    title: str
    file_count: int
    changes: list[str]


@dataclass(frozen=True)
class SearchPage:
    total: int
    page: int
    size: int
    hits: list[VersionRecord]
    facets: dict[str, list[tuple[str, int]]]


def validate_metadata(data: Any, hooks: Any = None) -> DatasetMetadata:
    if not isinstance(data, dict):
        raise InvalidInput("metadata must be a JSON object (see /api/schemas/metadata)")
    for prepare in getattr(hooks, "prepare_metadata", ()):
        data = prepare(dict(data))
    try:
        return DatasetMetadata.model_validate(data)
    except ValidationError as exc:
        errors = pydantic_field_errors(exc)
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise InvalidInput(f"invalid metadata: {summary}", errors=errors) from None


def _meta_json(meta: DatasetMetadata) -> dict[str, Any]:
    return meta.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def _diff_versions(old: Version | None, new: Version) -> list[str]:
    """Human summary of what changed from the previous version."""
    if old is None:
        return ["first version"]
    changes: list[str] = []
    old_files = {f.key: f.sha256 or f.external_url for f in old.files}
    new_files = {f.key: f.sha256 or f.external_url for f in new.files}
    added = sorted(set(new_files) - set(old_files))
    removed = sorted(set(old_files) - set(new_files))
    changed = sorted(k for k in set(new_files) & set(old_files) if new_files[k] != old_files[k])
    if added:
        changes.append("added " + ", ".join(added[:5]) + (" …" if len(added) > 5 else ""))
    if removed:
        changes.append("removed " + ", ".join(removed[:5]) + (" …" if len(removed) > 5 else ""))
    if changed:
        changes.append("changed " + ", ".join(changed[:5]) + (" …" if len(changed) > 5 else ""))
    old_meta, new_meta = old.meta or {}, new.meta or {}
    fields = sorted(
        k for k in set(old_meta) | set(new_meta) if k != "version" and old_meta.get(k) != new_meta.get(k)
    )
    if fields:
        changes.append("metadata: " + ", ".join(fields))
    return changes or ["no changes"]


class DatasetService:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # -- loading ------------------------------------------------------------------------------
    def _load_version(self, s: Session, pid: str, principal: Principal) -> Version:
        """The version a PID names, as `principal` may see it (concept → latest visible)."""
        parsed = ids.parse_pid(pid)
        if parsed is None:
            return self._resolve_other(s, pid, principal)
        concept, number = parsed
        stmt = (
            select(Version)
            .join(Dataset, Dataset.id == Version.dataset_id)
            .where(Dataset.pid == concept)
            .where(readable(principal))
            .options(selectinload(Version.files), selectinload(Version.dataset))
        )
        if number is not None:
            version = s.scalar(stmt.where(Version.number == number))
        else:
            version = s.scalar(
                stmt.where(Version.state == "published").order_by(Version.number.desc()).limit(1)
            ) or s.scalar(stmt.order_by(Version.number.desc()).limit(1))
        if version is None:
            raise NotFound(f"no dataset {pid!r}, or you may not see it")
        return version

    def _resolve_other(self, s: Session, identifier: str, principal: Principal) -> Version:
        """Find a version or dataset by any registered identifier (DOI, handle, lab id, URL...)."""
        keys = [key for _scheme, key in ids.guess_scheme(identifier)]
        row = s.execute(
            select(IdentifierEntry.dataset_id, IdentifierEntry.version_id)
            .where(IdentifierEntry.value_norm.in_(keys))
            .order_by(IdentifierEntry.id)
            .limit(1)
        ).first()
        if row is None:
            raise NotFound(f"no dataset or version has the identifier {identifier!r}, or you may not see it")
        dataset_id, version_id = row
        stmt = (
            select(Version)
            .join(Dataset, Dataset.id == Version.dataset_id)
            .where(readable(principal))
            .options(selectinload(Version.files), selectinload(Version.dataset))
        )
        if version_id is not None:
            version = s.scalar(stmt.where(Version.id == version_id))
        else:
            version = s.scalar(
                stmt.where(Version.dataset_id == dataset_id, Version.state == "published")
                .order_by(Version.number.desc())
                .limit(1)
            )
        if version is None:
            raise NotFound(f"no dataset or version has the identifier {identifier!r}, or you may not see it")
        return version

    def _editable_draft(self, s: Session, pid: str, principal: Principal) -> Version:
        require_user(principal)
        version = self._load_version(s, pid, principal)
        if not can(principal, Action.edit, version):
            raise NotFound(f"no dataset {pid!r}, or you may not change it")
        if version.state != "draft":
            raise Conflict(
                f"version {version.pid} is published and cannot be changed; "
                f"create a new version with `databahn deposit ... --new-version-of {version.dataset.pid}`"
            )
        return version

    # -- record building ----------------------------------------------------------------------
    def _identifier_rows(self, s: Session, versions: list[Version]) -> dict[int, list[IdentifierEntry]]:
        """Non-hub identifiers of many versions in one query, keyed by version id."""
        by_dataset: dict[int, list[IdentifierEntry]] = {}
        if versions:
            for row in s.scalars(
                select(IdentifierEntry)
                .where(
                    IdentifierEntry.dataset_id.in_({v.dataset_id for v in versions}),
                    IdentifierEntry.scheme != "hub",
                )
                .order_by(IdentifierEntry.id)
            ):
                by_dataset.setdefault(row.dataset_id, []).append(row)
        return {
            v.id: [r for r in by_dataset.get(v.dataset_id, []) if r.version_id in (None, v.id)]
            for v in versions
        }

    def to_records(
        self, s: Session, versions: list[Version], principal: Principal, *, extras: bool = True
    ) -> list[VersionRecord]:
        idents = self._identifier_rows(s, versions)
        return [
            self.to_record(s, v, principal, identifier_rows=idents[v.id], with_extras=extras)
            for v in versions
        ]

    def to_record(
        self,
        s: Session,
        version: Version,
        principal: Principal,
        *,
        identifier_rows: list[IdentifierEntry] | None = None,
        with_extras: bool = True,
    ) -> VersionRecord:
        """The read model of `version` as `principal` may see it. `with_extras=False` skips the plugins'
        extra fields (provenance, access, DMP, ...): search hits list many records and show none."""
        base = self.hub.settings.base_url.rstrip("/")
        files_visible = can(principal, Action.read_files, version)
        files: list[FileRecord] = []
        if files_visible:
            for f in version.files:
                files.append(
                    FileRecord(
                        key=f.key,
                        size=f.size,
                        sha256=f.sha256,
                        md5=f.md5,
                        media_type=f.media_type,
                        external_url=f.external_url,
                        derived_from=f.derived_from_key,
                        created=f.created,
                        download_url=(
                            f"{base}/api/datasets/{version.pid}/files/{f.key}" if f.sha256 else f.external_url
                        ),
                        extracted=f.extracted,
                    )
                )
        idents = [
            Identifier(scheme="hub", value=version.pid, level="version"),
            Identifier(scheme="hub", value=version.dataset.pid, level="dataset"),
        ]
        if identifier_rows is None:
            identifier_rows = self._identifier_rows(s, [version])[version.id]
        for row in identifier_rows:
            idents.append(
                Identifier(
                    scheme=row.scheme,
                    value=row.value,
                    level="dataset" if row.version_id is None else "version",
                )
            )
        owner = version.dataset.owner.username if version.dataset.owner else None
        extras: dict[str, Any] = {}
        for hook in self.hub.hooks.record_extras if with_extras else ():
            extras.update(hook(s, version, principal))
        return VersionRecord(
            pid=version.pid,
            concept_pid=version.dataset.pid,
            version_number=version.number,
            state=VersionState(version.state),
            access=Access(version.access),
            metadata=DatasetMetadata.model_validate(version.meta),
            extracted=version.extracted or {},
            files=files,
            files_visible=files_visible,
            identifiers=idents,
            owner=owner,
            created=version.created,
            updated=version.updated,
            published=version.published_at,
            is_latest=version.is_latest,
            embargo_until=version.embargo_until,
            url=f"{base}/datasets/{version.pid}",
            api_url=f"{base}/api/datasets/{version.pid}",
            extras=extras,
        )

    # -- commands -------------------------------------------------------------------------------
    def create(
        self,
        principal: Principal,
        metadata: dict[str, Any],
        *,
        access: str = "public",
        metadata_only: bool = False,
        options: dict[str, Any] | None = None,
    ) -> VersionRecord:
        require_user(principal)
        meta = validate_metadata(metadata, self.hub.hooks)
        try:
            access_level = Access(access)
        except ValueError:
            raise InvalidInput(
                f"unknown access level {access!r}; use public, restricted or confidential",
                errors=[FieldError("access", "use public, restricted or confidential")],
            ) from None
        with self.hub.write() as s:
            for _attempt in range(5):
                concept = ids.new_concept_pid()
                if not s.scalar(select(Dataset.id).where(Dataset.pid == concept)):
                    break
            else:  # pragma: no cover - 2^40 space
                raise DatabahnError("could not allocate an identifier, try again")
            assert principal.user_id is not None
            dataset = Dataset(pid=concept, owner_id=principal.user_id)
            s.add(dataset)
            s.flush()
            version = Version(
                dataset_id=dataset.id,
                pid=ids.version_pid(concept, 1),
                number=1,
                state="draft",
                access=access_level.value,
                metadata_only=metadata_only,
                meta=_meta_json(meta),
                extracted={},
                created_by_id=principal.user_id,
            )
            s.add(version)
            s.flush()
            self._register_hub_ids(s, dataset, version)
            s.refresh(version, ["files", "dataset"])
            self._apply_options(s, version, options)
            self.audit(s, principal, "dataset.create", version.pid)
            return self.to_record(s, version, principal)

    def _apply_options(self, s: Session, version: Version, options: dict[str, Any] | None) -> None:
        """Let plugins apply deposit options (sharing, embargo, flows, provenance...) in this transaction."""
        if not options:
            return
        handled: set[str] = set()
        for hook in self.hub.hooks.create_options:
            handled |= hook(s, version, options)
        unknown = sorted(set(options) - handled)
        if unknown:
            raise InvalidInput(
                f"unknown deposit option(s): {', '.join(unknown)}",
                errors=[FieldError(f"options.{k}", "not understood by this hub") for k in unknown],
            )

    def _index(self, s: Session, version: Version) -> None:
        extra: list[tuple[str, str]] = []
        for hook in self.hub.hooks.index_facets:
            extra += hook(version)
        self.hub.search_index.index_version(s, version, self._pids(s, version), extra)

    def _register_hub_ids(self, s: Session, dataset: Dataset, version: Version) -> None:
        s.execute(
            self.hub.insert_ignore(IdentifierEntry),
            [
                {
                    "dataset_id": dataset.id,
                    "version_id": None,
                    "scheme": "hub",
                    "value": dataset.pid,
                    "value_norm": dataset.pid,
                    "created": utcnow(),
                },
                {
                    "dataset_id": dataset.id,
                    "version_id": version.id,
                    "scheme": "hub",
                    "value": version.pid,
                    "value_norm": version.pid,
                    "created": utcnow(),
                },
            ],
        )

    def get(self, principal: Principal, pid: str) -> VersionRecord:
        with self.hub.read() as s:
            version = self._load_version(s, pid, principal)
            return self.to_record(s, version, principal)

    def update_metadata(self, principal: Principal, pid: str, metadata: dict[str, Any]) -> VersionRecord:
        meta = validate_metadata(metadata, self.hub.hooks)
        with self.hub.write() as s:
            version = self._editable_draft(s, pid, principal)
            version.meta = _meta_json(meta)
            version.updated = utcnow()
            self.audit(s, principal, "dataset.update", version.pid)
            return self.to_record(s, version, principal)

    def set_access(
        self,
        principal: Principal,
        pid: str,
        *,
        access: str | None = None,
        metadata_only: bool | None = None,
        embargo_until: dt.date | None = None,
    ) -> VersionRecord:
        with self.hub.write() as s:
            version = self._editable_draft(s, pid, principal)
            if access is not None:
                try:
                    version.access = Access(access).value
                except ValueError:
                    raise InvalidInput(
                        f"unknown access level {access!r}; use public, restricted or confidential"
                    ) from None
            if metadata_only is not None:
                version.metadata_only = metadata_only
            if embargo_until is not None:
                if embargo_until <= dt.date.today():
                    raise InvalidInput(f"the embargo date {embargo_until} is not in the future")
                version.embargo_until = embargo_until
            version.updated = utcnow()
            self.audit(s, principal, "dataset.access", version.pid, access=version.access)
            return self.to_record(s, version, principal)

    def publish(self, principal: Principal, pid: str) -> VersionRecord:
        with self.hub.write() as s:
            version = self._editable_draft(s, pid, principal)
            if not can(principal, Action.publish, version):
                raise NotFound(f"no dataset {pid!r}, or you may not publish it")
            meta = DatasetMetadata.model_validate(version.meta)
            problems = [FieldError(f, m) for f, m in meta.publish_problems()]
            if not version.files:
                problems.append(FieldError("files", "a version needs at least one file to be published"))
            for check in self.hub.hooks.publish_checks:
                problems += check(s, version)
            if problems:
                raise InvalidInput(
                    "cannot publish yet: " + "; ".join(p.message for p in problems), errors=problems
                )
            previous = s.scalar(
                select(Version)
                .where(Version.dataset_id == version.dataset_id, Version.is_latest.is_(True))
                .with_for_update()
            )
            if previous is not None:
                previous.is_latest = False
            now = utcnow()
            version.state = "published"
            version.published_at = now
            version.updated = now
            version.is_latest = True
            version.version_label = meta.version or f"{version.number}.0.0"
            version.generated_on = meta.generated_on or version.created.date()
            if not meta.version or not meta.generated_on:
                data = dict(version.meta)
                data.setdefault("version", version.version_label)
                data.setdefault("generated_on", version.generated_on.isoformat())
                version.meta = data
            version.dataset.latest_version_id = version.id
            s.flush()
            for hook in self.hub.hooks.after_publish:
                hook(s, version)
            self._index(s, version)
            self.audit(s, principal, "dataset.publish", version.pid)
            return self.to_record(s, version, principal)

    def _pids(self, s: Session, version: Version) -> list[str]:
        return list(
            s.scalars(
                select(IdentifierEntry.value).where(
                    IdentifierEntry.dataset_id == version.dataset_id,
                    or_(IdentifierEntry.version_id.is_(None), IdentifierEntry.version_id == version.id),
                )
            )
        )

    def new_version(
        self, principal: Principal, pid: str, *, options: dict[str, Any] | None = None
    ) -> VersionRecord:
        """A draft that starts as a copy of the latest published version (files shared, not copied)."""
        require_user(principal)
        with self.hub.write() as s:
            current = self._load_version(s, pid, principal)
            if not can(principal, Action.manage, current):
                raise NotFound(f"no dataset {pid!r}, or you may not change it")
            dataset = current.dataset
            draft = s.scalar(
                select(Version).where(Version.dataset_id == dataset.id, Version.state == "draft")
            )
            if draft is not None:
                raise Conflict(
                    f"dataset {dataset.pid} already has a draft ({draft.pid}); publish or discard it first",
                    draft=draft.pid,
                )
            latest = s.scalar(
                select(Version)
                .where(Version.dataset_id == dataset.id, Version.state == "published")
                .order_by(Version.number.desc())
                .limit(1)
                .options(selectinload(Version.files))
            )
            if latest is None:
                raise Conflict(f"dataset {dataset.pid} has no published version yet; publish its draft first")
            number = (
                s.scalar(select(func.max(Version.number)).where(Version.dataset_id == dataset.id)) or 0
            ) + 1
            meta = dict(latest.meta)
            meta.pop("version", None)  # a new label is assigned at publication unless given
            version = Version(
                dataset_id=dataset.id,
                pid=ids.version_pid(dataset.pid, number),
                number=number,
                state="draft",
                access=latest.access,
                metadata_only=latest.metadata_only,
                embargo_until=latest.embargo_until,
                meta=meta,
                extracted=dict(latest.extracted or {}),
                created_by_id=principal.user_id,
            )
            s.add(version)
            s.flush()
            for f in latest.files:
                s.add(
                    FileEntry(
                        version_id=version.id,
                        key=f.key,
                        blob_sha256=f.blob_sha256,
                        size=f.size,
                        sha256=f.sha256,
                        md5=f.md5,
                        media_type=f.media_type,
                        external_url=f.external_url,
                        derived_from_key=f.derived_from_key,
                        access=f.access,
                        extracted=f.extracted,
                    )
                )
            self._register_hub_ids(s, dataset, version)
            s.flush()
            s.refresh(version, ["files", "dataset"])
            self._apply_options(s, version, options)
            self.audit(s, principal, "dataset.new_version", version.pid)
            return self.to_record(s, version, principal)

    def discard_draft(self, principal: Principal, pid: str) -> None:
        with self.hub.write() as s:
            version = self._editable_draft(s, pid, principal)
            dataset = version.dataset
            only = s.scalar(select(func.count()).where(Version.dataset_id == dataset.id)) == 1
            self.audit(s, principal, "dataset.discard_draft", version.pid)
            s.delete(version)
            if only:
                s.flush()
                s.delete(dataset)

    def versions(self, principal: Principal, pid: str) -> list[VersionSummary]:
        with self.hub.read() as s:
            anchor = self._load_version(s, pid, principal)
            rows = list(
                s.scalars(
                    select(Version)
                    .join(Dataset, Dataset.id == Version.dataset_id)
                    .where(Version.dataset_id == anchor.dataset_id, readable(principal))
                    .order_by(Version.number)
                    .options(selectinload(Version.files))
                )
            )
            out: list[VersionSummary] = []
            previous: Version | None = None
            for v in rows:
                out.append(
                    VersionSummary(
                        pid=v.pid,
                        number=v.number,
                        state=v.state,
                        version_label=v.version_label,
                        published=v.published_at,
                        created=v.created,
                        is_latest=v.is_latest,
                        title=str((v.meta or {}).get("title", "")),
                        file_count=len(v.files),
                        changes=_diff_versions(previous, v),
                    )
                )
                previous = v
            return out

    def add_identifier(
        self, principal: Principal, pid: str, scheme: str, value: str, *, level: str = "version"
    ) -> VersionRecord:
        """Attach a DOI, handle, lab id... Allowed on published versions too: it adds, never edits."""
        require_user(principal)
        try:
            scheme, value, norm = ids.normalise_identifier(scheme, value)
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[FieldError("identifier", str(exc))]) from None
        if scheme == "hub":
            raise InvalidInput("hub identifiers are assigned by the hub")
        if level not in {"version", "dataset"}:
            raise InvalidInput("level must be 'version' or 'dataset'")
        with self.hub.write() as s:
            version = self._load_version(s, pid, principal)
            if not can(principal, Action.manage, version):
                raise NotFound(f"no dataset {pid!r}, or you may not change it")
            existing = s.scalar(
                select(IdentifierEntry).where(
                    IdentifierEntry.scheme == scheme, IdentifierEntry.value_norm == norm
                )
            )
            if existing is not None:
                raise Conflict(f"{scheme} {value} is already registered for another dataset or version")
            s.add(
                IdentifierEntry(
                    dataset_id=version.dataset_id,
                    version_id=version.id if level == "version" else None,
                    scheme=scheme,
                    value=value,
                    value_norm=norm,
                )
            )
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"{scheme} {value} is already registered") from None
            if version.is_latest and version.state == "published":
                self._index(s, version)
            self.audit(s, principal, "dataset.identifier", version.pid, scheme=scheme, value=value)
            return self.to_record(s, version, principal)

    def search(self, principal: Principal, query: SearchQuery) -> SearchPage:
        if query.sort not in ("relevance", "newest", "oldest", "title"):
            raise InvalidInput(f"unknown sort {query.sort!r}; use relevance, newest, oldest or title")
        if query.page < 1 or not 1 <= query.size <= 200:
            raise InvalidInput("page must be >= 1 and size between 1 and 200")
        if query.params:
            clauses: list[Any] = []
            for hook in self.hub.hooks.search_clauses:
                clauses += hook(query.params)
            if not clauses:
                names = ", ".join(sorted(query.params))
                raise InvalidInput(f"this hub cannot search by {names} (is the ontology configured?)")
            query = dataclasses.replace(query, extra=[*query.extra, *clauses])  # never mutate the caller's
        with self.hub.read() as s:
            result = self.hub.search_index.search(s, principal, query)
            versions = {
                v.id: v
                for v in s.scalars(
                    select(Version)
                    .where(Version.id.in_(result.version_ids))
                    .options(
                        selectinload(Version.files),
                        selectinload(Version.dataset).selectinload(Dataset.owner),
                    )
                )
            }
            hits = self.to_records(
                s, [versions[i] for i in result.version_ids if i in versions], principal, extras=False
            )
            return SearchPage(
                total=result.total, page=result.page, size=result.size, hits=hits, facets=result.facets
            )

    def my_drafts(self, principal: Principal) -> list[VersionRecord]:
        require_user(principal, "read")
        with self.hub.read() as s:
            rows = s.scalars(
                select(Version)
                .join(Dataset, Dataset.id == Version.dataset_id)
                .where(and_(Version.state == "draft", Dataset.owner_id == principal.user_id))
                .order_by(Version.updated.desc())
                .options(selectinload(Version.files), selectinload(Version.dataset))
            )
            return [self.to_record(s, v, principal) for v in rows]

    def reindex(self) -> int:
        with self.hub.write() as s:
            return self.hub.search_index.reindex_all(s, lambda v: self._pids(s, v), self._extra_facets)

    def _extra_facets(self, version: Version) -> list[tuple[str, str]]:
        extra: list[tuple[str, str]] = []
        for hook in self.hub.hooks.index_facets:
            extra += hook(version)
        return extra

    # -- audit ----------------------------------------------------------------------------------
    @staticmethod
    def audit(s: Session, principal: Principal, action: str, target: str | None, **detail: Any) -> None:
        s.add(AuditEvent(actor_id=principal.user_id, action=action, target=target, detail=detail))
