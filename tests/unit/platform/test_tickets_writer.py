"""The tickets writer and the values a policy holds a write to, on real stores: a request is
routed once (a second routing is refused, by the check the gate runs and at the write), a ticket
withdrawn is kept and marked and the request can be routed again; a queue or group the policy does
not list is escalated as out of policy, whether the agent proposed it or an approver typed it; the
request a ticket is for cannot be edited at the gate; a policy that lists values for a read, or for
a field the write does not have, is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.exc import IntegrityError

from opsgate.errors import ApprovalRejected, ExecutionError, PolicyError
from opsgate.governance import requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import EscalationReason, Proposal, Route
from opsgate.policy.engine import route
from opsgate.policy.loader import load_policy_file
from opsgate.settings import PROJECT_ROOT
from opsgate.store.db import transaction
from opsgate.store.tables import TicketRow
from opsgate.writers.tickets import TicketRouting, TicketsRoute
from tests.unit.platform.conftest import StoreProbe

WRITER = TicketsRoute()
WORKFLOW = "request_triage"
SHIPPED = PROJECT_ROOT / "policies" / f"{WORKFLOW}.yaml"


def _routing(**changes: Any) -> TicketRouting:
    values: dict[str, Any] = {
        "queue": "billing",
        "priority": "normal",
        "assignee_group": "finance-desk",
        "note": "billing, normal priority. Request: charged twice",
        "request": "<m1@example.com>",
        "subject": "Charged twice",
        "sender": "ana@example.com",
        "source": "support/1.eml",
    }
    return TicketRouting.model_validate(values | changes)


def _write(routing: TicketRouting, proposal_id: str = "p-1") -> str:
    with transaction() as session:
        return WRITER.apply(session, routing, proposal_id)


def test_a_request_is_routed_once_and_again_only_after_its_ticket_is_withdrawn(store: StoreProbe) -> None:
    first = _write(_routing())
    with transaction() as session:
        assert "already routed to billing" in WRITER.check(session, _routing(queue="payments"))[0]
    with pytest.raises(ExecutionError, match="refusing to open a second ticket"):
        _write(_routing(queue="payments"), "p-2")
    assert [(t.queue, t.status) for t in store.rows(TicketRow)] == [("billing", "routed")]

    with transaction() as session:
        WRITER.undo(session, first)
    with pytest.raises(ExecutionError, match="nothing to withdraw"):
        with transaction() as session:
            WRITER.undo(session, first)
    second = _write(_routing(queue="payments"), "p-3")
    assert {int(first): "withdrawn", int(second): "routed"} == {t.id: t.status for t in store.rows(TicketRow)}


def _policy_data() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def _proposal(**payload: Any) -> Proposal:
    return Proposal(
        workflow=WORKFLOW,
        source="support/1.eml",
        case_type="request",
        tool="tickets.route",
        payload=_routing(**payload).model_dump(mode="json"),
        confidence={"queue": 0.99},
        instruction_version="queues.abc",
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"queue": "nowhere"}, "queue"), ({"assignee_group": "everyone"}, "assignee_group")],
)
def test_a_value_the_policy_does_not_list_escalates_out_of_policy(payload: dict[str, str], field: str) -> None:
    policy = load_policy_file(SHIPPED)
    assert route(policy, _proposal()).route is Route.APPROVE
    verdict = route(policy, _proposal(**payload))
    assert verdict.route is Route.ESCALATE
    (escalation,) = verdict.escalations
    assert (escalation.reason, escalation.field) == (EscalationReason.OUT_OF_POLICY, field)
    assert repr(payload[field]) in escalation.detail


def test_values_on_a_read_or_for_a_field_the_write_lacks_are_refused(tmp_path: Path) -> None:
    data = _policy_data()
    data["tools"]["mailbox.read"]["values"] = {"queue": ["billing"]}
    data["tools"]["tickets.route"]["values"]["colour"] = ["red"]
    path = tmp_path / f"{WORKFLOW}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert "writes only" in str(caught.value) and "has no field 'colour'" in str(caught.value)


def test_the_queues_of_the_settings_and_the_values_of_the_write_are_kept_the_same(tmp_path: Path) -> None:
    data = _policy_data()
    data["settings"]["queues"]["legal"] = {"description": "Letters from lawyers", "owner_group": "legal-desk"}
    path = tmp_path / f"{WORKFLOW}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError, match="values.queue must list exactly the settings' queues"):
        load_policy_file(path)
    data["tools"]["tickets.route"]["values"]["queue"].append("legal")
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError, match="values.assignee_group must list exactly the settings' owner groups"):
        load_policy_file(path)
    data["tools"]["tickets.route"]["values"]["assignee_group"].append("legal-desk")
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert "legal" in load_policy_file(path).tools["tickets.route"].values["queue"]


def test_an_approver_cannot_point_a_routing_at_another_request(store: StoreProbe) -> None:
    """The request a ticket is for is what the approval is about: an edit to it (to route a request
    a second time under another id) is refused at the gate, while the queue may be corrected."""
    run = runs.start_run(governing(WORKFLOW), "test")
    proposal = _proposal()
    runs.check_policy(run, [proposal])
    request = requests.open_request(WORKFLOW, run.id, "flow-run-1", "approval-1", [proposal], requests.deadline_in(600))
    for field, value in (("request", "<other@example.com>"), ("source", "support/2.eml")):
        with pytest.raises(ApprovalRejected, match=f"{field} says what the action is about and cannot be edited"):
            decide(request.id, answer_for(request, "alice", edits={proposal.id: {field: value}}))
    (decision,) = decide(request.id, answer_for(request, "alice", edits={proposal.id: {"queue": "payments"}}))
    assert decision.proposal_id == proposal.id and len(store.events("approval_refused")) == 2


def test_two_executors_racing_past_the_check_still_open_one_ticket(store: StoreProbe) -> None:
    """The store's last line: a second live ticket for a request, written around the writer's own
    check (two executors at once, or someone writing the table), breaks the partial unique index."""
    first = _write(_routing())
    with pytest.raises(IntegrityError), transaction() as session:
        session.add(TicketRow(**_routing(queue="payments").model_dump(), status="routed", proposal_id="p-2"))
        session.flush()
    with transaction() as session:
        WRITER.undo(session, first)
        session.add(TicketRow(**_routing(queue="payments").model_dump(), status="routed", proposal_id="p-3"))
    assert sorted(t.status for t in store.rows(TicketRow)) == ["routed", "withdrawn"]
