"""The policy file's model: what one workflow may read and write, who approves, when to escalate.

This model is the policy's only schema (``opsgate policy schema`` prints its JSON Schema). The
validators encode the rules that make a policy safe to load: every write has an approval rule
and an undo, and names a write the executor knows.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from opsgate.writers import WRITERS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    FORBIDDEN = "forbidden"


class ApprovalRule(StrEnum):
    ALWAYS = "always"  # a person approves every action, whatever the case type's autonomy
    BY_AUTONOMY = "by_autonomy"  # a person approves unless the case type's autonomy is `auto`


class Autonomy(StrEnum):
    SHADOW = "shadow"  # propose and record only; never write
    REVIEWED = "reviewed"  # propose; write after a person approves
    AUTO = "auto"  # write without a person where the tool's approval rule allows it


class Tool(Strict):
    access: Access
    description: str = ""
    approval: ApprovalRule | None = None
    undo: str | None = None
    logged: bool = True
    values: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "A write's fields held to the values listed, e.g. queue: [billing, it-support]: a proposal, or an "
            "approver's edit, with another value is escalated as out of policy, never written."
        ),
    )

    @model_validator(mode="after")
    def _write_is_governed(self) -> Self:
        if self.access is Access.WRITE:
            if self.approval is None:
                raise ValueError("a write needs an approval rule (approval: always | by_autonomy)")
            if not self.undo:
                raise ValueError("a write needs an undo (undo: <tool that takes it back>)")
        elif self.approval is not None or self.undo is not None or self.values:
            raise ValueError(
                f"approval, undo and values apply to writes only; this tool's access is {self.access.value!r}"
            )
        if any(not allowed for allowed in self.values.values()):
            raise ValueError("a field in values needs at least one value")
        return self


class Owner(Strict):
    name: str = Field(min_length=1)
    contact: str = Field(min_length=1, description="E-mail or channel that receives escalations.")


class MissingData(Strict):
    fields: list[str] = Field(min_length=1, description="Fields a proposal cannot be made without.")


class LowConfidence(Strict):
    below: float = Field(gt=0, le=1, description="Escalate when a required field's confidence is below this.")


class HighValue(Strict):
    field: str = Field(
        description="A payload field holding an amount, e.g. total; a dotted path reaches into nested values, e.g. values.credit_limit."
    )
    above: Decimal = Field(gt=0)


class RepeatedFailure(Strict):
    after: int = Field(ge=1, description="Escalate the source after this many failed runs.")


class Enabled(Strict):
    """A rule with no parameters: present means on."""


class EscalationRules(Strict):
    missing_data: MissingData | None = None
    possible_duplicate: Enabled | None = None
    tool_failure: Enabled | None = None
    out_of_policy: Enabled = Field(
        default_factory=Enabled, description="Always on: an action outside the policy escalates."
    )
    low_confidence: LowConfidence | None = None
    high_value: HighValue | None = None
    repeated_failure: RepeatedFailure | None = None
    quarantine: RepeatedFailure | None = Field(
        default=None,
        description="Move a source aside (a hidden .quarantine folder beside it), audited, before it is read again once it failed this many times.",
    )


class Logging(Strict):
    store_documents: bool = Field(
        default=True,
        description="Keep what documents say in the audit log: the proposed and the executed actions' values and what they were read from. "
        "When false the log keeps their digests only (enough to verify, nothing to read); the cases and the systems of record still hold the values.",
    )
    retention_days: int = Field(default=3650, gt=0)


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Channel(Strict):
    """A webhook that receives a workflow's messages (published reports, approval notices).

    Webhook URLs often carry their token in the path, so the URL can live in an environment
    variable instead of the policy file, which is versioned and shown in the audit."""

    kind: Literal["webhook", "slack"] = Field(
        description=(
            "webhook: a generic JSON POST; slack: a Slack-compatible incoming webhook "
            "(Slack, Mattermost, Rocket.Chat, Teams' Slack-compatible connectors)."
        )
    )
    url: str | None = Field(
        None, description="The webhook's http(s) URL; use url_env instead when the URL carries a token."
    )
    url_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable that holds the webhook URL."
    )
    secret_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the key that signs each body (HMAC-SHA256, header X-Opsgate-Signature: sha256=<hex>); webhook only.",
    )
    timeout: float = Field(10, gt=0, description="Seconds one attempt may take.")
    attempts: int = Field(
        3, ge=1, le=10, description="Tries per message; connection errors, timeouts, 408, 429 and 5xx are retried."
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError("a channel's url must start with http:// or https:// and name a host")
        return value

    @model_validator(mode="after")
    def _one_url_and_signing_for_webhooks(self) -> Self:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(
                "a channel needs exactly one of url (the URL itself) or url_env (the environment variable that holds it)"
            )
        if self.kind == "slack" and self.secret_env is not None:
            raise ValueError(
                "secret_env applies to kind webhook only: Slack-compatible webhooks check no signature (keep their URL secret with url_env)"
            )
        return self


_SINGULAR = {"channels": "channel", "mailboxes": "mailbox"}
FOLDER = r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$"


class Mailbox(Strict):
    """An IMAP mailbox the workflow takes its inputs from (``opsgate run ... --mailbox NAME``).

    The password lives in an environment variable, never in the policy file. Messages stay in
    ``folder`` until their case ends, then move to ``done_folder``; a message opsgate refuses (too
    large, nothing in it the workflow reads) moves to ``refused_folder`` with its reason recorded."""

    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535, description="Defaults to 993 for ssl, 143 for starttls.")
    security: Literal["ssl", "starttls"] = Field(
        "ssl", description="ssl: TLS from the first byte (IMAPS); starttls: plain connection upgraded before login."
    )
    user: str = Field(min_length=1)
    password_env: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable that holds the password."
    )
    ca_file: str | None = Field(
        None, description="PEM file of the certificate authority to trust (a private CA); the system's by default."
    )
    folder: str = Field("INBOX", pattern=FOLDER)
    done_folder: str = Field("Processed", pattern=FOLDER)
    refused_folder: str = Field("Refused", pattern=FOLDER)
    timeout: float = Field(30, gt=0, description="Seconds any one exchange with the server may take.")
    max_messages: int = Field(500, ge=1, description="Messages taken per run; the rest wait for the next.")

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port or (993 if self.security == 'ssl' else 143)}"


ANY_CASE = "*"
UNDO_CASE = "undo"  # the case type of taking an executed write back
AUTONOMY_CASE = "autonomy"  # the case type of promoting a case type to `auto`
RELEASE_CASE = "release"  # the case type of letting a new instruction version go live
PLATFORM_CASES = frozenset(
    {UNDO_CASE, AUTONOMY_CASE, RELEASE_CASE}
)  # always decided by a person; approver groups may name them
AUTONOMY_TOOL = "autonomy.grant"
RELEASE_TOOL = "instructions.release"


class ApproverGroup(Strict):
    members: list[str] = Field(
        default_factory=list, description="Names as approvers enter them (case does not matter)."
    )
    directory_groups: list[str] = Field(
        default_factory=list,
        description="Groups of the team's identity provider (the OpenID Connect token's groups claim, or the "
        "authenticating proxy's groups header) whose members belong to this group when they sign in to the "
        "review screen. A typed name never carries a group.",
    )
    case_types: list[str] = Field(
        default_factory=lambda: [ANY_CASE], description="Case types this group may decide on; '*' for all."
    )

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if not self.members and not self.directory_groups:
            raise ValueError("an approver group needs members or directory_groups: otherwise nobody is in it")
        return self


class FourEyes(Strict):
    """Cases that need two different people to approve the same action (neither the run's requester)."""

    case_type: str = Field(ANY_CASE, description="The case type this rule covers; '*' for all.")
    field: str | None = Field(None, description="With `above`: only when this payload field's value is above it.")
    above: Decimal | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _field_and_amount(self) -> Self:
        if (self.field is None) != (self.above is None):
            raise ValueError("field and above go together: four-eyes above an amount needs both")
        return self


class Threshold(Strict):
    field: str = Field(
        description="A payload field holding an amount, e.g. total; a dotted path reaches into nested values, e.g. values.credit_limit."
    )
    amount: Decimal


class CaseType(Strict):
    """A case type defined as data: the cases of the workflow's own type `refines` that meet every
    condition given. The first definition (in file order) a case meets is its case type; autonomy,
    approver groups, four eyes and metrics then apply to it."""

    refines: str = Field(description="The workflow's own case type this one narrows, e.g. invoice.")
    description: str = ""
    below: Threshold | None = Field(None, description="The field's value (absolute) is below the amount.")
    above: Threshold | None = Field(None, description="The field's value (absolute) is above the amount.")
    min_confidence: float | None = Field(
        None, gt=0, le=1, description="Every extracted field's confidence is at least this."
    )
    context: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        description="Facts the workflow states about the case, e.g. vendor_known: true; each must be equal.",
    )


