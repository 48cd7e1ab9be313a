"""Tables of the provenance plugin: nodes and typed edges of the hub-wide lineage graph.

Dataset and model nodes point at a hub version (``version_id``), so the access policy decides who
sees them; samples, activities, agents and imported AiiDA nodes stand on their own. ``key`` is the
node's id in a :class:`~databahn.provenance.ProvGraph` (a version PID, ``smp-xxxx-xxxx``,
``act-xxxx-xxxx``, ``agt-...`` or an AiiDA UUID); ``attributes`` holds the validated node itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from databahn.db.models import Base, UTCDateTime, utcnow


class ProvNodeRow(Base):
    __tablename__ = "prov_nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(500), unique=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    subtype: Mapped[str | None] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(1000), default="")
    identifier: Mapped[str | None] = mapped_column(String(500), index=True)
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProvEdgeRow(Base):
    __tablename__ = "prov_edges"
    __table_args__ = (
        UniqueConstraint("source_id", "target_id", "link_type", "label", name="uq_prov_edges"),
        Index("ix_prov_edges_source", "source_id", "link_type", "target_id"),
        Index("ix_prov_edges_target", "target_id", "link_type", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("prov_nodes.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("prov_nodes.id", ondelete="CASCADE"))
    link_type: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(500), default="")
