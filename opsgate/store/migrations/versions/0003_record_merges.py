"""record merges with before images, match models, and what each record looked like when last matched

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("records") as batch_op:
        batch_op.add_column(sa.Column("data_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("checked_digest", sa.String(length=64), nullable=True))
    op.create_table(
        "record_merges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_ids", JSON, nullable=False),
        sa.Column("survivor_before", JSON, nullable=False),
        sa.Column("survivor_after", JSON, nullable=False),
        sa.Column("proposal_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["survivor_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_record_merges_survivor_id", "record_merges", ["survivor_id"])
    op.create_table(
        "match_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("model", JSON, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_match_models_kind", "match_models", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_match_models_kind", table_name="match_models")
    op.drop_table("match_models")
    op.drop_index("ix_record_merges_survivor_id", table_name="record_merges")
    op.drop_table("record_merges")
    with op.batch_alter_table("records") as batch_op:
        batch_op.drop_column("checked_digest")
        batch_op.drop_column("data_digest")