class EarnedAutonomy(Strict):
    """When a `reviewed` case type may be promoted to `auto` (the owner approves the promotion), and
    when opsgate takes it back on its own (an incident, a correction, tool errors)."""

    after_cases: int = Field(
        50, ge=1, description="Cases people decided (approved or rejected) in the window, at least."
    )
    window_days: int = Field(30, ge=1)
    min_approval_rate: float = Field(0.98, ge=0, le=1)
    max_correction_rate: float = Field(0.01, ge=0, le=1)
    max_tool_error_rate: float = Field(
        0.02, ge=0, le=1, description="Above this, in the window, an `auto` case type goes back to `reviewed`."
    )
    never_above: Threshold | None = Field(
        None, description="Even in `auto`, a case above this amount goes to a person."
    )


class GoLive(Strict):
    """Which instruction versions may propose live. A case a version outside these proposes is
    shadowed: recorded, compared later, never written. A new version goes live by a release the
    owner approves at the gate, proposed only from a replay that agrees with what people did."""

    released: list[str] = Field(
        min_length=1,
        description="Versions live by this file, exactly as proposals carry them (rules-v1, einvoice-xml, extract_invoice.v1+3f2a9c1d).",
    )
    min_agreement: float = Field(
        0.98,
        ge=0,
        le=1,
        description="The replay's agreement with the approved actions a version needs before its release is proposed.",
    )
    replay_days: int = Field(90, ge=1, description="How far back the replay behind a release reads past cases.")


