"""Database tables (SQLAlchemy 2, one model layer for SQLite and PostgreSQL).

Every change here needs an Alembic migration in `databahn/db/migrations/versions/`.
Published versions are immutable: the service layer refuses edits, and file rows of a
published version are never updated, only shared by later versions (same blob key).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    orcid: Mapped[str | None] = mapped_column(String(19))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """Personal API tokens; only a sha256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Dataset(Base):
    """The concept: a dataset across all its versions. Its PID resolves to the latest version."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[str] = mapped_column(String(40), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    latest_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("versions.id", use_alter=True, name="fk_datasets_latest_version"), nullable=True
    )

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    versions: Mapped[list[Version]] = relationship(
        back_populates="dataset", foreign_keys="Version.dataset_id", order_by="Version.number"
    )


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "number", name="uq_versions_dataset_number"),
        Index("ix_versions_latest", "is_latest", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    pid: Mapped[str] = mapped_column(String(48), unique=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    access: Mapped[str] = mapped_column(String(16), default="public")
    metadata_only: Mapped[bool] = mapped_column(Boolean, default=False)
    embargo_until: Mapped[dt.date | None] = mapped_column(Date)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    extracted: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version_label: Mapped[str | None] = mapped_column(String(64))
    generated_on: Mapped[dt.date | None] = mapped_column(Date)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    dataset: Mapped[Dataset] = relationship(back_populates="versions", foreign_keys=[dataset_id])
    files: Mapped[list[FileEntry]] = relationship(
        back_populates="version", order_by="FileEntry.key", cascade="all, delete-orphan"
    )


class Blob(Base):
    """A stored blob (content-addressed); many file rows across versions may point to one."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FileEntry(Base):
    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("version_id", "key", name="uq_files_version_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(1024))
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    media_type: Mapped[str | None] = mapped_column(String(200))
    external_url: Mapped[str | None] = mapped_column(Text)
    derived_from_key: Mapped[str | None] = mapped_column(String(1024))
    access: Mapped[str | None] = mapped_column(String(16))
    extracted: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[Version] = relationship(back_populates="files")


class Upload(Base):
    """A chunked, resumable upload in progress (bytes sit in the blob store's staging area)."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    media_type: Mapped[str | None] = mapped_column(String(200))
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default="open")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdentifierEntry(Base):
    """Every identifier of a dataset or a version (hub PIDs too), for one-call resolution."""

    __tablename__ = "identifiers"
    __table_args__ = (UniqueConstraint("scheme", "value_norm", name="uq_identifiers_scheme_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(500))
    value_norm: Mapped[str] = mapped_column(String(500), index=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchDoc(Base):
    """Denormalised search document of a dataset's latest published version.

    Kept narrow on purpose: a search over every document scans only these few columns (the
    policy index covers them). The text lives in a dialect-specific full-text index (SQLite FTS5
    table `search_fts` keyed by version id; a tsvector column on PostgreSQL), made by the migration.
    """

    __tablename__ = "search_docs"
    # covers the policy filter, the default newest-first order and the (version_id, rev) hit list
    __table_args__ = (
        Index("ix_search_docs_policy", "access", "state", "published_at", "version_id", "rev", "owner_id"),
    )

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    title_sort: Mapped[str] = mapped_column(String(200), index=True)
    # the access facts of the version, copied so the policy can filter search without joins
    state: Mapped[str] = mapped_column(String(16), default="published")
    access: Mapped[str] = mapped_column(String(16), default="public")
    metadata_only: Mapped[bool] = mapped_column(Boolean, default=False)
    embargo_until: Mapped[dt.date | None] = mapped_column(Date)
    owner_id: Mapped[int] = mapped_column(Integer)
    # bumped whenever this document's facets are rewritten (lets facet caches notice)
    rev: Mapped[int] = mapped_column(Integer, default=0)


class SearchFacet(Base):
    __tablename__ = "search_facets"
    __table_args__ = (Index("ix_search_facets_kv", "key", "value", "version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(300))


class AuditEvent(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str | None] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
