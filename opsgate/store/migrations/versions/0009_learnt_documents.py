"""learning from approved history: the text each proposal was read from, and the documents learnt

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "document_texts",
        sa.Column("digest", sa.String(length=64), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "learnt_documents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("origin", sa.String(length=120), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("vendor", sa.String(length=300), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("profile", JSON, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("learnt_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("workflow", "origin"),
    )
    op.create_index("ix_learnt_documents_workflow", "learnt_documents", ["workflow"])
    op.create_index("ix_learnt_documents_vendor", "learnt_documents", ["vendor"])


def downgrade() -> None:
    op.drop_index("ix_learnt_documents_vendor", table_name="learnt_documents")
    op.drop_index("ix_learnt_documents_workflow", table_name="learnt_documents")
    op.drop_table("learnt_documents")
    op.drop_table("document_texts")
