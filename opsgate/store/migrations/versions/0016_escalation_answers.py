"""escalation_answers: a person's answer to an escalated case (taken up, closed, not ours), one per case;
proposals.taken_up_from: the escalated case a taken-up case answers

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_answers",
        sa.Column("proposal_id", sa.String(length=36), sa.ForeignKey("proposals.id"), primary_key=True),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("answered_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("taken_up_as", sa.String(length=36), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_escalation_answers_workflow", "escalation_answers", ["workflow"])
    op.add_column("proposals", sa.Column("taken_up_from", sa.String(length=36), nullable=True))


def downgrade() -> None:
    op.drop_column("proposals", "taken_up_from")
    op.drop_index("ix_escalation_answers_workflow", table_name="escalation_answers")
    op.drop_table("escalation_answers")
