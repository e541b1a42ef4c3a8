"""Shadow evaluation of the invoice workflow against an outcomes file checked by hand, on SQLite and PostgreSQL.

Five documents go through one shadow run (the policy puts invoices on `shadow`): the three sample
invoices are shadowed (each would have been posted), one without a total is escalated (missing
data) and an empty file fails. The agent proposed:

    us.pdf  Brightline Office Supply LLC  BOS-24-0317   2024-03-15  2024-04-14  USD 1132.00 + 90.56 = 1222.56  PO-55821  no IBAN
    de.pdf  Nordlicht Technik GmbH        NT-2024-0815  2024-02-05  2024-03-06  EUR 1255.00 + 238.45 = 1493.45  no PO  DE12500105170648489890
    uk.pdf  Harrowgate Print & Design Ltd HPD-1187      2024-04-12  2024-05-12  GBP 640.00 + 128.00 = 768.00    no PO  no IBAN
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.learning import evaluation
from opsgate.learning.evaluation import EvaluationReport, FieldAgreement
from opsgate.store.tables import ApprovalRequestRow, ApprovalRow, AuditRow, ExecutionRow, PayableRow, ProposalRow
from opsgate.workflows import by_name
from tasks.invoice_extraction.outcomes import comparable, file_name
from tests.support.batches import Batch, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import DE_INVOICE, MISSING_TOTAL_INVOICE, UK_INVOICE, US_INVOICE
from tests.unit.platform.conftest import StoreProbe

runner = CliRunner()

# us: posted as proposed, written the way people type (case, spaces, a thousands comma, 1222.560, a
#     spreadsheet's midnight, a Windows path): every field agrees.
# de: posted with another total (1439.45 for 1493.45) and the IBAN in groups of four: a wrong total,
#     at stake the difference, EUR 54.00.
# uk: rejected: the agent would have posted GBP 768.00 that people did not; should have been escalated.
# fr: the agent escalated it (no total), people posted it: left to people that people did.
# nt: a bad row (a date day or month first, a decimal comma), reported and left out.
# ghost: people escalated a document no shadow case has: an outcome without a proposal.
# empty.pdf (failed) has no row: a case without an outcome.
OUTCOMES = """\
source,action,vendor_name,invoice_number,invoice_date,due_date,currency,subtotal,tax_total,total,po_number,iban
C:\\scans\\us.pdf,posted,"brightline office supply, llc", bos-24-0317 ,2024-03-15,2024-04-14 00:00:00,usd,"1,132.00",90.56,1222.560,po-55821,
de.pdf,Posted,Nordlicht Technik GmbH,NT-2024-0815,2024-02-05,2024-03-06,EUR,1255.00,238.45,1439.45,,de12 5001 0517 0648 4898 90
uk.pdf,rejected,,,,,,,,,,
fr.pdf,posted,Quillfeather Traductions SARL,QF-0099,2024-02-14,,EUR,,,480.00,,
nt.pdf,posted,Nordlicht Technik GmbH,NT-2024-0816,05/02/2024,,EUR,,,"1.222,50",,
ghost.pdf,escalated,,,,,,,,,,
"""
FIELDS = [
    "vendor_name",
    "invoice_number",
    "invoice_date",
    "due_date",
    "currency",
    "subtotal",
    "tax_total",
    "total",
    "po_number",
    "iban",
]


@pytest.fixture
def shadow_batch(opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Batch:
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda policy: policy["autonomy"].update(invoice="shadow"))
    inbox = write_inbox(
        tmp_path / "inbox",
        {
            "us.pdf": US_INVOICE,
            "de.pdf": DE_INVOICE,
            "uk.pdf": UK_INVOICE,
            "fr.pdf": MISSING_TOTAL_INVOICE,
            "empty.pdf": b"",
        },
    )
    return proposed_batch(inbox)


def _report(path: Path) -> EvaluationReport:
    now = datetime.now(timezone.utc)
    return evaluation.evaluate(by_name("invoices"), path, now - timedelta(days=1), now + timedelta(seconds=1))


def _store_state(store: StoreProbe) -> dict[str, object]:
    return {
        "payables": store.count(PayableRow),
        "approval requests": store.count(ApprovalRequestRow),
        "approvals": store.count(ApprovalRow),
        "executions": store.count(ExecutionRow),
        "audit rows": store.count(AuditRow),
        "proposals": sorted((Path(r.source).name, r.status) for r in store.rows(ProposalRow)),
    }


def test_every_figure_matches_the_hand_count(shadow_batch: Batch, tmp_path: Path) -> None:
    store = StoreProbe()
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(OUTCOMES, encoding="utf-8")
    before = _store_state(store)
    assert before["proposals"] == [
        ("de.pdf", "shadowed"),
        ("empty.pdf", "failed"),
        ("fr.pdf", "escalated"),
        ("uk.pdf", "shadowed"),
        ("us.pdf", "shadowed"),
    ]

    report = _report(outcomes)

    o = report.overall
    assert (o.cases, o.compared, o.without_outcome) == (5, 4, 1)  # us de uk fr compared; empty has no row
    assert (o.action_agreed, o.action_agreement_rate) == (2, 0.5)  # us, de: would post, people posted
    assert (o.exact, o.exact_rate) == (1, 0.25)  # us only: de's total differs
    assert (o.wrong_actions, o.wrong_action_rate) == (2, 0.5)  # de (wrong total), uk (rejected)
    assert o.at_stake == {"EUR": Decimal("54.00"), "GBP": Decimal("768.00")}  # 1493.45 - 1439.45; uk's whole total
    assert (o.should_have_escalated, o.missed_actions) == (1, 1)  # uk; fr
    # fields are compared where the agent proposed a posting and people posted: us and de
    assert o.fields == [
        FieldAgreement(field=f, compared=2, agreed=1 if f == "total" else 2, rate=0.5 if f == "total" else 1.0)
        for f in FIELDS
    ]
    # read tools by every case with an action or a failure (fr's escalation has no action, so no proposed event); the posting by us, de, uk
    assert o.tools == {"inbox.read": 4, "payables.post": 3, "payables.read": 4}
    assert [(g.case_type, g.instruction_version, g.cases) for g in report.groups] == [("invoice", "rules-v1", 5)]
    assert [(Path(w.source).name, w.unit, w.cost) for w in report.wrong_actions] == [
        ("de.pdf", "EUR", Decimal("54.00")),
        ("uk.pdf", "GBP", Decimal("768.00")),
    ]
    assert report.wrong_actions[0].what == "would post with a wrong total 1493.45, people posted 1439.45"
    assert report.wrong_actions[1].what == "would post GBP 768.00; people rejected it"
    assert [(u.where, u.detail) for u in report.outcomes_without_proposal] == [
        ("source 'ghost.pdf'", "people escalated it; no shadow case has this file name")
    ]
    assert [(p.where, p.detail) for p in report.problems] == [
        (
            "source 'nt.pdf'",
            "invoice_date '05/02/2024' is not an ISO date (YYYY-MM-DD); total '1.222,50' is not a decimal amount (digits, a point before the decimals)",
        )
    ]

    parquet = tmp_path / "outcomes.parquet"
    pd.read_csv(outcomes, dtype=str, keep_default_na=False).to_parquet(parquet)
    assert _report(parquet).overall == report.overall

    # evaluating wrote nothing: no posting, approval, execution or audit row; no shadowed case reached a gate
    assert _store_state(store) == before
    assert before["approval requests"] == before["payables"] == 0
    listed = runner.invoke(app, ["approvals", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    approve = runner.invoke(app, ["approvals", "approve", shadow_batch.run.id, "--as", "alice"])
    assert approve.exit_code == 2 and "no pending approval" in approve.output


def test_the_command_prints_the_report_and_its_json(shadow_batch: Batch, tmp_path: Path) -> None:
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(OUTCOMES, encoding="utf-8")

    printed = runner.invoke(app, ["eval", "invoices", "--outcomes", str(outcomes)], env={"COLUMNS": "250"})
    assert printed.exit_code == 0, printed.output
    assert "5 shadow cases" in printed.output and "Actions agree: 50.0% (exactly: 25.0%)" in printed.output
    assert "EUR 54.00, GBP 768.00" in printed.output and "1/2 (50.0%)" in printed.output

    answer = runner.invoke(
        app, ["eval", "invoice_extraction", "--outcomes", str(outcomes), "--since", "2000-01-01", "--json"]
    )
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.stdout)
    assert report["workflow"] == "invoice_extraction" and report["since"].startswith("2000-01-01T00:00:00")
    overall = report["overall"]
    assert (overall["cases"], overall["compared"], overall["action_agreement_rate"], overall["exact_rate"]) == (
        5,
        4,
        0.5,
        0.25,
    )
    assert overall["at_stake"] == {"EUR": "54.00", "GBP": "768.00"}  # exact decimals, as text
    assert [(w["unit"], w["cost"]) for w in report["wrong_actions"]] == [("EUR", "54.00"), ("GBP", "768.00")]
    assert len(report["outcomes_without_proposal"]) == 1 and len(report["problems"]) == 1

    later = runner.invoke(app, ["eval", "invoices", "--outcomes", str(outcomes), "--since", "2999-01-01", "--json"])
    assert json.loads(later.stdout)["overall"]["cases"] == 0  # nothing was shadowed in the window


def test_cases_of_runs_that_shadowed_nothing_are_not_evaluated(opsgate_env: str, tmp_path: Path) -> None:
    """The shipped policy sends invoices to a person: no shadow run, nothing to compare."""
    proposed_batch(write_inbox(tmp_path / "inbox"))
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(OUTCOMES, encoding="utf-8")
    report = _report(outcomes)
    assert (
        report.overall.cases == 0 and len(report.outcomes_without_proposal) == 5
    )  # us de uk fr ghost; nt is a bad row


@pytest.mark.parametrize(
    ("field", "written", "compared"),
    [
        ("total", "1,222.56", Decimal("1222.56")),
        ("total", " -12.5 ", Decimal("-12.50")),
        ("subtotal", "0", Decimal("0")),
        ("invoice_date", "2024-03-15T00:00:00", date(2024, 3, 15)),
        ("vendor_name", "ACME Ltd.", "acmeltd"),
        ("vendor_name", "...", None),
        ("invoice_number", " inv  0042 ", "inv 0042"),
        ("iban", "de12 5001 0517", "DE1250010517"),
        ("po_number", "", None),
        ("po_number", None, None),
    ],
)
def test_values_are_compared_in_the_form_finance_accepts(field: str, written: str | None, compared: object) -> None:
    assert comparable(field, written) == compared


@pytest.mark.parametrize(
    ("field", "written"),
    [
        ("total", "1.222,56"),
        ("total", "12,34"),
        ("total", "EUR 5"),
        ("invoice_date", "15.03.2024"),
        ("invoice_date", "2024-02-30"),
        ("due_date", "2024-03-15 13:00"),
    ],
)
def test_values_that_cannot_be_told_apart_are_refused(field: str, written: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        comparable(field, written)


def test_a_file_named_by_two_rows_is_left_out(opsgate_env: str, tmp_path: Path) -> None:
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("source,action\na/us.pdf,posted\nb/us.pdf,rejected\nde.pdf,posted\n", encoding="utf-8")
    report = _report(outcomes)
    assert [p.where for p in report.problems] == ["source 'a/us.pdf'", "source 'b/us.pdf'"]
    assert [u.where for u in report.outcomes_without_proposal] == ["source 'de.pdf'"]
    assert file_name("C:\\scans\\de.pdf") == file_name("/srv/inbox/de.pdf") == "de.pdf"
