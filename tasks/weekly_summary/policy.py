"""The weekly summary's `settings` in its policy file: where the events come from, which time zone
the week is in, and where a published report is posted. Loaded with the workflow's spec, so it
imports no heavy library."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


def zone(name: str) -> ZoneInfo:
    """The IANA time zone, or a ValueError that says what to give instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is unknown; use an IANA name like Europe/Berlin or UTC") from None


class SummarySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("Weekly operations summary", min_length=1, max_length=200)
    timezone: str = Field(
        "UTC", description="IANA time zone of the week's bounds and of event times without an offset."
    )
    events: Path | None = Field(
        None,
        description="The events file (CSV or Parquet) a scheduled run reads; without one the summary covers opsgate's own store.",
    )
    publish_to: list[str] = Field(
        default_factory=list, description="Channels (the policy's `channels`) a published report is posted to."
    )
    top_vendors: int = Field(5, ge=1, le=50, description="Vendors listed by spend, per currency.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("publish_to")
    @classmethod
    def _channels_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """With the whole policy in the context (the loader passes it), every channel must be defined there."""
        policy = (info.context or {}).get("policy")
        missing = [name for name in value if name not in ((policy or {}).get("channels") or {})]
        if policy is not None and missing:
            raise ValueError(
                f"{', '.join(map(repr, missing))} is not among the policy's channels ({', '.join(policy.get('channels') or {}) or 'none defined'})"
            )
        return value
