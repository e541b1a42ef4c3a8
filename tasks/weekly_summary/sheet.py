"""The week's fact sheet: the flat facts a summary may state, and the report's fixed part (tables
and charts) rendered from them before anyone drafts a word."""

from __future__ import annotations

from typing import Any

from opsgate import Chart, FactSheet, markdown_text
from tasks.weekly_summary.charts import agent_chart, sla_chart, volume_chart
from tasks.weekly_summary.facts import Figures, WeekFacts, flat
from tasks.weekly_summary.operations import OperationsFacts, operations_flat
from tasks.weekly_summary.workflow import WORKFLOW

_FIGURES = {
    "opened": "opened",
    "closed": "closed",
    "backlog_end": "open at week end",
    "sla_breaches": "SLA breaches",
    "cycle_time_p50_hours": "cycle time p50 (h)",
    "cycle_time_p90_hours": "cycle time p90 (h)",
}


def _n(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,}"


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}", *(f"| {' | '.join(row)} |" for row in rows), ""]


def _breakdown(title: str, groups: dict[str, Figures]) -> list[str]:
    rows = [
        [
            markdown_text(name),
            _n(f.opened),
            _n(f.closed),
            _n(f.backlog_end),
            _n(f.sla_breaches),
            _n(f.cycle_time_p50_hours),
        ]
        for name, f in groups.items()
    ]
    return [
        f"#### By {title}",
        "",
        *_table([title, "opened", "closed", "open at week end", "SLA breaches", "p50 (h)"], rows),
    ]


def _tickets(facts: WeekFacts, skipped: int) -> list[str]:
    rows = [
        [label, _n(getattr(facts, key)), _n(getattr(facts.previous, key)), _n(facts.changes.get(key))]
        for key, label in _FIGURES.items()
    ]
    lines = [
        f"### Tickets and requests, {facts.week} ({markdown_text(facts.timezone)})",
        "",
        *_table(["figure", facts.week, "week before", "change"], rows),
    ]
    for anomaly in facts.anomalies:
        lines.append(
            (
                f"- Unusual: {_FIGURES[anomaly.figure]} {_n(anomaly.value)} against "
                f"{_n(anomaly.baseline_mean)} ± {_n(anomaly.baseline_std)} over the 8 weeks before."
            )
        )
    lines += ["", "{{chart:volume}}", "", "{{chart:sla}}", ""]
    lines += _breakdown("category", facts.by_category) + _breakdown("priority", facts.by_priority)
    lines.append(
        f"{_n(facts.events)} events used"
        + (f"; {_n(skipped)} rows skipped as unusable (listed in the run)." if skipped else ".")
    )
    return [*lines, ""]


def _requests(ops: OperationsFacts) -> list[str]:
    """Request triage's week: tickets opened per queue, and how many went without a person."""
    if not (ops.requests_routed or ops.tickets_withdrawn):
        return []
    lines = [
        "### Requests",
        "",
        f"{_n(ops.requests_routed)} requests routed to a queue, {_n(ops.requests_routed_automatically)} of them "
        f"without a person ({_pct(ops.requests_routed_automatically / ops.requests_routed if ops.requests_routed else None)}); "
        f"{_n(ops.tickets_withdrawn)} of this week's tickets withdrawn since.",
        "",
    ]
    rows = [[markdown_text(queue), _n(count)] for queue, count in ops.routed_by_queue.items()]
    return lines + (_table(["queue", "tickets"], rows) if rows else [])


def _operations(ops: OperationsFacts) -> list[str]:
    lines = ["### Invoices and spend", ""]
    lines.append(
        f"{_n(ops.invoices_posted)} documents posted to payables, {_n(ops.postings_reversed)} of this week's postings reversed since."
    )
    lines.append("")
    if ops.spend_by_vendor:
        rows = [
            [markdown_text(v.vendor), markdown_text(v.currency), _n(v.documents), _n(v.total)]
            for v in ops.spend_by_vendor
        ]
        rows += [
            ["**all vendors**", markdown_text(currency), "", f"**{_n(total)}**"]
            for currency, total in sorted(ops.spend_total.items())
        ]
        lines += _table(["vendor", "currency", "documents", "total"], rows)
    lines += _requests(ops)
    lines += [
        "### Duplicate records",
        "",
        f"{_n(ops.records_flagged)} merges proposed; {_n(ops.records_merged)} records merged into a survivor.",
        "",
    ]
    if ops.agents:
        rows = [
            [
                markdown_text(a.workflow),
                markdown_text(a.case_type),
                _n(a.cases),
                _n(a.executed),
                _pct(a.approval_rate),
                _pct(a.correction_rate),
                _pct(a.escalation_rate),
                _pct(a.tool_error_rate),
                _n(a.time_saved_minutes),
            ]
            for a in ops.agents
        ]
        header = [
            "workflow",
            "case type",
            "cases",
            "written",
            "approved",
            "corrected",
            "escalated",
            "tool errors",
            "minutes saved",
        ]
        lines += ["### Agents", "", *_table(header, rows), "{{chart:agents}}", ""]
    reasons = ", ".join(
        f"{markdown_text(reason)} {_n(count)}" for reason, count in sorted(ops.escalations_by_reason.items())
    )
    lines.append(
        f"People approved {_n(ops.approvals)} and rejected {_n(ops.rejections)} proposals and corrected {_n(ops.corrections)} fields; "
        f"{_n(ops.escalations)} cases went to their owners{f' ({reasons})' if reasons else ''}; "
        f"{_n(ops.undone)} writes were undone and the executor refused {_n(ops.execution_refusals)}; {_n(ops.incidents)} incidents were reported."
    )
    return [*lines, ""]


def fact_sheet(
    title: str, week: str, zone: str, tickets: WeekFacts | None, ops: OperationsFacts, skipped: int
) -> FactSheet:
    """Everything the report states, computed; ``tickets`` is None when no events were given."""
    facts: dict[str, int | float | str | None] = {"week": week, "timezone": zone}
    charts = []
    sections = ["## The week in figures", ""]
    if tickets is not None:
        facts |= flat(tickets) | {"skipped_rows": skipped}
        charts += [
            Chart(name="volume", title="Volume and backlog", png=volume_chart(tickets)),
            Chart(name="sla", title="SLA breaches per week", png=sla_chart(tickets)),
        ]
        sections += _tickets(tickets, skipped)
    facts |= operations_flat(ops)
    if ops.agents:
        charts.append(Chart(name="agents", title="Agents: approval and correction rates", png=agent_chart(ops.agents)))
    sections += _operations(ops)
    detail = {
        "tickets": tickets.model_dump(mode="json") if tickets else None,
        "operations": ops.model_dump(mode="json"),
    }
    return FactSheet(
        workflow=WORKFLOW,
        subject=f"{week} ({zone})",
        facts=facts,
        detail=detail,
        appendix="\n".join(sections),
        charts=charts,
    )
