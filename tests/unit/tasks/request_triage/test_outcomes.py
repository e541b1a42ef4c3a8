"""Triage's shadow cases against where people routed the requests, from a file checked by hand."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opsgate.learning.evaluation import ShadowCase
from opsgate.models import Escalation, EscalationReason, Status
from tasks.request_triage.outcomes import compare_outcomes

# <a>: people chose the same queue (written otherwise);  <b>: another queue: a wrong routing;
# <c>: people routed it nowhere: a wrong routing;  row 7 of the export: escalated as out of scope,
# people routed it nowhere: agreed; <d>: twice in the file: left out; <ghost>: no case is about it.
OUTCOMES = """request,queue
<a@x>, Billing
<b@x>,returns
<c@x>,
7,
<d@x>,billing
<d@x>,orders
<ghost@x>,access
"""


def _case(source: str, status: Status, queue: str | None = None, request: str | None = None) -> ShadowCase:
    payload: dict[str, Any] | None = (
        {"queue": queue, "request": request, "priority": "normal", "assignee_group": "desk"} if queue else None
    )
    return ShadowCase(
        proposal_id=source,
        source=source,
        case_type="request" if queue else "out_of_scope",
        instruction_version="queues.0123456789ab",
        status=status,
        tool="tickets.route" if queue else None,
        payload=payload,
        escalations=[] if queue else [Escalation(reason=EscalationReason.OUT_OF_SCOPE)],
        created_at=datetime(2026, 12, 1, tzinfo=timezone.utc),
    )


def test_each_case_against_where_people_put_its_request(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(OUTCOMES, encoding="utf-8")
    cases = [
        _case("mail/1.eml", Status.SHADOWED, "billing", "<a@x>"),
        _case("mail/2.eml", Status.SHADOWED, "delivery", "<b@x>"),
        _case("mail/3.eml", Status.SHADOWED, "billing", "<c@x>"),
        _case("export.csv#7", Status.ESCALATED),
        _case("mail/4.eml", Status.SHADOWED, "billing", "<d@x>"),
    ]
    found = compare_outcomes(path, cases)
    by_source = {c.case.source: c for c in found.cases}
    assert (by_source["mail/1.eml"].fields, by_source["mail/1.eml"].wrong) == ({"queue": True}, None)
    assert (
        by_source["mail/2.eml"].wrong is not None and "people put it in returns" in by_source["mail/2.eml"].wrong.what
    )
    assert by_source["mail/3.eml"].wrong is not None and "routed it nowhere" in by_source["mail/3.eml"].wrong.what
    escalated = by_source["export.csv#7"]
    assert (escalated.outcome, escalated.people_wrote, escalated.wrong) == ("not routed", False, None)
    assert by_source["mail/4.eml"].outcome is None, "a request the file names twice is compared with nothing"
    assert [row.where for row in found.unmatched] == ["request '<ghost@x>'"]
    assert any("<d@x>" in row.where or "<d@x>" in row.detail for row in found.problems)
