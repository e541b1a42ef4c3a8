"""messages taken from a workflow's mailbox: taken once, kept, moved out when their case ends

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("mailbox", sa.String(length=100), nullable=False),
        sa.Column("account", sa.String(length=500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_key", sa.String(length=1000), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sources", JSON, nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("workflow", "account", "uidvalidity", "uid", name="uq_mail_messages_uid"),
    )
    op.create_index("ix_mail_messages_key", "mail_messages", ["workflow", "account", "message_key"])
    op.create_index("ix_mail_messages_state", "mail_messages", ["state"])


def downgrade() -> None:
    op.drop_index("ix_mail_messages_state", table_name="mail_messages")
    op.drop_index("ix_mail_messages_key", table_name="mail_messages")
    op.drop_table("mail_messages")