class ApprovalRules(Strict):
    groups: dict[str, ApproverGroup] = Field(
        default_factory=dict,
        description="Who may decide on which case types. Without groups, anyone who can reach the gate may decide.",
    )
    four_eyes: list[FourEyes] = Field(default_factory=list)
    deadline_minutes: float | None = Field(
        None, gt=0, description="How long a run waits for decisions; the OPSGATE_APPROVAL_TIMEOUT setting when unset."
    )
    remind_before_minutes: float | None = Field(
        None, gt=0, description="Send a reminder this long before the deadline."
    )
    notify: list[str] = Field(
        default_factory=list,
        description="Channels told when a run waits for approval, reminded before the deadline, and told when it passes.",
    )
    identity: Literal["typed", "verified"] = Field(
        "typed",
        description="How sure opsgate must be of who approves. `typed`: the approver's name is taken as typed "
        "(today's behaviour, for a pilot). `verified`: an answer is refused unless its approver was authenticated "
        "(a local account's password, `opsgate users`); answers from the Prefect UI form are typed, so refused.",
    )


def unknown_writes(tools: object) -> list[str]:
    """Writes the executor does not know, or undone by the wrong tool. Works on raw YAML data too,
    so the loader can report these alongside field errors (pydantic skips model checks then)."""
    problems: list[str] = []
    if not isinstance(tools, dict):
        return problems
    for name, tool in tools.items():
        if not isinstance(tool, dict) or tool.get("access") != Access.WRITE.value:
            continue
        writer = WRITERS.get(name)
        if writer is None:
            problems.append(
                f"tools.{name}: the executor knows no write called {name!r} (known: {', '.join(sorted(WRITERS))})"
            )
        else:
            if tool.get("undo") and tool.get("undo") != writer.undo_tool:
                problems.append(
                    f"tools.{name}.undo: {name} is taken back by {writer.undo_tool!r}, not {tool.get('undo')!r}"
                )
            problems += [
                f"tools.{name}.values: {name}'s action has no field {field!r} (fields: {', '.join(writer.payload_model.model_fields)})"
                for field in tool.get("values") or {}
                if field not in writer.payload_model.model_fields
            ]
    return problems


