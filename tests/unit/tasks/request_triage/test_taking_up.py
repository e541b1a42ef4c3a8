"""An escalated request taken up by a person: its routing is made from what the request was read
as and the queue they chose, the owner group follows the queue from the policy, and taking it up
launders nothing: an enterprise customer's request is still one, for the approvers the policy
names for those, and a value the policy does not list is refused."""

from __future__ import annotations

from typing import Any

import pytest

from opsgate.errors import InputError
from opsgate.governance import escalations, rights, runs
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason, Proposal, Route
from opsgate.store.db import transaction
from opsgate.store.tables import ProposalRow

WORKFLOW = "request_triage"
READ = {"request": "<q@x>", "subject": "Delivery", "sender": "it@bigcorp.example", "text": "Where is it?"}


def _escalated(payload: dict[str, Any] | None = None, **context: Any) -> str:
    run = runs.start_run(governing(WORKFLOW), "test")
    reason = EscalationReason.LOW_CONFIDENCE if payload else EscalationReason.OUT_OF_SCOPE
    proposal = Proposal(
        workflow=WORKFLOW,
        source="mail/1.eml",
        case_type="request" if payload else "out_of_scope",
        tool="tickets.route" if payload else None,
        payload=payload,
        instruction_version="queues.test",
        escalations=[Escalation(reason=reason, detail="a guess")],
        context={"priority": "normal", **context},
        inputs=READ,
    )
    assert runs.check_policy(run, [proposal])[0].route is Route.ESCALATE
    return proposal.id


def _take(case: str, by: str = "bob", **fields: str) -> tuple[Proposal, Route]:
    run = runs.start_run(governing(WORKFLOW), "test")
    made = escalations.take_up(case, fields, by, run.policy)
    (verdict,) = runs.check_policy(run, [made])
    return made, verdict.route


def test_a_request_that_fit_no_queue_is_routed_where_the_person_said_and_stays_an_enterprise_case(
    opsgate_env: str,
) -> None:
    made, route = _take(_escalated(enterprise_customer=True), queue="orders", priority="high")
    assert route is Route.APPROVE and made.tool == "tickets.route"
    assert made.payload == {
        "queue": "orders",
        "priority": "high",
        "assignee_group": "order-desk",
        "note": "",
        "request": "<q@x>",
        "subject": "Delivery",
        "sender": "it@bigcorp.example",
        "source": "mail/1.eml",
    }
    assert made.case_type == "enterprise_customer", "the policy's case types apply to a taken-up case as to any"
    policy = governing(WORKFLOW).policy
    rules = rights.Rules(run=policy, file=policy)
    with transaction() as session:
        row = session.get(ProposalRow, made.id)
        assert (
            "alice may not decide on enterprise_customer cases"
            in rights.problems(session, rules, row, "alice", row.payload)[0]
        )
        assert rights.problems(session, rules, row, "lena", row.payload) == []
        elsewhere = {**row.payload, "queue": "nowhere"}
        (refused,) = rights.problems(session, rules, row, "lena", elsewhere)
        assert "'nowhere' is not among the policy's" in refused, "an approver's edit is held to the policy too"


def test_a_guess_taken_up_keeps_what_was_proposed_but_for_the_person_s_values(opsgate_env: str) -> None:
    proposed = {
        "queue": "billing",
        "priority": "normal",
        "assignee_group": "finance-desk",
        "note": "Customer asks about a charge",
        "request": "<q@x>",
        "subject": "Delivery",
        "sender": "it@bigcorp.example",
        "source": "mail/1.eml",
    }
    made, route = _take(_escalated(proposed), queue="technical")
    assert route is Route.APPROVE
    assert made.payload == {**proposed, "queue": "technical", "assignee_group": "tech-desk"}, "the group follows"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "name the queue it goes to"),
        ({"queue": "nowhere"}, "name the queue it goes to"),
        ({"queue": "orders", "assignee_group": "finance-desk"}, "not assignee_group"),
        ({"queue": "orders", "priority": "urgent"}, "not a routing: priority"),
        ({"queue": "orders", "note": "x" * 2001}, "not a routing: note"),
    ],
)
def test_values_a_routing_cannot_take_are_refused_before_anything_is_claimed(
    opsgate_env: str, fields: dict[str, str], problem: str
) -> None:
    case = _escalated()
    with pytest.raises(InputError, match=problem):
        escalations.take_up(case, fields, "bob", governing(WORKFLOW).policy)
    assert [c.proposal_id for c in escalations.open_escalations(WORKFLOW)] == [case]
