"""Agent metrics against a hand count: three invoices proposed, two approved (one corrected),
one rejected, the approved ones written; then an unreadable document that fails."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.governance import executor, runs
from opsgate.governance.answers import answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.learning.metrics import agent_metrics
from opsgate.models import Proposal
from tests.support.batches import Batch
from tests.unit.platform.conftest import StoreProbe, by_source

NOW = datetime.now(timezone.utc)


def _window() -> tuple[datetime, datetime]:
    return NOW - timedelta(hours=1), datetime.now(timezone.utc) + timedelta(hours=1)


def test_rates_match_the_decisions_people_made(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    de, uk = by_source(batch, "de.pdf"), by_source(batch, "uk.pdf")
    answer = answer_for(request_, "alice", rejections={uk: "not ours"}, edits={de: {"po_number": "PO-1"}})
    for decision in decide(request_.id, answer):
        executor.execute_one(batch.run.policy, decision.proposal_id)

    (row,) = agent_metrics(*_window())
    assert (row.workflow, row.case_type) == ("invoice_extraction", "invoice")
    assert (row.cases, row.completed, row.executed, row.approved, row.rejected, row.corrected) == (3, 3, 2, 2, 1, 1)
    assert row.approval_rate == round(2 / 3, 4) and row.correction_rate == 0.5 and row.completion_rate == 1.0
    assert row.escalated == 0 and row.escalation_rate == 0.0 and row.tool_error_rate == 0.0
    assert row.time_saved_minutes == 2 * batch.run.policy.manual_minutes  # type: ignore[operator]


def test_escalations_are_counted_by_reason_and_open_cases_are_not_complete(
    store: StoreProbe, batch: Batch, tmp_path: Path
) -> None:
    run = runs.start_run(governing("invoice_extraction"), "test")
    failed = Proposal(
        workflow=run.workflow,
        source=str(tmp_path / "scan.pdf"),
        case_type="invoice",
        error="no text layer",
        instruction_version="rules-v1",
    )
    runs.check_policy(run, [failed])
    (row,) = agent_metrics(*_window())
    assert row.cases == 4 and row.completed == 1, "three cases still wait for a person; the failed one has ended"
    assert row.completion_rate == 0.25 and row.approval_rate is None and row.correction_rate is None
    assert agent_metrics(NOW + timedelta(days=1), NOW + timedelta(days=2)) == []


def test_the_cli_prints_the_same_figures_as_json(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    decide(request_.id, answer_for(request_, "alice", rejections={by_source(batch, "uk.pdf"): "not ours"}))
    result = CliRunner().invoke(app, ["metrics", "--json", "--since", (NOW - timedelta(hours=1)).isoformat()])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["cases"], row["approved"], row["rejected"], row["approval_rate"]) == (3, 2, 1, round(2 / 3, 4))
    assert CliRunner().invoke(app, ["metrics", "--since", "last week"]).exit_code == 2
