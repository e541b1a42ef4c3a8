"""Past invoice cases built through the real path, shared by the replay tests (SQLite and PostgreSQL).

One run proposes the three sample invoices (12 posting fields each) and a person decides them:

    us.pdf  approved with the PO number corrected (PO-55821 to PO-55812), executed
    de.pdf  approved as proposed, executed
    uk.pdf  rejected
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate.governance import executor
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox
from tests.unit.platform.conftest import StoreProbe, by_source


@pytest.fixture
def store(opsgate_env: str) -> StoreProbe:
    return StoreProbe()


@pytest.fixture
def decided(store: StoreProbe, tmp_path: Path) -> Batch:
    batch = proposed_batch(write_inbox(tmp_path / "inbox"))
    request = open_request(batch)
    us, uk = by_source(batch, "us.pdf"), by_source(batch, "uk.pdf")
    answer = answer_for(request, "alice", rejections={uk: "not our order"}, edits={us: {"po_number": "PO-55812"}})
    for decision in decide(request.id, answer):
        executor.execute_one(batch.run.policy, decision.proposal_id)
    return batch
