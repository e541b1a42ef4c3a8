"""The weekly-summary workflow as the platform sees it: its name, parameters, commands and policy
settings (no Prefect import here; the flow loads when a run starts)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from opsgate.workflows import WorkflowSpec
from tasks.weekly_summary.commands import summary
from tasks.weekly_summary.outcomes import compare_outcomes
from tasks.weekly_summary.policy import SummarySettings
from tasks.weekly_summary.replay import replay

WORKFLOW = "weekly_summary"


class SummaryParams(BaseModel):
    week: str | None = Field(None, pattern=r"^\d{4}-?[Ww]\d{2}$", description="ISO week, e.g. 2026-W47. Default: the last full week in the time zone.")
    events: Path | None = Field(None, description="Events as CSV or Parquet (id, opened, closed, category, priority, owner, due). Default: the policy's settings.events.")
    tz: str | None = Field(None, description="IANA time zone of the week. Default: the policy's settings.timezone.")


SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="summary",
    flow="flows.weekly_summary:weekly_summary",
    params_model=SummaryParams,
    summary="The weekly operations summary: figures computed from the events and the store, phrased without inventing one, published after approval.",
    commands=[summary],
    settings_model=SummarySettings,
    compare_outcomes=compare_outcomes,
    replay=replay,
)
