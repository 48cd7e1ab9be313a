"""Provenance: nodes (datasets, samples, models, activities, agents) and typed edges.

Revision ID: 0005_provenance
Revises: 0001
Create Date: 2026-11-25 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_provenance"
down_revision = "0001"
branch_labels = ("provenance",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prov_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subtype", sa.String(length=40), nullable=True),
        sa.Column("label", sa.String(length=1000), nullable=False),
        sa.Column("identifier", sa.String(length=500), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("version_id"),
    )
    with op.batch_alter_table("prov_nodes", schema=None) as batch_op:
        batch_op.create_index("ix_prov_nodes_kind", ["kind"], unique=False)
        batch_op.create_index("ix_prov_nodes_identifier", ["identifier"], unique=False)

    op.create_table(
        "prov_edges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("link_type", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["prov_nodes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["prov_nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "target_id", "link_type", "label", name="uq_prov_edges"),
    )
    with op.batch_alter_table("prov_edges", schema=None) as batch_op:
        batch_op.create_index("ix_prov_edges_source", ["source_id", "link_type", "target_id"], unique=False)
        batch_op.create_index("ix_prov_edges_target", ["target_id", "link_type", "source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prov_edges", schema=None) as batch_op:
        batch_op.drop_index("ix_prov_edges_target")
        batch_op.drop_index("ix_prov_edges_source")
    op.drop_table("prov_edges")
    with op.batch_alter_table("prov_nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_prov_nodes_identifier")
        batch_op.drop_index("ix_prov_nodes_kind")
    op.drop_table("prov_nodes")
