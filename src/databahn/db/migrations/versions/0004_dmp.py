"""DMP plugin: plan versions, generated document versions, flow declarations per dataset version.

Revision ID: 0004_dmp
Revises: 0001
Create Date: 2026-11-25 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_dmp"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dmp_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["loaded_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "dmp_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("plan_number", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["generated_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "dmp_flow_declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("flow_id", sa.String(length=40), nullable=True),
        sa.Column("spec", sa.String(length=80), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "source", "target", name="uq_dmp_flows_version_pair"),
    )
    op.create_index("ix_dmp_flows_pair", "dmp_flow_declarations", ["source", "target"])
    op.create_index(
        op.f("ix_dmp_flow_declarations_version_id"), "dmp_flow_declarations", ["version_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dmp_flow_declarations_version_id"), table_name="dmp_flow_declarations")
    op.drop_index("ix_dmp_flows_pair", table_name="dmp_flow_declarations")
    op.drop_table("dmp_flow_declarations")
    op.drop_table("dmp_documents")
    op.drop_table("dmp_plans")
