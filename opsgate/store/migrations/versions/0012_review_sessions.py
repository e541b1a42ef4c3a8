"""review-screen sessions kept in the store: signing out, a new password or a disabled account ends them everywhere

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "review_sessions",
        sa.Column("digest", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("person", sa.String(length=100), nullable=False),
        sa.Column("authenticated_by", sa.String(length=20), nullable=False),
        sa.Column("groups", JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_why", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_review_sessions_person", "review_sessions", ["person"])


def downgrade() -> None:
    op.drop_index("ix_review_sessions_person", table_name="review_sessions")
    op.drop_table("review_sessions")
