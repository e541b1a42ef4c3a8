"""What an approver's answer may carry: who answers, for which batch, and one review per proposal.

The form the Prefect UI shows (``orchestration.form``) and the CLI fill these models, and
``review.record`` validates every answer against them again, whichever way it arrived.

What a person fills in is ``AnswerContent``; how the approver was authenticated is not theirs to
say, so it lives only on ``ApprovalAnswer``, set by the channel the answer came through: the form
is built from ``AnswerContent`` and cannot carry it, and an answer received from Prefect (the UI,
or the API without the form) is always ``typed`` (``review.receive``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from opsgate.models import Authentication
from opsgate.settings import MAX_PAGE

if TYPE_CHECKING:
    from opsgate.governance.requests import PendingRequest

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


class AnswerContent(BaseModel):
    """What the approver fills in: their name, the batch, a review per proposal."""

    approver: Name = Field(description="Your name: recorded as the approver of this batch.")
    batch_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Identifies the exact batch shown; leave as it is."
    )
    reviews: list[Review] = Field(max_length=MAX_PAGE)


class ApprovalAnswer(AnswerContent):
    """An answer as it is recorded: the content, and how its channel authenticated the approver."""

    # left out of dumps, which are what the form holds (the run is woken with one): ``recorded`` keeps
    # it. Lost, it falls back to ``typed``, which can only make a verified policy refuse, never accept
    authenticated_by: Authentication = Field(
        "typed", exclude=True, description="Set by the channel the answer came through, never by the person answering."
    )

    approver_groups: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list,
        exclude=True,
        max_length=200,
        description="The identity provider's groups the approver's sign-in vouched for (policy `directory_groups`); set by the channel.",
    )

    def recorded(self) -> dict[str, Any]:
        """The whole answer as JSON, how its approver was authenticated (and the groups that vouched) included."""
        return {
            **self.model_dump(mode="json"),
            "authenticated_by": self.authenticated_by,
            "approver_groups": list(self.approver_groups),
        }


def answer_for(
    request: PendingRequest,
    approver: str,
    rejections: dict[str, str] | None = None,
    edits: dict[str, dict[str, Any]] | None = None,
    authenticated_by: Authentication = "typed",
    approver_groups: Sequence[str] = (),
) -> ApprovalAnswer:
    """A whole page's answer in short: every proposal approved as proposed, except the ``rejections``
    (proposal id: reason) and the ``edits`` (proposal id: changed values). The CLI and the review
    screen's "approve all" both answer so. It is not validated here: ``review.record`` validates
    every answer, whichever way it came, before anything is written."""
    rejections, edits = rejections or {}, edits or {}
    reviews = [
        Review(
            proposal_id=p.id,
            source=p.source,
            decision="reject" if p.id in rejections else "approve",
            reason=rejections.get(p.id, ""),
            fields=edits.get(p.id, {}),
        )
        for p in request.proposals
    ]
    return ApprovalAnswer.model_construct(
        approver=approver,
        batch_digest=request.digest,
        reviews=reviews,
        authenticated_by=authenticated_by,
        approver_groups=list(approver_groups),
    )
