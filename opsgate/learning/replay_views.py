"""A replay as people read it: the same tables in the terminal and in the release run's artifact
(sources, values and reasons escaped there by ``evaluation_views.markdown_table``)."""

from __future__ import annotations

from opsgate.display import markdown_text
from opsgate.learning.evaluation_views import ReportTable, markdown_table
from opsgate.learning.replay import ReplayReport


def headline(report: ReplayReport) -> str:
    originals = ", ".join(f"{v} ({n})" for v, n in report.original_versions.items()) or "none"
    return (
        f"{report.workflow}: {report.version} replayed on {report.replayed} of {report.cases} cases since {report.since:%Y-%m-%d %H:%M} UTC; "
        f"originally {originals}; routed by {report.policy}"
    )


def replay_tables(report: ReplayReport) -> list[ReportTable]:
    """Agreement per field, then each list of cases that end differently, then the inputs not replayed; empty ones left out."""

    def cases(title: str, listed: list) -> ReportTable:  # type: ignore[type-arg]
        return ReportTable(
            title, ["source", "originally", "now", "why"], [[c.source, c.original, c.new, c.detail] for c in listed]
        )

    found = [
        ReportTable(
            "Agreement with the approved actions",
            ["field", "agreed", "compared", "rate"],
            [
                [f.field, str(f.agreed), str(f.compared), "-" if f.rate is None else f"{f.rate:.1%}"]
                for f in report.fields
            ],
        ),
        ReportTable(
            "Changed actions",
            ["source", "field", "approved", "new"],
            [[c.source, c.field, str(c.final), str(c.new)] for c in report.changed],
        ),
        cases("Would write where people rejected", report.wrong),
        cases("Would not write where people wrote", report.missed),
        cases("New failures", report.new_failures),
        cases("Would write where the original escalated or failed", report.now_writes),
        ReportTable(
            "Inputs no longer available as they were",
            ["source", "reason"],
            [[u.source, u.reason] for u in report.unavailable],
        ),
    ]
    return [table for table in found if table.rows]


def markdown(report: ReplayReport) -> str:
    lines = [
        f"# {report.workflow}: replay of {markdown_text(report.version)}",
        "",
        markdown_text(headline(report)),
        "",
        f"**{report.verdict}**",
        "",
    ]
    for table in replay_tables(report):
        lines += [*markdown_table(table), ""]
    return "\n".join([*lines, "## rules", "", *(f"- {rule}" for rule in report.rules)])
