"""one live posting per vendor and invoice number

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "uq_payables_live_posting",
        "payables",
        ["vendor_key", "invoice_number"],
        unique=True,
        postgresql_where=sa.text("status = 'posted'"),
        sqlite_where=sa.text("status = 'posted'"),
    )


def downgrade() -> None:
    op.drop_index("uq_payables_live_posting", table_name="payables")
