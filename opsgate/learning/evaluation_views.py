"""The shadow evaluation as people read it: a headline, tables for the terminal and for Markdown,
and a chart of per-field agreement (the same rows everywhere). The rows hold what the outcomes file
and the cases say (sources, details, values): the Markdown escapes every cell and the headline
(``display.markdown_text``), the terminal shows them with ``display.terminal_text``."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from opsgate.display import markdown_text
from opsgate.learning.evaluation import EvaluationReport, Tally


@dataclass
class ReportTable:
    """One table of the report, as text: the terminal and the Markdown artifact render the same rows."""

    title: str
    columns: list[str]
    rows: list[list[str]]


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _amounts(at_stake: dict[str, Decimal]) -> str:
    return (
        ", ".join(
            f"{amount} record{'' if amount == 1 else 's'}" if unit == "records" else f"{unit} {amount}"
            for unit, amount in at_stake.items()
        )
        or "-"
    )


def _name(source: str) -> str:
    return Path(source).name or source


def headline(report: EvaluationReport) -> str:
    o = report.overall
    return (
        f"{report.workflow}: {o.cases} shadow cases from {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC against {report.outcomes_file}; "
        f"compared: {o.compared}, without an outcome: {o.without_outcome}, outcomes without a proposal: {len(report.outcomes_without_proposal)}, "
        f"rows not used: {len(report.problems)}.\nActions agree: {_percent(o.action_agreement_rate)} (exactly: {_percent(o.exact_rate)}); "
        f"wrong actions: {o.wrong_actions} (at stake: {_amounts(o.at_stake)}); should have been escalated: {o.should_have_escalated}; "
        f"left to people who then wrote: {o.missed_actions}."
    )


def _summary_row(case_type: str, version: str, t: Tally, counted: list[str]) -> list[str]:
    return [
        case_type,
        version,
        str(t.cases),
        str(t.compared),
        str(t.without_outcome),
        _percent(t.action_agreement_rate),
        _percent(t.exact_rate),
        str(t.wrong_actions),
        _amounts(t.at_stake),
        str(t.should_have_escalated),
        str(t.missed_actions),
        *(str(t.counts.get(name, 0)) for name in counted),
    ]


def report_tables(report: EvaluationReport) -> list[ReportTable]:
    """The summary per case type and version, agreement per field, the tools, the wrong actions, and the outcomes and rows left over."""
    counted = list(report.overall.counts)
    summary = ReportTable(
        "per case type and instruction version",
        [
            "case type",
            "version",
            "cases",
            "compared",
            "no outcome",
            "action agrees",
            "exact",
            "wrong actions",
            "at stake",
            "should have escalated",
            "missed",
            *(name.replace("_", " ") for name in counted),
        ],
        [
            *(_summary_row(g.case_type, g.instruction_version, g, counted) for g in report.groups),
            *([_summary_row("all", "", report.overall, counted)] if len(report.groups) > 1 else []),
        ],
    )
    names = [f.field for f in report.overall.fields]
    by_group = [{f.field: f for f in g.fields} for g in report.groups]
    fields = ReportTable(
        "agreement per field (agreed / compared)",
        ["field", *(f"{g.case_type} / {g.instruction_version}" for g in report.groups)],
        [
            [
                name,
                *(
                    f"{f.agreed}/{f.compared} ({_percent(f.rate)})" if (f := found.get(name)) else "-"
                    for found in by_group
                ),
            ]
            for name in names
        ],
    )
    tools = ReportTable(
        "tools the agent used or proposed (cases)",
        ["tool", *(f"{g.case_type} / {g.instruction_version}" for g in report.groups)],
        [[tool, *(str(g.tools.get(tool, 0)) for g in report.groups)] for tool in report.overall.tools],
    )
    wrong = ReportTable(
        "wrong actions",
        ["source", "case type", "version", "what", "at stake"],
        [
            [_name(w.source), w.case_type, w.instruction_version, w.what, _amounts({w.unit: w.cost})]
            for w in report.wrong_actions
        ],
    )
    unmatched = ReportTable(
        "outcomes without a proposal",
        ["outcome", "detail"],
        [[o.where, o.detail] for o in report.outcomes_without_proposal],
    )
    problems = ReportTable("rows not used", ["row", "reason"], [[p.where, p.detail] for p in report.problems])
    return [summary, fields, tools, wrong, unmatched, problems]


def markdown_table(table: ReportTable) -> Iterable[str]:
    yield f"## {table.title}"
    yield ""
    if not table.rows:
        yield "none"
        return
    yield "| " + " | ".join(map(markdown_text, table.columns)) + " |"
    yield "|" + "---|" * len(table.columns)
    yield from ("| " + " | ".join(map(markdown_text, row)) + " |" for row in table.rows)


def markdown(report: EvaluationReport, chart: bytes | None = None) -> str:
    """The report as Markdown, with the per-field chart inline (a data URI: an artifact has no files)."""
    tables = report_tables(report)
    lines = [f"# {report.workflow}: shadow evaluation", "", markdown_text(headline(report)), ""]
    for table in tables:
        lines += [*markdown_table(table), ""]
        if table is tables[1] and chart is not None:
            lines += [f"![agreement per field](data:image/png;base64,{base64.b64encode(chart).decode()})", ""]
    lines += ["## rules", "", *(f"- {rule}" for rule in report.rules)]
    return "\n".join(lines)


def agreement_chart(report: EvaluationReport) -> bytes:
    """Per-field agreement as bars, one colour per case type and version, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the chart is an artifact
    import matplotlib.pyplot as plt

    names = [f.field for f in report.overall.fields]
    figure, axis = plt.subplots(figsize=(7, 1.6 + 0.45 * max(len(names), 1)))
    height = 0.8 / max(len(report.groups), 1)
    for i, group in enumerate(report.groups):
        rates = {f.field: f.rate for f in group.fields}
        axis.barh(
            [n + i * height for n in range(len(names))],
            [100 * (rates.get(name) or 0) for name in names],
            height,
            label=f"{group.case_type} / {group.instruction_version}",
        )
    axis.set_yticks([n + height * (len(report.groups) - 1) / 2 for n in range(len(names))], names, fontsize="small")
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of compared cases where the agent's value agrees")
    axis.set_title(f"{report.workflow}: agreement per field with what people did")
    if report.groups and names:
        axis.legend(loc="lower right", fontsize="small")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
