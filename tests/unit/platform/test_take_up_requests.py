"""A take-up asked for, then run: who asked is recorded where they were proven, with an audit event
of everything the run takes from it; the run is given only the request's id. Trying to get around
it: a refused value records nothing, a second flow run given the same request is refused (the same
run started again after a suspension gets it back), and a request changed in the store, or put
there without its event, is refused by the run and reported by the audit check."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import update

from opsgate.errors import AuditIntegrityError, InputError
from opsgate.governance import escalations, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason, Proposal, Route
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import TakeUpRequestRow
from tests.support.batches import WORKFLOW, proposed_batch, write_inbox
from tests.unit.platform.conftest import StoreProbe


def _escalated(inbox: Path) -> Proposal:
    """An invoice escalated as if its due date had not been read."""
    proposal = proposed_batch(inbox).proposals[0]
    missing = Escalation(reason=EscalationReason.MISSING_DATA, field="due_date", detail="no due date found")
    case = proposal.model_copy(update={"id": "case-0001-escalated", "escalations": [missing]})
    (verdict,) = runs.check_policy(runs.start_run(governing(WORKFLOW), "test"), [case])
    assert verdict.route is Route.ESCALATE
    return case


def _verified() -> audit.VerifyResult:
    with transaction() as session:
        return audit.verify(session)


def test_a_take_up_is_recorded_with_who_asked_and_how_they_were_proven(store: StoreProbe, tmp_path: Path) -> None:
    case = _escalated(write_inbox(tmp_path / "inbox"))
    asked = escalations.ask_take_up(case.id, {"due_date": "2026-12-31"}, "  carol ", "password")
    assert (asked.case, asked.workflow, asked.by, asked.authenticated_by) == (case.id, WORKFLOW, "carol", "password")
    row = store.get(TakeUpRequestRow, asked.id)
    assert (row.requested_by, row.fields, row.run_id) == ("carol", {"due_date": "2026-12-31"}, None)
    (event,) = store.events("take_up_asked", case.id)
    assert event.actor == "carol" and event.data == {
        "request": asked.id,
        "case": case.id,
        "fields": {"due_date": "2026-12-31"},
        "requested_by": "carol",
        "authenticated_by": "password",
    }
    assert _verified().ok
    assert [c.proposal_id for c in escalations.open_escalations(WORKFLOW)] == [case.id], "asking answers nothing yet"


def test_values_the_action_cannot_take_record_nothing(store: StoreProbe, tmp_path: Path) -> None:
    case = _escalated(write_inbox(tmp_path / "inbox"))
    with pytest.raises(InputError, match="has no field colour"):
        escalations.ask_take_up(case.id, {"colour": "red"}, "carol")
    with pytest.raises(InputError, match="needs the name of who gives it"):
        escalations.ask_take_up(case.id, {"due_date": "2026-12-31"}, "   ")
    with pytest.raises(InputError, match="no escalated case"):
        escalations.ask_take_up("no-such-case", {}, "carol")
    assert store.count(TakeUpRequestRow) == 0 and store.events("take_up_asked") == []


def test_one_flow_run_uses_a_request_and_gets_it_back_when_started_again(store: StoreProbe, tmp_path: Path) -> None:
    case = _escalated(write_inbox(tmp_path / "inbox"))
    asked = escalations.ask_take_up(case.id, {"due_date": "2026-12-31"}, "carol", "oidc")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert escalations.use_take_up(asked.id, first) == asked
    assert escalations.use_take_up(asked.id, first) == asked, "the same run, started again after a suspension"
    with pytest.raises(InputError, match=f"was used by flow run {first}"):
        escalations.use_take_up(asked.id, second)
    assert store.get(TakeUpRequestRow, asked.id).run_id == first
    with pytest.raises(InputError, match="no take-up request"):
        escalations.use_take_up(str(uuid.uuid4()), second)


@pytest.mark.parametrize(
    "change",
    [{"requested_by": "mallory"}, {"fields": {"due_date": "2030-01-01"}}, {"authenticated_by": "oidc"}],
    ids=["who asked", "the values", "how they were proven"],
)
def test_a_request_changed_in_the_store_is_refused_and_reported(
    store: StoreProbe, tmp_path: Path, change: dict[str, object]
) -> None:
    case = _escalated(write_inbox(tmp_path / "inbox"))
    asked = escalations.ask_take_up(case.id, {"due_date": "2026-12-31"}, "carol")
    with transaction() as session:
        session.execute(update(TakeUpRequestRow).where(TakeUpRequestRow.id == asked.id).values(**change))
    with pytest.raises(AuditIntegrityError, match="not what its audit event recorded"):
        escalations.use_take_up(asked.id, str(uuid.uuid4()))
    result = _verified()
    assert not result.ok and f"take-up request {asked.id}" in result.problem


def test_a_request_put_in_the_store_without_its_event_is_refused_and_reported(
    store: StoreProbe, tmp_path: Path
) -> None:
    """An insider with the database but not the audit key writes a request in someone else's name,
    copying a real event's data: it has no event of its own, and the one it copies is another's."""
    case = _escalated(write_inbox(tmp_path / "inbox"))
    real = escalations.ask_take_up(case.id, {"due_date": "2026-12-31"}, "carol")
    forged = str(uuid.uuid4())
    with transaction() as session:
        session.add(
            TakeUpRequestRow(
                id=forged,
                proposal_id=case.id,
                workflow=WORKFLOW,
                fields={"due_date": "2030-01-01"},
                requested_by="olga",
                authenticated_by="password",
            )
        )
    with pytest.raises(AuditIntegrityError):
        escalations.use_take_up(forged, str(uuid.uuid4()))
    result = _verified()
    assert not result.ok and f"take-up request {forged}" in result.problem
    assert escalations.use_take_up(real.id, str(uuid.uuid4())).by == "carol"


def test_the_open_list_says_who_asked_to_take_a_case_up_until_their_run_answers_it(
    store: StoreProbe, tmp_path: Path
) -> None:
    """Asked for and not yet proposed, the case stays open and says so (another person would
    otherwise take it up too); once the run's case is rejected the case is open again, and the
    request that answered it no longer stands."""
    case = _escalated(write_inbox(tmp_path / "inbox"))
    asked = escalations.ask_take_up(case.id, {"due_date": "2026-12-31"}, "carol", "password")
    (listed,) = escalations.open_escalations(WORKFLOW)
    assert (listed.proposal_id, listed.asked_by) == (case.id, "carol")

    run = runs.start_run(governing(WORKFLOW), "test")
    used = escalations.use_take_up(asked.id, str(uuid.uuid4()))
    made = escalations.take_up(used.case, used.fields, used.by, run.policy, used.authenticated_by)
    assert runs.check_policy(run, [made])[0].route is Route.APPROVE
    assert escalations.open_escalations(WORKFLOW) == [], "answered: taken up"
    (taken,) = store.events("taken_up", case.id)
    assert (taken.actor, taken.data["authenticated_by"]) == ("carol", "password")

    pending = requests.open_request(WORKFLOW, run.id, "no-flow-run", "k-1", [made], requests.deadline_in(3600))
    decide(pending.id, answer_for(pending, "alice", rejections={made.id: "wrong due date"}))
    (again,) = escalations.open_escalations(WORKFLOW)
    assert (again.proposal_id, again.asked_by) == (case.id, None)
