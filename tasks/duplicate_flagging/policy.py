"""The duplicate-flagging workflow's own policy settings: thresholds and survivorship.

They live in the ``settings`` section of policies/duplicate_flagging.yaml, next to the tools,
approvals and autonomy every workflow has, so the people who own the policy also own when a
pair counts as a duplicate and which values a merged record keeps. Plain pydantic: the policy
loader checks them without loading the matching engine.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SurvivorRule(StrEnum):
    """How the record that survives a merge is chosen; rules are tie-breakers in order."""

    SOURCE_PRIORITY = "source_priority"  # the record from the most trusted source system
    MOST_COMPLETE = "most_complete"  # the record with the most non-empty fields
    MOST_RECENT = "most_recent"  # the record changed last


class ValueRule(StrEnum):
    """Where a merged record's value for one column comes from. A blank never wins over a value."""

    SURVIVOR = "survivor"  # the survivor's own value, filled from the others where it is blank
    MOST_RECENT = "most_recent"  # the value of the most recently changed record that has one
    MOST_COMPLETE = "most_complete"  # the longest value: "Acme Widgets GmbH" over "Acme"
    MOST_COMMON = "most_common"  # the value most records agree on
    SOURCE_PRIORITY = "source_priority"  # the value from the most trusted source that has one


class Survivorship(Strict):
    survivor: list[SurvivorRule] = Field(
        default_factory=lambda: [SurvivorRule.MOST_COMPLETE, SurvivorRule.MOST_RECENT],
        min_length=1,
        description="How the surviving record is chosen, in order; a tie left at the end goes to the record loaded first.",
    )
    values: dict[str, ValueRule] = Field(
        default_factory=dict, description="Per column, where the merged record's value comes from."
    )
    default: ValueRule = Field(ValueRule.SURVIVOR, description="The rule for columns not named in `values`.")
    recency_column: str | None = Field(
        None,
        description="A date column that says how recent a record is; without it, when the store last changed the record.",
    )
    source_column: str | None = Field(None, description="The column naming each record's source system.")
    source_priority: list[str] = Field(default_factory=list, description="Source systems, most trusted first.")

    @model_validator(mode="after")
    def _sources_named(self) -> Self:
        uses_source = SurvivorRule.SOURCE_PRIORITY in self.survivor or ValueRule.SOURCE_PRIORITY in {
            self.default,
            *self.values.values(),
        }
        if uses_source and not (self.source_column and self.source_priority):
            raise ValueError(
                "source_priority rules need source_column and source_priority (sources, most trusted first)"
            )
        return self


class DedupePolicy(Strict):
    duplicate_at: float = Field(gt=0, le=1, description="Match probability from which a pair is a duplicate.")
    review_at: float = Field(
        gt=0, le=1, description="Match probability from which a pair goes to a person as a possible duplicate."
    )
    cohesion: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="Mean match probability a cluster's records must reach among themselves; weaker clusters are split.",
    )
    max_cluster_size: int = Field(
        10,
        ge=2,
        description="A cluster larger than this is escalated to the owner instead of proposed: it usually means a shared placeholder value.",
    )
    survivorship: Survivorship = Field(default_factory=Survivorship)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.review_at > self.duplicate_at:
            raise ValueError(f"review_at ({self.review_at}) must not be above duplicate_at ({self.duplicate_at})")
        return self
