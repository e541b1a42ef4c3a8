"""Who reads the fields: the rules, the LLM, or both (`auto`: the LLM fills what the rules miss).

In `auto` the rules go first; the model is asked only when a field is empty or unsure, its
values are taken only for those fields, and where it disagrees with a field the rules were sure
of, the case is escalated as conflicting sources instead of picking a winner silently.

The LLM reads with the prompt it is given (a replay names a version) or the newest one; the
reading is stamped with that prompt's ident, so what proposed a case is always what was sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from opsgate import Escalation, EscalationReason, LlmInvalidAnswer, LlmRequestRefused, LlmUnavailable
from tasks.invoice_extraction.llm_extraction import CONFIDENCE, current_prompt, extract_with_llm
from tasks.invoice_extraction.models import InvoiceFields
from tasks.invoice_extraction.rules import RulesResult, extract_fields

if TYPE_CHECKING:
    import instructor

    from opsgate import Prompt

logger = logging.getLogger(__name__)

Backend = Literal["rules", "llm", "auto"]
RULES_VERSION = "rules-v1"
UNSURE_BELOW = 0.6
SCALAR_FIELDS = tuple(name for name in InvoiceFields.model_fields if name != "line_items")


@dataclass
class Reading:
    """A backend's fields plus what a person must know about how they were read."""

    result: RulesResult
    instruction_version: str
    escalations: list[Escalation] = field(default_factory=list)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(str(a)) == Decimal(str(b))
    if isinstance(a, str) and isinstance(b, str):
        return "".join(ch for ch in a.upper() if ch.isalnum()) == "".join(ch for ch in b.upper() if ch.isalnum())
    return a == b


def _llm_only(text: str, client: instructor.Instructor, prompt: Prompt) -> Reading:
    try:
        return Reading(extract_with_llm(text, client, prompt), prompt.ident)
    except (LlmUnavailable, LlmRequestRefused, LlmInvalidAnswer) as exc:
        empty = RulesResult(fields=InvoiceFields())
        return Reading(empty, prompt.ident, [Escalation(reason=EscalationReason.TOOL_FAILURE, detail=str(exc))])


def _merge(rules: RulesResult, llm: RulesResult, unsure: list[str]) -> tuple[RulesResult, list[Escalation]]:
    values = rules.fields.model_dump()
    confidence = dict(rules.confidence)
    conflicts = []
    for name in SCALAR_FIELDS:
        ours, theirs = values[name], getattr(llm.fields, name)
        if theirs is None:
            continue
        if name in unsure:
            values[name], confidence[name] = theirs, CONFIDENCE
        elif ours is not None and not _same(ours, theirs):
            conflicts.append(
                Escalation(
                    reason=EscalationReason.CONFLICTING_SOURCES,
                    field=name,
                    detail=f"the rules read {ours}, the LLM read {theirs}",
                )
            )
    return RulesResult(
        fields=InvoiceFields(**values), confidence=confidence, document_type=rules.document_type
    ), conflicts


def read_fields(
    text: str,
    backend: Backend,
    client: instructor.Instructor | None = None,
    prompt: Prompt | None = None,
    rules: RulesResult | None = None,
) -> Reading:
    """The fields of ``text`` by ``backend``; the LLM backends need ``client`` and read with
    ``prompt``, the newest prompt file when none is given. ``rules`` is the rules' reading of the
    text when a reader process has made it already (``auto``)."""
    if backend == "rules":
        return Reading(rules or extract_fields(text), RULES_VERSION)
    assert client is not None, f"the {backend} backend needs an LLM client"
    prompt = prompt or current_prompt()
    if backend == "llm":
        return _llm_only(text, client, prompt)
    rules = rules or extract_fields(text)
    unsure = [
        n for n in SCALAR_FIELDS if getattr(rules.fields, n) in (None, "") or rules.confidence.get(n, 0) < UNSURE_BELOW
    ]
    if not unsure:
        return Reading(rules, RULES_VERSION)
    try:
        llm = extract_with_llm(text, client, prompt)
    except (LlmUnavailable, LlmRequestRefused, LlmInvalidAnswer) as exc:
        logger.warning("LLM not consulted for %d unsure fields: %s", len(unsure), exc)
        return Reading(rules, RULES_VERSION)
    merged, conflicts = _merge(rules, llm, unsure)
    return Reading(merged, f"{RULES_VERSION}+{prompt.ident}", conflicts)
