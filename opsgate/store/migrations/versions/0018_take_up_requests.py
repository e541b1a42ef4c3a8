"""take_up_requests: a person's request to take an escalated case up, recorded where they were
proven, before the run that proposes it starts; the run is given only its id

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "take_up_requests",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("proposal_id", sa.String(length=36), sa.ForeignKey("proposals.id"), nullable=False),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column(
            "fields", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("authenticated_by", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=True),
    )
    op.create_index("ix_take_up_requests_proposal_id", "take_up_requests", ["proposal_id"])


def downgrade() -> None:
    op.drop_index("ix_take_up_requests_proposal_id", table_name="take_up_requests")
    op.drop_table("take_up_requests")
