"""Helpers shared by the platform's unit tests: a look into the store, and real batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox


class StoreProbe:
    """Reads the store the way a test wants to: counts and audit events, nothing cached."""

    def count(self, model: type[Any], *where: Any) -> int:
        with transaction() as session:
            return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()

    def rows(self, model: type[Any], *where: Any) -> list[Any]:
        with transaction() as session:
            return list(session.execute(select(model).where(*where)).scalars())

    def get(self, model: type[Any], key: Any) -> Any:
        with transaction() as session:
            return session.get(model, key)

    def events(self, event: str | None = None, proposal_id: str | None = None) -> list[AuditRow]:
        query = select(AuditRow).order_by(AuditRow.seq)
        if event is not None:
            query = query.where(AuditRow.event == event)
        if proposal_id is not None:
            query = query.where(AuditRow.proposal_id == proposal_id)
        with transaction() as session:
            return list(session.execute(query).scalars())


@pytest.fixture
def store(opsgate_env: str) -> StoreProbe:
    """The test store (SQLite and PostgreSQL), with a probe to read it."""
    return StoreProbe()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Three good invoices (US, DE, UK samples)."""
    return write_inbox(tmp_path / "inbox")


@pytest.fixture
def batch(store: StoreProbe, inbox: Path) -> Batch:
    """A run whose three invoices were proposed and routed to a person (shipped policy)."""
    return proposed_batch(inbox)


@pytest.fixture
def request_(batch: Batch):  # noqa: ANN201 - PendingRequest
    """The open approval request for ``batch``."""
    return open_request(batch)


def by_source(batch: Batch, filename: str) -> str:
    """The id of the batch's proposal for the inbox file ``filename``."""
    (proposal,) = [p for p in batch.proposals if Path(p.source).name == filename]
    return proposal.id
