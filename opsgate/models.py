"""Domain models shared by every workflow: escalations, proposals, verdicts, decisions, outcomes.

These are plain pydantic models (no database, no Prefect) so that workflows, the policy engine,
the gate and the executor agree on one vocabulary, and unit tests need nothing running.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, Field

from opsgate.integrity import canonical_json, mac


class EscalationReason(StrEnum):
    """Why a case goes to a person outside the normal approval path (the policy's rule names)."""

    MISSING_DATA = "missing_data"
    CONFLICTING_SOURCES = "conflicting_sources"
    POSSIBLE_DUPLICATE = "possible_duplicate"
    TOOL_FAILURE = "tool_failure"
    OUT_OF_POLICY = "out_of_policy"
    LOW_CONFIDENCE = "low_confidence"
    FAILED_CHECK = "failed_check"
    HIGH_VALUE = "high_value"
    REPEATED_FAILURE = "repeated_failure"
    NEEDS_OCR = "needs_ocr"
    APPROVAL_TIMEOUT = "approval_timeout"
    INCIDENT = "incident"
    OUT_OF_SCOPE = "out_of_scope"  # a request that fits none of the workflow's queues


class Escalation(BaseModel):
    """One reason a case needs a person, with the field it concerns when there is one."""

    reason: EscalationReason
    field: str | None = None
    detail: str = ""

    def describe(self) -> str:
        """One line for people: `missing_data (total): total not found in the document`."""
        where = f" ({self.field})" if self.field else ""
        return f"{self.reason}{where}: {self.detail}" if self.detail else f"{self.reason}{where}"


def digest(value: Any) -> str:
    """SHA-256 over the canonical JSON form of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


class Status(StrEnum):
    """Where a case stands. The last six are terminal: every input ends in one of them."""

    PROPOSED = "proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    EXECUTED = "executed"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    SHADOWED = "shadowed"
    EXPIRED = "expired"
    FAILED = "failed"


TERMINAL = frozenset(
    {Status.EXECUTED, Status.REJECTED, Status.ESCALATED, Status.SHADOWED, Status.EXPIRED, Status.FAILED}
)


Authentication = Literal["typed", "password", "oidc", "proxy"]
"""How a person answering was authenticated: ``typed`` (a name, nobody checked it), ``password``
(checked against a local account, ``governance.identity``), ``oidc`` (signed in to the review screen
through the team's OpenID Connect provider) or ``proxy`` (named by an authenticating reverse proxy
the review screen trusts)."""


class TakeUp(BaseModel):
    """Which escalated case a person took up, and who: its proposal goes to a person, whatever the
    case type's autonomy (``policy.engine.route``), and the store refuses a case taken up twice."""

    case: str = Field(min_length=1, max_length=36, description="The escalated case's proposal id.")
    by: str = Field(
        "", max_length=200, description="Who took it up; read back from the store, the answer keeps the name."
    )
    authenticated_by: Authentication = Field(
        "typed",
        description="How who took it up was proven where they asked (the review screen's sign-in, a typed name).",
    )


class TakeUpField(BaseModel):
    """A value a person may choose when taking an escalated case up, as the review screen asks for
    it: what the case proposed first, and the values the policy allows where it lists them."""

    name: str
    value: str = ""  # what the case proposed; empty where it proposed nothing
    choices: list[str] = Field(default_factory=list)  # the values allowed; none: any text
    long: bool = False  # a note: several lines


class Proposal(BaseModel):
    """One input case and the action the agent proposes for it.

    ``tool`` and ``payload`` are empty when the input failed before an action could be proposed
    (``error`` says why); the case is still recorded and ends as ``failed``.
    """

    id: str = Field(default_factory=lambda: str(uuid4()))
    workflow: str
    source: str
    case_type: str
    tool: str | None = None
    payload: dict[str, Any] | None = None
    summary: str = ""
    confidence: dict[str, float] = Field(default_factory=dict)
    escalations: list[Escalation] = Field(default_factory=list)
    notices: list[Escalation] = Field(
        default_factory=list,
        description="Told to the owner without stopping the case: it still goes to the gate (e.g. a template used instead of the model).",
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Facts the workflow established about the case (e.g. vendor_known) that the policy's case types may test.",
    )
    instruction_version: str
    tools_used: list[str] = Field(default_factory=list)
    error: str | None = None
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="What the case was proposed from, as it was: a document's digest, the records' values. Stored with the case; replay reads it again.",
    )
    taken_up: TakeUp | None = Field(
        None,
        description="Set by the platform only, when a person took up an escalated case (`opsgate escalations take`).",
    )

    @property
    def digest(self) -> str | None:
        """What an approval is bound to: this proposal's id, tool and exact payload."""
        return action_digest(self.id, self.tool, self.payload) if self.tool else None


def action_digest(proposal_id: str, tool: str | None, payload: dict[str, Any] | None) -> str:
    """Keyed with the audit key: someone who can rewrite an approved action in the database cannot
    make its digest match again."""
    return mac({"proposal": proposal_id, "tool": tool, "payload": payload})


class Route(StrEnum):
    """What the policy says happens to a proposal next."""

    APPROVE = "approve"  # to the gate: a person decides
    AUTO = "auto"  # to the executor without a person (autonomy `auto`, approval `by_autonomy`)
    SHADOW = "shadow"  # recorded, never executed
    ESCALATE = "escalate"  # to the owner; nothing executes
    FAIL = "fail"  # the input could not be turned into a proposal


class Verdict(BaseModel):
    proposal_id: str
    route: Route
    escalations: list[Escalation] = Field(default_factory=list)
    why: str = Field(
        "",
        description="Why the route, where neither escalations nor the case type's mode say it (a version not released).",
    )


class Decision(BaseModel):
    """A proposal cleared for the executor: by a person's approval, or by an `auto` policy."""

    proposal_id: str
    approval_id: int | None = None


class Outcome(BaseModel):
    proposal_id: str
    source: str
    status: Status
    detail: str = ""
    target: str | None = None


class RunSummary(BaseModel):
    run_id: str
    workflow: str
    counts: dict[str, int]
    outcomes: list[Outcome]
