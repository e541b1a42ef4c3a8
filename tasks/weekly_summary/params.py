"""What a run of the weekly-summary workflow takes: the CLI's options and the Prefect UI's form."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class SummaryParams(BaseModel):
    week: str | None = Field(
        None,
        pattern=r"^\d{4}-?[Ww]\d{2}$",
        description="ISO week, e.g. 2026-W47. Default: the last full week in the time zone.",
    )
    events: Path | None = Field(
        None,
        description="Events as CSV or Parquet (id, opened, closed, category, priority, owner, due). Default: the policy's settings.events.",
    )
    tz: str | None = Field(None, description="IANA time zone of the week. Default: the policy's settings.timezone.")
