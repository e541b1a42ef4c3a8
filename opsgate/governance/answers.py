"""What an approver's answer may carry: who answers, for which batch, and one review per proposal.

The form the Prefect UI shows (``orchestration.form``) and the CLI fill these models, and
``review.record`` validates every answer against them again, whichever way it arrived.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from opsgate.settings import MAX_PAGE

# What an answer may carry, bounded where it is declared: Prefect's server checks a resume against
# the form's JSON schema (these limits included), and ``record`` validates again before anything is
# written, because an answer can be sent to the API without the form. Names and reasons refuse
# control characters and bidirectional overrides, which could disguise what a reader sees.
_HIDDEN = "\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=f"^[^{_HIDDEN}\\t\\n]+$")
]
Reason = Annotated[str, StringConstraints(max_length=2000, pattern=f"^[^{_HIDDEN}]*$")]
ProposalId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
MAX_FIELDS = 200


class Review(BaseModel):
    """One proposal's decision. ``fields`` arrives pre-filled with the proposed action: changing a
    value approves the corrected action and records the change as a correction (``edit`` says so
    explicitly; an ``approve`` with changed values is the same decision)."""

    proposal_id: ProposalId
    source: str = Field(default="", max_length=2000)
    decision: Literal["approve", "edit", "reject"] = "approve"
    reason: Reason = Field(default="", description="Required when rejecting.")
    fields: dict[Annotated[str, StringConstraints(max_length=100)], Any] = Field(
        default_factory=dict, max_length=MAX_FIELDS
    )


class ApprovalAnswer(BaseModel):
    approver: Name = Field(description="Your name: recorded as the approver of this batch.")
    batch_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Identifies the exact batch shown; leave as it is."
    )
    reviews: list[Review] = Field(max_length=MAX_PAGE)
