"""The week's fact sheet from hand-made figures: the store's figures become citable facts, the
tables show them with names from files escaped, and the template's narrative over them passes
the figure check."""

from __future__ import annotations

from datetime import datetime, timezone

from opsgate.learning.metrics import AgentMetrics
from opsgate.reports.sheets import render_html, render_markdown
from opsgate.reports.summaries import check_figures
from tasks.weekly_summary.narrative import template_summary
from tasks.weekly_summary.operations import OperationsFacts, VendorSpend
from tasks.weekly_summary.sheet import fact_sheet

AGENT = AgentMetrics(
    workflow="invoice_extraction",
    case_type="invoice",
    instruction_version="rules-v1",
    cases=20,
    completed=20,
    executed=16,
    approved=16,
    rejected=4,
    corrected=2,
    escalated=0,
    tool_errors=0,
    completion_rate=1.0,
    approval_rate=0.8,
    correction_rate=0.125,
    escalation_rate=0.0,
    tool_error_rate=0.0,
    time_saved_minutes=96.0,
)
OPERATIONS = OperationsFacts(
    start=datetime(2026, 11, 16, tzinfo=timezone.utc),
    end=datetime(2026, 11, 23, tzinfo=timezone.utc),
    invoices_posted=16,
    postings_reversed=1,
    spend_total={"EUR": 12450.5},
    spend_by_vendor=[
        VendorSpend(vendor="Acme <b>Ltd</b> | [click](http://x.example)", currency="EUR", documents=9, total=8000.25)
    ],
    records_flagged=5,
    records_merged=7,
    requests_routed=40,
    requests_routed_automatically=10,
    tickets_withdrawn=1,
    routed_by_queue={"billing": 30, "it <support>": 10},
    approvals=16,
    rejections=4,
    corrections=2,
    escalations=3,
    escalations_by_reason={"high_value": 3},
    escalations_taken_up=2,
    escalations_not_ours=1,
    undone=0,
    execution_refusals=0,
    agents=[AGENT],
)


def test_store_figures_are_facts_and_the_tables_show_them() -> None:
    sheet = fact_sheet("Weekly operations summary, 2026-W47", "2026-W47", "UTC", None, OPERATIONS, 0)
    facts = sheet.facts
    assert (
        facts["invoices_posted"],
        facts["spend_total_EUR"],
        facts["records_merged"],
        facts["escalations_high_value"],
    ) == (16, 12450.5, 7, 3)
    assert (
        facts["invoice_extraction_invoice_approval_rate"],
        facts["invoice_extraction_invoice_time_saved_minutes"],
    ) == (0.8, 96.0)
    assert [c.name for c in sheet.charts] == ["agents"] and sheet.charts[0].png.startswith(b"\x89PNG")
    assert "| invoice\\_extraction | invoice | 20 | 16 | 80.0% | 12.5% | 0.0% | 0.0% | 96 |" in sheet.appendix
    assert "Acme \\<b\\>Ltd\\</b\\> \\| \\[click\\]\\(http\\://x.example\\)" in sheet.appendix, (
        "a vendor name from a document is text, not even a bare link"
    )

    summary = template_summary(facts)
    assert check_figures(summary, facts) == []
    texts = [h.text for h in summary.highlights] + [r.text for r in summary.risks]
    assert (
        "16 documents posted to payables." in texts
        and "Spend posted: 12,450.5 EUR." in texts
        and "7 duplicate records merged." in texts
        and "40 requests routed to a queue." in texts
        and "2 escalated cases taken up by a person." in texts
        and "1 escalated cases closed as not ours." in texts
    )
    assert "40 requests routed to a queue, 10 of them without a person (25.0%)" in sheet.appendix
    assert "| it \\<support\\> | 10 |" in sheet.appendix, "a queue's name is text in the table"
    assert (facts["routed_billing"], facts["routed_it_support"], facts["requests_routed_automatically_share"]) == (
        30,
        10,
        0.25,
    )
    page = render_html(render_markdown("Weekly operations summary", summary, sheet), "Weekly operations summary")
    assert "<b>Ltd</b>" not in page and 'href="http://x.example"' not in page and page.count("<img ") == 1
