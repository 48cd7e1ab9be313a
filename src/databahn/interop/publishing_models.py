"""The publication log: one row per (version, repository) push, so retries resume instead of duplicating.

The remote draft id is saved as soon as the repository hands it out (before files go up), so a push
that failed half-way continues with the same remote draft on the next attempt rather than leaving an
orphan behind; a row whose status is `published` makes a second push refuse clearly.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from databahn.db.models import Base, UTCDateTime, utcnow


class Publication(Base):
    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("version_id", "repository", name="uq_publications_version_repository"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(100))
    repository_type: Mapped[str] = mapped_column(String(30))
    #: pending (a push is running or was interrupted), published, failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(String(1000))
    doi: Mapped[str | None] = mapped_column(String(300))
    metadata_only: Mapped[bool] = mapped_column(Boolean, default=False)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
