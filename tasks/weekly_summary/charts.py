"""The summary's pictures as PNG bytes: the volume and backlog trend, SLA breaches per week, and
the agents' approval and correction rates. People look at a trend; they do not read one."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: charts are files and artifacts

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from opsgate import AgentMetrics  # noqa: E402
from tasks.weekly_summary.facts import WeekFacts  # noqa: E402


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def volume_chart(facts: WeekFacts) -> bytes:
    weeks = [p.week[5:] for p in facts.history]
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.plot(weeks, [p.opened for p in facts.history], marker="o", label="opened")
    axis.plot(weeks, [p.closed for p in facts.history], marker="o", label="closed")
    axis.plot(weeks, [p.backlog_end for p in facts.history], marker="s", linestyle="--", label="backlog at week end")
    axis.set_title(f"Volume and backlog, {facts.history[0].week} to {facts.week} ({facts.timezone})")
    axis.set_ylabel("events")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)
    return _png(figure)


def sla_chart(facts: WeekFacts) -> bytes:
    weeks = [p.week[5:] for p in facts.history]
    breaches = [p.sla_breaches for p in facts.history]
    figure, axis = plt.subplots(figsize=(7, 2.8))
    colours = ["#c0392b" if w == facts.week[5:] else "#95a5a6" for w in weeks]
    axis.bar(weeks, breaches, color=colours)
    axis.set_title("SLA breaches per week (due in the week, not closed by the due time)")
    axis.set_ylabel("breaches")
    axis.grid(axis="y", alpha=0.3)
    return _png(figure)


def agent_chart(rows: list[AgentMetrics]) -> bytes:
    labels = [f"{r.workflow}\n{r.case_type}" for r in rows]
    positions = range(len(rows))
    figure, axis = plt.subplots(figsize=(7, 3.2))
    width = 0.38
    axis.bar([p - width / 2 for p in positions], [100 * (r.approval_rate or 0) for r in rows], width, label="approved")
    axis.bar(
        [p + width / 2 for p in positions],
        [100 * (r.correction_rate or 0) for r in rows],
        width,
        label="corrected before approval",
    )
    axis.set_xticks(list(positions), labels, fontsize="small")
    axis.set_ylim(0, 100)
    axis.set_ylabel("% of decided cases")
    axis.set_title("Agents: approval and correction rates")
    axis.legend(loc="lower right", fontsize="small")
    return _png(figure)
