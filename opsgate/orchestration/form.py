"""The approval form an approver sees on a paused run in the Prefect UI (and the CLI fills in):
a ``RunInput`` pre-filled from the proposals, with a Markdown description of the batch.

Approvers are finance and operations people deciding from this page alone, so the description
says per proposal what would be written and why, and where the agent was unsure. Everything in it
that comes from a document or a model is escaped (``display.markdown_text``): an invoice cannot put
a link, an image or HTML on the approver's screen, and a bidirectional control that would show a
vendor or a file name in another order is shown as its code point. The form's JSON schema is
shaped for Prefect's UI only (order, titles, one input per proposed value); what it accepts is
still ``ApprovalAnswer``, checked after resume. The form holds what a person fills in
(``AnswerContent``) and nothing else: how the approver was authenticated is not a field of it, so
nobody can claim through the form to have been checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from annotated_types import MaxLen
from prefect.input import RunInput
from pydantic import ConfigDict

from opsgate.display import markdown_text, visible
from opsgate.governance.answers import AnswerContent, Review
from opsgate.governance.requests import PendingRequest
from opsgate.models import Proposal
from opsgate.writers import WRITERS

LOW_CONFIDENCE = 0.8
KEY_FIELDS = 6
SHORT_LISTS = 3
LOW_FIELDS = 4
VALUE_WIDTH = 40
SOURCE_WIDTH = 32  # Prefect's dialog is narrow and does not wrap table cells: the file name is what counts
TEXT_WIDTH = 160
_URL = re.compile(r"^https?://", re.IGNORECASE)
_URL_SAFE = ":/?#[]@!$&'*+,;=%-._~"  # quoted: spaces, brackets and pipes, so a link cannot break out
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}
MAX_TEXT = 10_000  # an edited text value no writer bounds more tightly


class ApprovalForm(RunInput, AnswerContent):
    """The form an approver fills in (UI) or the CLI sends: approver, batch digest, reviews."""


def _clip(text: str, width: int, keep_end: bool = False) -> str:
    """One line, at most ``width`` characters; paths keep their end, where the file name is."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    return "…" + text[1 - width :] if keep_end else text[: width - 1] + "…"


def _text(value: Any, width: int = TEXT_WIDTH) -> str:
    """Text from a document or a model, shown as text: clipped first, so no escape is cut in half."""
    return markdown_text(_clip(str(value), width))


def _source(source: str) -> str:
    if _URL.match(source):
        return f"[{_text(source, SOURCE_WIDTH)}]({quote(source, safe=_URL_SAFE)})"
    shown = visible(_clip(source, SOURCE_WIDTH, keep_end=True)).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _reading_order(proposals: list[Proposal]) -> dict[str, int]:
    """Where the writers declare each field: the order people read an action in, whatever order
    the store kept the payload's keys in (PostgreSQL's JSONB sorts them by length)."""
    order: dict[str, int] = {}
    for proposal in proposals:
        writer = WRITERS.get(proposal.tool or "")
        for name in writer.payload_model.model_fields if writer else ():
            order.setdefault(name, len(order))
    return order


def _in_order(names: list[str], order: dict[str, int]) -> list[str]:
    return sorted(names, key=lambda name: order.get(name, len(order)))


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _telling(name: str, value: Any) -> bool:
    """Worth a place in the table: a value a person can judge (not an id, digest or long list)."""
    if name in ("id", "source") or name.endswith("_id") or "digest" in name or value in (None, ""):
        return False
    if isinstance(value, list):
        return 0 < len(value) <= SHORT_LISTS and all(_scalar(v) for v in value)
    return _scalar(value)


def _key_fields(proposal: Proposal) -> str:
    """Up to ``KEY_FIELDS`` values, the ones the writer requires first, shown in reading order."""
    payload = proposal.payload or {}
    writer = WRITERS.get(proposal.tool or "")
    required = (
        {name for name, info in writer.payload_model.model_fields.items() if info.is_required()} if writer else set()
    )
    candidates = _in_order(
        [name for name, value in payload.items() if _telling(name, value)], _reading_order([proposal])
    )
    chosen = set(sorted(candidates, key=lambda name: name not in required)[:KEY_FIELDS])
    shown = (
        f"{_text(name)}: {_text(', '.join(map(str, payload[name])) if isinstance(payload[name], list) else payload[name], VALUE_WIDTH)}"
        for name in candidates
        if name in chosen
    )
    return " · ".join(shown) or "none"


def _low_confidence(proposal: Proposal) -> str:
    low = sorted((score, name) for name, score in proposal.confidence.items() if score < LOW_CONFIDENCE)
    shown = [f"{_text(name, VALUE_WIDTH)} {score:.2f}" for score, name in low[:LOW_FIELDS]]
    more = [f"{len(low) - LOW_FIELDS} more"] if len(low) > LOW_FIELDS else []
    return ", ".join(shown + more) or "none"


def _flags(proposal: Proposal) -> str:
    flags = [e.describe() for e in proposal.escalations] + [f"notice: {n.describe()}" for n in proposal.notices]
    return "; ".join(_text(flag) for flag in flags) or "none"


