"""earned autonomy: case-type modes changed after the policy file

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "autonomy_grants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("case_type", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("proposal_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_autonomy_grants_workflow", "autonomy_grants", ["workflow"])


def downgrade() -> None:
    op.drop_index("ix_autonomy_grants_workflow", table_name="autonomy_grants")
    op.drop_table("autonomy_grants")
