"""audit_head: its one row made with the store, so the first writers lock it rather than race to create it

Two writers appending the very first events of an empty store each found no head row to lock and
each inserted one: one of them failed on the key. With the row in place from the start, the first
writer locks it and the second queues behind it, as every later writer does.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

GENESIS = "0" * 64  # the chain's start (``store.audit.GENESIS``), repeated: a migration stays as it was written


def upgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO audit_head (id, seq, hash) SELECT 1, 0, :genesis "
            "WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1)"
        ).bindparams(genesis=GENESIS)
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM audit_head WHERE id = 1 AND seq = 0"))
