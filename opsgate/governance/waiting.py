"""What waits on one person: the pending approval requests they may decide, oldest deadline first.

An answer decides a whole request, so a request waits on someone only when they may decide every
proposal in it, under the run's policy and the file as it is now, with the groups their sign-in
vouched for, as ``review`` will check when they answer (four eyes included: a person who already
approved a case, or started its run, is not who a second approval waits on).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import select

from opsgate.errors import PolicyDenied, PolicyError
from opsgate.governance import requests, rights
from opsgate.governance.requests import PendingRequest
from opsgate.governance.review import request_policy
from opsgate.governance.rights import Rules
from opsgate.governance.runs import run_policy
from opsgate.policy.loader import load_policy
from opsgate.store.db import transaction
from opsgate.store.tables import ProposalRow


class Waiting(BaseModel):
    """A request that waits on this person, and whether it is a four-eyes second approval."""

    request: PendingRequest
    second_approval: bool


def waiting_for(name: str, groups: Sequence[str] = ()) -> list[Waiting]:
    """Every pending request ``name`` may decide whole, oldest deadline first."""
    rules: dict[tuple[str, str], Rules | None] = {}
    found = [
        Waiting(request=request, second_approval=request.round > 1)
        for request in requests.pending_requests()
        if waits_on(request, name, groups, rules)
    ]
    return sorted(found, key=lambda w: (w.request.deadline, w.request.id))


def waits_on(
    request: PendingRequest,
    name: str,
    groups: Sequence[str] = (),
    known: dict[tuple[str, str], Rules | None] | None = None,
) -> bool:
    """Whether ``name`` may decide every proposal of this request (``known`` caches the rules of
    runs already looked at)."""
    known = {} if known is None else known
    ids = [p.id for p in request.proposals]
    with transaction() as session:
        run_id = session.execute(select(ProposalRow.run_id).where(ProposalRow.id.in_(ids)).limit(1)).scalar()
    if run_id is None:
        return False
    key = (run_id, request.workflow)
    if key not in known:  # read outside a transaction: the store may be SQLite, with one writer
        known[key] = _rules(*key)
    rules = known[key]
    if rules is None:
        return False
    with transaction() as session:
        rows = session.execute(select(ProposalRow).where(ProposalRow.id.in_(ids))).scalars()
        return all(
            not rights.problems(session, rules, row, name, rights.standing(session, row)[0], groups) for row in rows
        )


def _rules(run_id: str, workflow: str) -> Rules | None:
    """The rules a request of this run is answered under; None when no decision can be taken now
    (the run's recorded policy was altered, or the file does not load): nobody is asked then."""
    try:
        return Rules(run=run_policy(run_id, workflow), file=load_policy(workflow))
    except (PolicyDenied, PolicyError):
        return None


def sure_pages(pages: Sequence[PendingRequest], at_least: float) -> list[PendingRequest]:
    """The pages of one run that a person may approve at once, unread: those on which every
    proposal's values were read with at least ``at_least`` confidence. The values are those the
    run's policy cannot do without (``escalation.missing_data``), each of which must state a
    confidence; every value where the policy names none. The other pages wait for a closer look."""
    if not pages:
        return []
    missing_data = request_policy(pages[0]).escalation.missing_data  # one run, one policy
    needed = set(missing_data.fields) if missing_data else None

    def sure(confidence: dict[str, float]) -> bool:
        if needed is None:
            return all(c >= at_least for c in confidence.values())
        return all(confidence.get(f, -1.0) >= at_least for f in needed)

    return [page for page in pages if all(sure(p.confidence) for p in page.proposals)]
