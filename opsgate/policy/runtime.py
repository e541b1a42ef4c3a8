"""The questions the runtime asks of a policy: which case type a case is, who may decide it, whether
it needs four eyes, which writes it allows and what undoes them.

Kept apart from the file's model (``opsgate.policy.schema``) so that what people write and what the
code does with it can be read, and changed, one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from opsgate.policy.schema import (
    ANY_CASE,
    AUTONOMY_CASE,
    AUTONOMY_TOOL,
    RELEASE_CASE,
    RELEASE_TOOL,
    UNDO_CASE,
    Access,
    CaseType,
    PolicyFile,
    Tool,
)


def person(name: str) -> str:
    """A name as people type it, reduced to who it means: case and surrounding spaces do not make another person."""
    return name.strip().casefold()


def same_person(a: str, b: str) -> bool:
    return person(a) == person(b)


def amount_of(payload: dict[str, Any] | None, field: str) -> Decimal | None:
    """The amount at ``field`` in a payload; a dotted path reaches into nested values, such as a
    merged record's ``values.credit_limit``. None when it is missing or not a finite number."""
    value: Any = payload or {}
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    try:
        amount = Decimal(str(value)) if value is not None and value != "" else None
    except (InvalidOperation, ValueError):
        return None
    return amount if amount is not None and amount.is_finite() else None


def covers(
    spec: CaseType,
    case_type: str,
    payload: dict[str, Any] | None,
    confidence: dict[str, float],
    context: dict[str, Any],
) -> bool:
    """Whether a case meets every condition; a missing field or fact never meets one."""
    if case_type != spec.refines:
        return False
    for threshold, below in ((spec.below, True), (spec.above, False)):
        if threshold is None:
            continue
        value = amount_of(payload, threshold.field)
        if value is None or (abs(value) >= threshold.amount if below else abs(value) <= threshold.amount):
            return False
    if spec.min_confidence is not None and (not confidence or min(confidence.values()) < spec.min_confidence):
        return False
    return all(key in context and context[key] == expected for key, expected in spec.context.items())


class Policy(PolicyFile):
    """A workflow's policy: what it may read and write, who approves, when to escalate; as loaded,
    with the questions the gate, the executor and the engine ask of it."""

    def platform_case(self, case_type: str, tool: str | None) -> bool:
        """An undo of one of this policy's writes, a promotion or a release: cases a person always decides."""
        return (case_type == UNDO_CASE and self.undoes(tool)) or any(
            case_type == case and tool == write and tool in self.writes()
            for case, write in ((AUTONOMY_CASE, AUTONOMY_TOOL), (RELEASE_CASE, RELEASE_TOOL))
        )

    def released(self, version: str) -> bool:
        """Whether proposals of this instruction version may go further than shadow."""
        return self.go_live is None or version in self.go_live.released

    def case_type_of(
        self, case_type: str, payload: dict[str, Any] | None, confidence: dict[str, float], context: dict[str, Any]
    ) -> str:
        """The first defined case type this case meets, else the workflow's own."""
        return next(
            (name for name, spec in self.case_types.items() if covers(spec, case_type, payload, confidence, context)),
            case_type,
        )

    def may_decide(self, person: str, case_type: str, directory_groups: Sequence[str] = ()) -> bool:
        """Whether this person may approve or reject a case of this type (anyone, without groups):
        named as a member, or in one of the group's ``directory_groups`` as their sign-in vouched
        (``directory_groups`` comes only from a verified sign-in, never from what a person typed)."""
        groups = self.approvals.groups.values()
        return not groups or any(
            (
                any(same_person(person, member) for member in group.members)
                or any(g in group.directory_groups for g in directory_groups)
            )
            and (ANY_CASE in group.case_types or case_type in group.case_types)
            for group in groups
        )

    def lineage(self, case_type: str) -> list[str]:
        """The case type and every case type it refines, narrowest first (``small_known_vendor``,
        ``invoice``): a rule that names a case type covers the types that narrow it."""
        chain = [case_type]
        while (spec := self.case_types.get(chain[-1])) is not None and spec.refines not in chain:
            chain.append(spec.refines)
        return chain

    def root_case_type(self, case_type: str) -> str:
        """The workflow's own case type a defined one narrows (itself when it is not a defined one)."""
        return self.lineage(case_type)[-1]

    def needs_four_eyes(self, case_types: str | list[str], *payloads: dict[str, Any] | None) -> bool:
        """Whether a rule covers the case in any of its case types (as proposed, as approved; each
        with the types it refines) and any of the given forms of its action (as proposed, as
        approved): lowering an amount, or an edit that changes the case type, does not escape four eyes."""
        names = [case_types] if isinstance(case_types, str) else case_types
        covered = {kind for name in names for kind in self.lineage(name)}
        for rule in self.approvals.four_eyes:
            if rule.case_type != ANY_CASE and rule.case_type not in covered:
                continue
            if rule.field is None:
                return True
            for payload in payloads:
                value = amount_of(payload, rule.field)
                if value is not None and abs(value) > (rule.above or 0):
                    return True
        return False

    def undoes(self, tool: str | None) -> bool:
        """Whether ``tool`` takes back one of this policy's writes: a write of its own, always approved by a person."""
        return bool(tool) and any(spec.undo == tool for spec in self.writes().values())

    def writes(self) -> dict[str, Tool]:
        return {name: tool for name, tool in self.tools.items() if tool.access is Access.WRITE}

    def tools_with(self, access: Access) -> list[str]:
        return sorted(name for name, tool in self.tools.items() if tool.access is access)
