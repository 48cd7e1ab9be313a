"""Database tables of the DMP plugin: plan versions, generated documents, declared flows.

Everything is append-only on purpose: a plan loaded once stays retrievable (the current plan is the
newest version), every generated DMP document is kept under its number so any two can be compared,
and a dataset version's declared flows are recorded when it is deposited (they count as deliveries
only once that version is published, which the live-state builder decides at read time).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from databahn.db.models import Base, UTCDateTime, utcnow


class DmpPlanVersion(Base):
    """One loaded plan; `number` 1 is the shipped BIG-MAP plan unless someone loaded another first."""

    __tablename__ = "dmp_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    source: Mapped[str] = mapped_column(String(300))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DmpDocument(Base):
    """A generated DMP document, kept forever under its number (HTML; PDF is rendered from it)."""

    __tablename__ = "dmp_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    plan_number: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16), default="html")
    # "public": generated from what anyone may see (readable by all); "internal": from everything
    # (CLI as system, or a data manager) and readable only by admins and data managers
    audience: Mapped[str] = mapped_column(String(16), default="internal")
    html: Mapped[str] = mapped_column(Text)
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DmpFlowDeclaration(Base):
    """`--delivers WP2:WP5` on one dataset version; `flow_id` NULL means nobody planned this flow."""

    __tablename__ = "dmp_flow_declarations"
    __table_args__ = (
        UniqueConstraint("version_id", "source", "target", name="uq_dmp_flows_version_pair"),
        Index("ix_dmp_flows_pair", "source", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    flow_id: Mapped[str | None] = mapped_column(String(40))
    spec: Mapped[str] = mapped_column(String(80))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
