"""What opsgate itself did in the week, from its store: the summary's second source beside the events.

Definitions (the window is [start, end) in UTC, like every moment in the store):
- invoices_posted: payables rows posted in the window and still posted, of every document type;
  postings_reversed: rows posted in the window and reversed since, up to when the facts are read
  (a reversal after the week still shows, against the week the posting belongs to).
- spend: over those live postings only. A credit note subtracts its amount: postings keep it
  positive (the document type carries the sign), and subtracting its size also lowers spend for
  one entered negative. Vendors are told apart by ``vendor_key`` (names differing only in case
  and punctuation are one vendor), shown under the name most recently posted for them.
- records_flagged: duplicate-flagging proposals with a merge to decide, created in the window (one
  per cluster or possible duplicate); records_merged: records folded into a survivor by merges
  executed in the window and not undone.
- requests_routed: tickets request triage opened in the window and still open; of those,
  requests_routed_automatically no person approved (a case type that earned ``auto``), and
  requests_routed_automatically_share their share; tickets_withdrawn: tickets of the window
  withdrawn since; routed_<queue>: the live ones per queue.
- approvals, rejections: decisions people made in the window; corrections: fields they changed
  before approving, one per field.
- escalations (by reason), undone, execution_refusals, incidents: audit events in the window.
- escalations_taken_up, escalations_closed, escalations_not_ours: people's answers to escalated
  cases given in the window (``opsgate escalations``): taken up (proposed again with their
  values), closed as dealt with elsewhere, closed as not the workflow's business.
- agents: ``opsgate.learning.metrics.agent_metrics`` over the window, the summary's own runs left out.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from itertools import groupby

from pydantic import BaseModel, Field

from opsgate import (
    CENT,
    AgentMetrics,
    AuditEvent,
    RecordsMerge,
    WeekPosting,
    activity_in_window,
    agent_metrics,
    postings_in_window,
    records_merged_in_window,
    tickets_in_window,
)
from tasks.weekly_summary.workflow import WORKFLOW

FLAGGING = "duplicate_flagging"  # the workflow whose merge proposals are the week's flagged duplicates
COUNTS = (
    "invoices_posted",
    "postings_reversed",
    "records_flagged",
    "records_merged",
    "requests_routed",
    "requests_routed_automatically",
    "tickets_withdrawn",
    "approvals",
    "rejections",
    "corrections",
    "escalations",
    "escalations_taken_up",
    "escalations_closed",
    "escalations_not_ours",
    "undone",
    "execution_refusals",
    "incidents",
)


class VendorSpend(BaseModel):
    """One vendor's live postings of the week in one currency."""

    vendor: str
    currency: str
    documents: int
    total: float


class OperationsFacts(BaseModel):
    """The store's figures for the window; stored with the run beside the ticket figures."""

    start: datetime
    end: datetime
    invoices_posted: int
    postings_reversed: int
    spend_total: dict[str, float]
    spend_by_vendor: list[VendorSpend]
    records_flagged: int
    records_merged: int
    requests_routed: int = 0
    requests_routed_automatically: int = 0
    tickets_withdrawn: int = 0
    routed_by_queue: dict[str, int] = Field(default_factory=dict)
    approvals: int
    rejections: int
    corrections: int
    escalations: int
    escalations_by_reason: dict[str, int]
    escalations_taken_up: int = 0
    escalations_closed: int = 0
    escalations_not_ours: int = 0
    undone: int
    execution_refusals: int
    incidents: int = Field(0, description="Incidents reported against executed actions in the window.")
    agents: list[AgentMetrics]


def _utc(moment: datetime) -> datetime:
    """SQLite compares stored moments as UTC text, so a bound in another zone would shift the window
    by its offset; a pandas Timestamp becomes a plain datetime on the way."""
    if moment.tzinfo is None:
        raise ValueError(f"the window bound {moment.isoformat()} has no time zone")
    utc = moment.astimezone(timezone.utc)
    return datetime.combine(utc.date(), utc.time(), tzinfo=timezone.utc)


def _signed(document_type: str, total: Decimal) -> Decimal:
    return -abs(total) if document_type == "credit_note" else total


