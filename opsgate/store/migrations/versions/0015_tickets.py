"""tickets: inbound requests routed to a queue, one live ticket per request

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("sender", sa.String(length=500), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("assignee_group", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposal_id", sa.String(length=36), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tickets_queue", "tickets", ["queue"])
    op.create_index("ix_tickets_proposal_id", "tickets", ["proposal_id"])
    op.create_index(
        "uq_tickets_live_request",
        "tickets",
        ["request"],
        unique=True,
        postgresql_where=sa.text("status = 'routed'"),
        sqlite_where=sa.text("status = 'routed'"),
    )


def downgrade() -> None:
    op.drop_index("uq_tickets_live_request", table_name="tickets")
    op.drop_index("ix_tickets_proposal_id", table_name="tickets")
    op.drop_index("ix_tickets_queue", table_name="tickets")
    op.drop_table("tickets")
