"""Where people routed the requests, from an outcomes file, against triage's shadow cases.

The file (CSV or Parquet) has `request`, the request's id as opsgate records it (an e-mail's
Message-ID, a ticket export's `id`), and `queue`, the queue people put it in; an empty queue
means they routed it nowhere (spam, a request for another team: what triage should escalate as
out of scope). A request named by two rows is reported and left out (by ``read_records``).

A shadow case is found by the request id of its action, or, for one escalated without an
action, by the id its source ends with (``file.csv#id``), else by its source's file name. Queues
are compared trimmed and case-folded. A routing the agent would have written is wrong where
people put the request in another queue or in none; each costs one request in the wrong place.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from opsgate import CaseComparison, OutcomeComparison, OutcomeRow, WrongAction, read_records

if TYPE_CHECKING:
    from opsgate import ShadowCase

ROUTED, NOWHERE = "routed", "not routed"
RULES = [
    "an outcome matches the shadow case whose action names the same request, or, without an action, whose source ends in #<request> or is that file",
    "queues compared trimmed and case-folded; an empty queue means people routed the request nowhere",
    "a routing the agent would have written is wrong where people chose another queue or none (at stake: one request)",
]


def _queue(value: object) -> str:
    return " ".join(str(value or "").split()).casefold()


def request_of(case: ShadowCase) -> str:
    """The request a case is about: its action's, else the id or file name its source ends with."""
    if case.payload and case.payload.get("request"):
        return str(case.payload["request"])
    head, _, row = case.source.rpartition("#")
    return row if head else re.split(r"[\\/]", case.source)[-1]


def read_routings(path: Path) -> tuple[dict[str, str], list[OutcomeRow]]:
    """People's queue per request ("" for none), and the rows that were not used."""
    records = read_records(path, "request", required=["queue"])
    problems = [OutcomeRow(where=p.where, detail=p.reason) for p in records.problems]
    return {str(row["request"]).strip(): _queue(row["queue"]) for row in records.frame.to_dict("records")}, problems


def _compare(case: ShadowCase, queue: str) -> CaseComparison:
    proposed = _queue((case.payload or {}).get("queue"))
    fields = {"queue": proposed == queue} if case.payload else {}
    wrong = None
    if case.would_write and proposed != queue:
        elsewhere = f"people put it in {queue}" if queue else "people routed it nowhere"
        wrong = WrongAction(what=f"would route to {proposed}; {elsewhere}", cost=1, unit="requests")
    return CaseComparison(case=case, outcome=queue or NOWHERE, people_wrote=bool(queue), fields=fields, wrong=wrong)


def compare_outcomes(path: Path, cases: list[ShadowCase]) -> OutcomeComparison:
    """Every shadow case against where people routed the same request."""
    routings, problems = read_routings(path)
    compared = [
        _compare(case, routings[request]) if (request := request_of(case)) in routings else CaseComparison(case=case)
        for case in cases
    ]
    seen = {request_of(case) for case in cases}
    unmatched = [
        OutcomeRow(
            where=f"request {request!r}",
            detail=f"people {'routed it to ' + queue if queue else 'routed it nowhere'}; no shadow case is about it",
        )
        for request, queue in routings.items()
        if request not in seen
    ]
    return OutcomeComparison(cases=compared, unmatched=unmatched, problems=problems, rules=RULES)