def _description(request: PendingRequest) -> str:
    rows = (
        f"| {number} | {_source(p.source)} | {_text(p.case_type, VALUE_WIDTH)} | {_key_fields(p)} | {_low_confidence(p)} | {_text(p.summary)} | {_flags(p)} |"
        for number, p in enumerate(request.proposals, start=1)
    )
    return "\n".join(
        [
            f"### {len(request.proposals)} proposals of `{request.workflow}` to review",
            "",
            f"Decide by **{request.deadline:%Y-%m-%d %H:%M} UTC**. Nothing is written without an approval.",
            "",
            f"| # | source | case type | key values | least sure (below {LOW_CONFIDENCE}) | summary | escalations |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "**How to decide**",
            "",
            "1. Enter your name under **Approver**: it is recorded with every decision.",
            "2. Under **Reviews** there is one entry per row above, in the same order (its **Source** says which). "
            "For each, keep `approve` to write it as proposed; or set `edit` and change the values under **Fields**; "
            "or set `reject` and give the **Reason**.",
            "3. Leave **Batch Digest** and **Proposal Id** as they are (they tie your answer to this exact batch), then **Submit**.",
        ]
    )


def _value_schema(name: str, position: int, values: list[Any], proposals: list[Proposal]) -> dict[str, Any]:
    """The input for one proposed value, of the kind its values have (the UI shows lists and
    objects as JSON). No default: Prefect then also accepts an empty input, sent as null."""
    kinds = {_JSON_TYPES.get(type(v), "json") for v in values if v is not None} or {"string"}
    kinds = {"number"} if kinds == {"integer", "number"} else kinds
    schema: dict[str, Any] = {"title": name, "position": position}
    if len(kinds) == 1 and "json" not in kinds:
        schema["type"] = kinds.pop()
    writers = {writer for p in proposals if (writer := WRITERS.get(p.tool or ""))}
    fields = [info for w in writers if (info := w.payload_model.model_fields.get(name))]
    described = {info.description for info in fields if info.description}
    if len(described) == 1:
        schema["description"] = described.pop()
    if (
        schema.get("type") == "string"
    ):  # bounded here as the writer bounds it, so Prefect refuses a longer edit before the run sees it
        limits = [m.max_length for info in fields for m in info.metadata if isinstance(m, MaxLen)]
        schema["maxLength"] = min(limits, default=MAX_TEXT)
    return schema


def _review_schema(proposals: list[Proposal]) -> Callable[[dict[str, Any]], None]:
    """What every review's inputs get: an order (the UI sorts by ``position``), help texts, and one
    input per proposed value, so a value is corrected in its own box rather than in JSON text."""
    values: dict[str, list[Any]] = {}
    for proposal in proposals:
        for name, value in (proposal.payload or {}).items():
            values.setdefault(name, []).append(value)
    names = _in_order(list(values), _reading_order(proposals))
    extras: dict[str, dict[str, Any]] = {
        "source": {"position": 0},
        "decision": {
            "position": 1,
            "description": "`approve`: write it as proposed. `edit`: write it with the values changed under Fields. "
            "`reject`: write nothing (give the reason).",
        },
        "reason": {"position": 2},
        "fields": {
            "position": 3,
            "description": "What will be written. A value changed here is recorded as a correction.",
            "properties": {
                name: _value_schema(name, position, values[name], proposals) for position, name in enumerate(names)
            },
        },
        "proposal_id": {"position": 4, "description": "Identifies the proposal; leave as it is."},
    }

    def shape(schema: dict[str, Any]) -> None:
        for name, extra in extras.items():
            schema["properties"][name].update(extra)

    return shape


def _review_notes(number: int, proposal: Proposal) -> dict[str, Any]:
    """What the UI merges into one review's inputs: which proposal it is, what and why, and which
    values the agent was unsure of. The form must say this itself: Prefect's resume dialog shrinks
    the description above a form taller than the window to nothing."""
    about = f"**Proposal {number}**: {_text(proposal.summary)}. Least sure: {_low_confidence(proposal)}. Escalations: {_flags(proposal)}."
    unsure = {
        name: {"title": f"{name} · agent unsure ({score:.2f})"}
        for name, score in proposal.confidence.items()
        if score < LOW_CONFIDENCE and name in (proposal.payload or {})
    }
    return {"properties": {"source": {"description": about}, "fields": {"properties": unsure}}}


def _form_schema(proposals: list[Proposal]) -> Callable[[dict[str, Any]], None]:
    def shape(schema: dict[str, Any]) -> None:
        properties = schema["properties"]
        for position, name in enumerate(("approver", "reviews", "batch_digest")):
            properties[name]["position"] = position
        properties["batch_digest"]["description"] = AnswerContent.model_fields["batch_digest"].description
        reviews = properties["reviews"]
        reviews.update(
            minItems=len(proposals),
            maxItems=len(proposals),
            description="One entry per proposal, numbered as in the table. Keep `approve`, or set `edit` and change values under Fields, "
            "or set `reject` and give the reason.",
            prefixItems=[
                {"$ref": reviews["items"]["$ref"], **_review_notes(n, p)} for n, p in enumerate(proposals, start=1)
            ],
        )

    return shape


def approval_form(request: PendingRequest) -> type[ApprovalForm]:
    """The form for this request, its JSON schema shaped for Prefect's UI (what it accepts is the
    same ``ApprovalAnswer``): one input per proposed value instead of one JSON text per proposal,
    each review opening with its proposal's number, summary and doubts, and the ids last."""

    class ProposalReview(Review):
        model_config = ConfigDict(json_schema_extra=_review_schema(request.proposals))

    class BatchForm(ApprovalForm):
        model_config = ConfigDict(json_schema_extra=_form_schema(request.proposals))
        reviews: list[ProposalReview]

    # the source box only says which proposal a review is (nothing reads it back): shown with its hidden characters visible
    reviews = [
        ProposalReview(proposal_id=p.id, source=visible(p.source), fields=p.payload or {}) for p in request.proposals
    ]
    return BatchForm.with_initial_data(description=_description(request), batch_digest=request.digest, reviews=reviews)