class PolicyFile(Strict):
    """What people write in ``policies/<workflow>.yaml``, checked whole on load (the runtime's
    questions of it are ``opsgate.policy.runtime.Policy``)."""

    model_config = ConfigDict(title="Policy")

    workflow: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    description: str = ""
    owner: Owner
    instruction_version: str = Field(min_length=1, description="Version of the rules or prompt that propose.")
    tools: dict[str, Tool] = Field(min_length=1)
    autonomy: dict[str, Autonomy] = Field(min_length=1, description="Autonomy mode per case type.")
    escalation: EscalationRules = Field(default_factory=EscalationRules)
    logging: Logging = Field(default_factory=Logging)
    manual_minutes: float | None = Field(
        None, gt=0, description="Minutes a person spends on one case by hand: time saved is executed cases times this."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="The workflow's own settings (thresholds, rules), checked against the settings model its spec names.",
    )
    channels: dict[str, Channel] = Field(
        default_factory=dict,
        description="Where the workflow's messages go, by name (lower case letters, digits, '-' and '_'; starts with a letter).",
    )
    mailboxes: dict[str, Mailbox] = Field(
        default_factory=dict,
        description="IMAP mailboxes the workflow may take its inputs from, by name (as channels are named).",
    )
    case_types: dict[str, CaseType] = Field(
        default_factory=dict,
        description="Case types defined as data, narrowing the workflow's own (e.g. invoices under 500 from known vendors).",
    )
    earned_autonomy: dict[str, EarnedAutonomy] = Field(
        default_factory=dict,
        description="Per case type: the evidence that earns `auto`, and what takes it back. Needs the autonomy.grant write.",
    )
    approvals: ApprovalRules = Field(
        default_factory=ApprovalRules,
        description="Approver groups, four-eyes rules, the deadline, reminders and who is told.",
    )
    go_live: GoLive | None = Field(
        None,
        description=(
            "The instruction versions that may propose live, and what a new one must show to "
            "be released. Without it, every version may. Needs the instructions.release write."
        ),
    )
    _file_digest: str = PrivateAttr(default="")

    @property
    def fingerprint(self) -> str:
        """Version plus a digest of the file: an edit without a version bump still shows in the audit."""
        return f"{self.version}+{self._file_digest[:12]}" if self._file_digest else self.version

    @field_validator("channels", "mailboxes")
    @classmethod
    def _names(cls, named: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        bad = [name for name in named if not re.fullmatch(r"[a-z][a-z0-9_-]*", name)]
        if bad:
            raise ValueError(
                f"{_SINGULAR[info.field_name]} names are lower case letters, digits, '-' and '_', starting with a letter; not {', '.join(map(repr, bad))}"
            )
        return named

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Every part that refers to another refers to something this policy has: all problems at once."""
        problems = unknown_writes({name: tool.model_dump(mode="json") for name, tool in self.tools.items()})
        problems += (
            self._case_type_problems()
            + self._earned_autonomy_problems()
            + self._go_live_problems()
            + self._approval_problems()
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _case_type_problems(self) -> list[str]:
        problems = [
            f"case_types.{name}: it has no autonomy rule; add one under autonomy"
            for name in self.case_types
            if name not in self.autonomy
        ]
        return problems + [
            f"case_types.{name}.refines: {spec.refines!r} has no autonomy rule in this policy"
            for name, spec in self.case_types.items()
            if spec.refines not in self.autonomy
        ]

    def _earned_autonomy_problems(self) -> list[str]:
        problems = [
            f"earned_autonomy.{name}: it has no autonomy rule"
            for name in self.earned_autonomy
            if name not in self.autonomy
        ]
        grant = self.tools.get(AUTONOMY_TOOL)
        if self.earned_autonomy and (
            grant is None or grant.access is not Access.WRITE or grant.approval is not ApprovalRule.ALWAYS
        ):
            problems.append(
                (
                    "earned_autonomy: promotions are writes the owner approves; declare "
                    f"{AUTONOMY_TOOL} with access: write, approval: always, undo: autonomy.revoke"
                )
            )
        return problems

    def _go_live_problems(self) -> list[str]:
        release = self.tools.get(RELEASE_TOOL)
        if self.go_live and (
            release is None or release.access is not Access.WRITE or release.approval is not ApprovalRule.ALWAYS
        ):
            return [
                (
                    "go_live: releasing a version is a write the owner approves; declare "
                    f"{RELEASE_TOOL} with access: write, approval: always, undo: instructions.withdraw"
                )
            ]
        return []

    def _approval_problems(self) -> list[str]:
        rules, problems = self.approvals, []
        for name in rules.notify:
            if name not in self.channels:
                problems.append(f"approvals.notify: {name!r} is not among the policy's channels")
        cases = {*self.autonomy, ANY_CASE, *PLATFORM_CASES}
        named = [
            (f"approvals.groups.{group}", case) for group, spec in rules.groups.items() for case in spec.case_types
        ]
        named += [(f"approvals.four_eyes[{i}]", rule.case_type) for i, rule in enumerate(rules.four_eyes)]
        problems += [
            f"{where}: case type {case!r} has no autonomy rule in this policy"
            for where, case in named
            if case not in cases
        ]
        if (
            rules.remind_before_minutes
            and rules.deadline_minutes
            and rules.remind_before_minutes >= rules.deadline_minutes
        ):
            problems.append("approvals.remind_before_minutes: the reminder must come before the deadline")
        return problems
