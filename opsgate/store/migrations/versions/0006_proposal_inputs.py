"""proposal inputs: what each case was proposed from, as it was (a document's digest, the records' values)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("proposals", sa.Column("inputs", JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("proposals", "inputs")