def _spend(live: Sequence[WeekPosting], top_vendors: int) -> tuple[dict[str, float], list[VendorSpend]]:
    """Totals per currency over every live posting, and the biggest vendors of each currency.
    Sums stay Decimal until the end: amounts are exact, and SQLite keeps them as text."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    documents: Counter[tuple[str, str]] = Counter()
    names: dict[str, str] = {}
    for row in live:  # oldest first, so the newest spelling of a vendor's name wins
        totals[(row.currency, row.vendor_key)] += _signed(row.document_type, row.total)
        documents[(row.currency, row.vendor_key)] += 1
        names[row.vendor_key] = row.vendor_name or names.get(row.vendor_key, "(no name)")
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    for (currency, _), total in totals.items():
        by_currency[currency] += total
    vendors = sorted(
        (
            VendorSpend(
                vendor=names[key],
                currency=currency,
                documents=documents[(currency, key)],
                total=float(total.quantize(CENT)),
            )
            for (currency, key), total in totals.items()
        ),
        key=lambda v: (v.currency, -v.total, v.vendor),
    )
    top = [v for _, group in groupby(vendors, key=lambda v: v.currency) for v in list(group)[:top_vendors]]
    return {currency: float(total.quantize(CENT)) for currency, total in sorted(by_currency.items())}, top


def operations_facts(start: datetime, end: datetime, top_vendors: int = 5) -> OperationsFacts:
    """The store's figures for [start, end); the bounds must carry a time zone."""
    start, end = _utc(start), _utc(end)
    postings = postings_in_window(start, end)
    merged = records_merged_in_window(start, end)
    tickets = tickets_in_window(start, end)
    activity = activity_in_window(start, end)
    events = activity.events
    spend_total, spend_by_vendor = _spend(postings.live, top_vendors)
    return OperationsFacts(
        start=start,
        end=end,
        invoices_posted=postings.by_status.get("posted", 0),
        postings_reversed=postings.by_status.get("reversed", 0),
        spend_total=spend_total,
        spend_by_vendor=spend_by_vendor,
        records_flagged=activity.proposals.get((FLAGGING, RecordsMerge.tool), 0),
        records_merged=merged,
        requests_routed=sum(tickets.by_queue.values()),
        requests_routed_automatically=tickets.without_a_person,
        tickets_withdrawn=tickets.withdrawn,
        routed_by_queue=tickets.by_queue,
        approvals=activity.decisions.get("approved", 0),
        rejections=activity.decisions.get("rejected", 0),
        corrections=activity.corrections,
        escalations=events.get(AuditEvent.ESCALATED, 0),
        escalations_by_reason=activity.escalation_reasons,
        escalations_taken_up=activity.escalation_answers.get("taken_up", 0),
        escalations_closed=activity.escalation_answers.get("closed", 0),
        escalations_not_ours=activity.escalation_answers.get("not_ours", 0),
        undone=events.get(AuditEvent.UNDONE, 0),
        execution_refusals=events.get(AuditEvent.EXECUTION_REFUSED, 0),
        incidents=events.get(AuditEvent.INCIDENT, 0),
        agents=[row for row in agent_metrics(start, end) if row.workflow != WORKFLOW],
    )


def key_part(name: str) -> str:
    """A workflow, case type or reason as part of a fact key: 'Credit note' -> 'credit_note'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "none"


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _pooled(rows: list[AgentMetrics]) -> dict[str, int | float | None]:
    """One workflow and case type over all its instruction versions: counts summed and the rates
    recomputed from the sums as ``opsgate.learning.metrics`` defines them, because an average of the
    versions' rates would weigh a version with two cases like one with two hundred."""
    total = Counter[str]()
    for row in rows:
        total.update(
            row.model_dump(
                include={
                    "cases",
                    "completed",
                    "executed",
                    "approved",
                    "rejected",
                    "corrected",
                    "escalated",
                    "tool_errors",
                }
            )
        )
    minutes = [row.time_saved_minutes for row in rows if row.time_saved_minutes is not None]
    return {
        "cases": total["cases"],
        "executed": total["executed"],
        "approval_rate": _ratio(total["approved"], total["approved"] + total["rejected"]),
        "correction_rate": _ratio(total["corrected"], total["approved"]),
        "escalation_rate": _ratio(total["escalated"], total["cases"]),
        "tool_error_rate": _ratio(total["tool_errors"], total["executed"] + total["tool_errors"]),
        "completion_rate": _ratio(total["completed"], total["cases"]),
        "time_saved_minutes": round(sum(minutes), 1) if minutes else None,
    }


def operations_flat(facts: OperationsFacts) -> dict[str, int | float | str | None]:
    """The facts a narrative may state, one key per figure: the counts, ``escalations_<reason>``,
    ``requests_routed_automatically_share`` and ``routed_<queue>``, ``spend_total_<CUR>``, ``spend_vendor_<i>_<CUR>_total`` and ``_name`` (i from 1 in each
    currency), and ``<workflow>_<case_type>_<figure>`` per agent, its instruction versions pooled.
    Names that only differ in what a key cannot hold share a key, and their figures add up."""
    found: dict[str, int | float | str | None] = {name: getattr(facts, name) for name in COUNTS}
    reasons = Counter[str]()
    for reason, count in facts.escalations_by_reason.items():
        reasons[f"escalations_{key_part(reason)}"] += count
    found |= dict(sorted(reasons.items()))
    found["requests_routed_automatically_share"] = _ratio(facts.requests_routed_automatically, facts.requests_routed)
    queues = Counter[str]()
    for queue, count in facts.routed_by_queue.items():
        queues[f"routed_{key_part(queue)}"] += count
    found |= dict(sorted(queues.items()))
    found |= {f"spend_total_{currency}": total for currency, total in facts.spend_total.items()}
    for currency, group in groupby(facts.spend_by_vendor, key=lambda v: v.currency):
        for rank, vendor in enumerate(group, 1):
            found[f"spend_vendor_{rank}_{currency}_name"] = vendor.vendor
            found[f"spend_vendor_{rank}_{currency}_total"] = vendor.total
    agents: dict[str, list[AgentMetrics]] = defaultdict(list)
    for row in facts.agents:
        agents[f"{key_part(row.workflow)}_{key_part(row.case_type)}"].append(row)
    for prefix, rows in agents.items():
        found |= {f"{prefix}_{name}": value for name, value in _pooled(rows).items()}
    return found
