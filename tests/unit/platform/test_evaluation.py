"""Shadow evaluation's platform side: which cases are shadow cases, how comparisons add up per case
type and instruction version (against a hand count), the report as Markdown with its chart, and
the command's refusals."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ConfigurationError
from opsgate.learning.evaluation import (
    CaseComparison,
    FieldAgreement,
    OutcomeComparison,
    OutcomeRow,
    ShadowCase,
    WrongAction,
    build_report,
    evaluate,
    shadow_cases,
)
from opsgate.learning.evaluation_views import agreement_chart, markdown
from opsgate.models import Status
from opsgate.workflows import by_name
from tests.support.batches import proposed_batch, write_inbox
from tests.support.markdown import render
from tests.support.policies import use_policy_variant
from tests.support.samples import MISSING_TOTAL_INVOICE, US_INVOICE
from tests.unit.platform.conftest import StoreProbe

WORKFLOW = "invoice_extraction"
NOW = datetime.now(timezone.utc)
runner = CliRunner()


def test_shadow_cases_are_the_cases_of_runs_that_shadowed(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = {"us.pdf": US_INVOICE, "fr.pdf": MISSING_TOTAL_INVOICE, "empty.pdf": b""}
    proposed_batch(
        write_inbox(tmp_path / "reviewed", documents)
    )  # the shipped policy: to a person, so not a shadow run
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda policy: policy["autonomy"].update(invoice="shadow"))
    inbox = write_inbox(tmp_path / "inbox", documents)
    proposed_batch(inbox)
    again = proposed_batch(inbox)  # the same sources, proposed again with the same instructions

    found = shadow_cases(WORKFLOW, NOW - timedelta(hours=1), datetime.now(timezone.utc) + timedelta(seconds=1))
    assert [c.created_at for c in found] == sorted(c.created_at for c in found)  # oldest first
    cases = sorted(found, key=lambda c: c.source)  # one batch reads its documents in no fixed order

    assert [(Path(c.source).parent.name, Path(c.source).name, c.status) for c in cases] == [
        ("inbox", "empty.pdf", Status.FAILED),
        ("inbox", "fr.pdf", Status.ESCALATED),
        ("inbox", "us.pdf", Status.SHADOWED),
    ]
    assert {c.proposal_id for c in cases} == {p.id for p in again.proposals}  # as last proposed
    assert [c.tools_used for c in cases] == [
        ["inbox.read", "payables.read"],
        [],
        ["inbox.read", "payables.read"],
    ]  # an escalation without an action records none
    assert [c.would_write for c in cases] == [False, False, True]
    assert [e.reason for e in cases[1].escalations] == ["missing_data", "missing_data"]
    assert (
        shadow_cases(
            WORKFLOW, datetime.now(timezone.utc) + timedelta(seconds=1), datetime.now(timezone.utc) + timedelta(hours=1)
        )
        == []
    )
    assert shadow_cases(WORKFLOW, NOW - timedelta(hours=2), NOW - timedelta(hours=1)) == []
    assert (
        shadow_cases("duplicate_flagging", NOW - timedelta(hours=1), datetime.now(timezone.utc) + timedelta(seconds=1))
        == []
    )


def _case(name: str, case_type: str, version: str, status: Status, tools: list[str]) -> ShadowCase:
    tool = "payables.post" if status is not Status.FAILED else None
    return ShadowCase(
        proposal_id=name,
        source=f"inbox/{name}.pdf",
        case_type=case_type,
        instruction_version=version,
        status=status,
        tool=tool,
        tools_used=tools,
        created_at=NOW,
    )


def _comparison() -> OutcomeComparison:
    """Six cases in three groups, judged by hand:

    a invoice/v1     would post, people posted, fields agree               agreed, exact
    b invoice/v1     would post, people rejected, EUR 100.00 at stake      wrong, should have escalated
    c invoice/v1     escalated, people posted, total differs               missed
    d invoice/v1     failed, no outcome                                    without an outcome
    e invoice/v2     would post, people posted, total differs, EUR 5.50    agreed, wrong
    f credit_note/v1 would post, people posted, USD 20.00 at stake         agreed, wrong (a field the file does not have)
    """
    read = ["inbox.read"]
    return OutcomeComparison(
        cases=[
            CaseComparison(
                case=_case("a", "invoice", "v1", Status.SHADOWED, read),
                outcome="posted",
                people_wrote=True,
                fields={"total": True, "iban": True},
                counts={"pairs": 1},
            ),
            CaseComparison(
                case=_case("b", "invoice", "v1", Status.SHADOWED, read),
                outcome="rejected",
                wrong=WrongAction(what="rejected", cost=Decimal("100.00"), unit="EUR"),
            ),
            CaseComparison(
                case=_case("c", "invoice", "v1", Status.ESCALATED, []),
                outcome="posted",
                people_wrote=True,
                fields={"total": False},
            ),
            CaseComparison(case=_case("d", "invoice", "v1", Status.FAILED, read)),
            CaseComparison(
                case=_case("e", "invoice", "v2", Status.SHADOWED, read),
                outcome="posted",
                people_wrote=True,
                fields={"total": False, "iban": True},
                wrong=WrongAction(what="total", cost=Decimal("5.50"), unit="EUR"),
                counts={"pairs": 2, "more": 1},
            ),
            CaseComparison(
                case=_case("f", "credit_note", "v1", Status.SHADOWED, read),
                outcome="posted",
                people_wrote=True,
                fields={"total": True},
                wrong=WrongAction(what="vendor", cost=Decimal("20.00"), unit="USD"),
            ),
        ],
        unmatched=[OutcomeRow(where="source 'g.pdf'", detail="no case")],
        problems=[OutcomeRow(where="source 'h.pdf'", detail="bad | row")],
        rules=["the workflow's own rule"],
    )


def test_comparisons_add_up_per_case_type_and_version() -> None:
    report = build_report(WORKFLOW, NOW - timedelta(days=30), NOW, "outcomes.csv", _comparison())

    credit, v1, v2 = report.groups
    assert [(g.case_type, g.instruction_version) for g in report.groups] == [
        ("credit_note", "v1"),
        ("invoice", "v1"),
        ("invoice", "v2"),
    ]
    assert (v1.cases, v1.compared, v1.without_outcome) == (4, 3, 1)
    assert (v1.action_agreed, v1.action_agreement_rate, v1.exact, v1.exact_rate) == (1, 0.3333, 1, 0.3333)  # a
    assert (v1.wrong_actions, v1.wrong_action_rate, v1.at_stake) == (1, 0.3333, {"EUR": Decimal("100.00")})  # b
    assert (v1.should_have_escalated, v1.missed_actions) == (1, 1)  # b; c
    assert v1.fields == [
        FieldAgreement(field="total", compared=2, agreed=1, rate=0.5),
        FieldAgreement(field="iban", compared=1, agreed=1, rate=1.0),
    ]
    assert v1.tools == {"inbox.read": 3, "payables.post": 3}  # a b d read (c recorded none); a b c proposed the posting
    assert v1.counts == {"pairs": 1}
    assert (v2.action_agreed, v2.exact, v2.wrong_actions, v2.at_stake, v2.counts) == (
        1,
        0,
        1,
        {"EUR": Decimal("5.50")},
        {"pairs": 2, "more": 1},
    )
    assert (credit.action_agreed, credit.exact, credit.wrong_actions, credit.at_stake) == (
        1,
        0,
        1,
        {"USD": Decimal("20.00")},
    )

    o = report.overall
    assert (o.cases, o.compared, o.without_outcome, o.action_agreed, o.action_agreement_rate) == (
        6,
        5,
        1,
        3,
        0.6,
    )  # a e f
    assert (o.exact, o.exact_rate, o.wrong_actions, o.wrong_action_rate) == (1, 0.2, 3, 0.6)  # a; b e f
    assert o.at_stake == {"EUR": Decimal("105.50"), "USD": Decimal("20.00")}
    assert o.fields == [
        FieldAgreement(field="total", compared=4, agreed=2, rate=0.5),
        FieldAgreement(field="iban", compared=2, agreed=2, rate=1.0),
    ]  # total: a f / c e
    assert o.counts == {"pairs": 3, "more": 1}
    assert [(w.proposal_id, w.cost, w.unit) for w in report.wrong_actions] == [
        ("f", Decimal("20.00"), "USD"),
        ("b", Decimal("100.00"), "EUR"),
        ("e", Decimal("5.50"), "EUR"),
    ]
    assert report.rules[-1] == "the workflow's own rule" and len(report.rules) > 1


def test_the_report_as_markdown_with_its_chart() -> None:
    report = build_report(WORKFLOW, NOW - timedelta(days=30), NOW, "outcomes.csv", _comparison())
    chart = agreement_chart(report)
    assert chart.startswith(b"\x89PNG") and mpimg.imread(io.BytesIO(chart), format="png").shape[1] > 100

    text = markdown(report, chart)
    assert text.startswith("# invoice_extraction: shadow evaluation\n")
    rows = [row for table in render(text).tables for row in table]  # as the artifact shows them
    assert ["field", "credit_note / v1", "invoice / v1", "invoice / v2"] in rows
    assert ["total", "1/1 (100.0%)", "1/2 (50.0%)", "0/1 (0.0%)"] in rows
    assert ["all", "", "6", "5", "1", "60.0%", "20.0%", "3", "EUR 105.50, USD 20.00", "1", "1", "3", "1"] in rows
    assert ["inbox.read", "1", "3", "1"] in rows and ["payables.post", "1", "3", "1"] in rows
    assert ["source 'h.pdf'", "bad | row"] in rows  # the pipe is shown, and does not end the cell
    assert render(text).acting() == ["img"]  # the chart; nothing from the outcomes file
    (embedded,) = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert base64.b64decode(embedded) == chart
    assert "- the workflow's own rule" in text

    empty = build_report(WORKFLOW, NOW - timedelta(days=30), NOW, "outcomes.csv", OutcomeComparison(cases=[]))
    assert agreement_chart(empty).startswith(b"\x89PNG") and "## wrong actions\n\nnone" in markdown(empty)


def test_a_workflow_without_outcomes_to_compare_says_so(opsgate_env: str, tmp_path: Path) -> None:
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("id,total\n1,2.00\n", encoding="utf-8")
    no_matcher = dataclasses.replace(by_name("summary"), compare_outcomes=None)  # every shipped workflow names one now
    with pytest.raises(ConfigurationError, match="weekly_summary has no shadow evaluation"):
        evaluate(no_matcher, outcomes, NOW - timedelta(days=1), NOW)
    summary = runner.invoke(app, ["eval", "summary", "--outcomes", str(outcomes)])
    assert summary.exit_code == 2 and "missing column(s) 'week', 'action', 'text'" in summary.output
    unknown = runner.invoke(app, ["eval", "payroll", "--outcomes", str(outcomes)])
    assert unknown.exit_code == 2 and "no workflow called 'payroll'" in unknown.output
    missing = runner.invoke(app, ["eval", "invoices", "--outcomes", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    no_action = runner.invoke(app, ["eval", "invoices", "--outcomes", str(outcomes)])
    assert no_action.exit_code == 2 and "missing column(s) 'source', 'action'" in no_action.output
