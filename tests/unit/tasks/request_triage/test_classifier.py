"""The queue classifier on a hand-made helpdesk history: it routes what it learnt, its confidence
means what it says, a request that fits no queue is told apart, and it survives the store."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest

from opsgate.governance.requests import PendingRequest
from opsgate.models import Proposal
from opsgate.orchestration.form import approval_form
from tasks.request_triage import classifier
from tasks.request_triage.classifier import VOTE_WEIGHTS, QueueModel, Scored, _neighbours
from tasks.request_triage.models import InboundRequest
from tasks.request_triage.nowhere import escalation_share
from tasks.request_triage.sentences import encoder
from tasks.request_triage.training import fit, queue_words
from tasks.request_triage.triaging import Classifier, triage_all
from tests.support.markdown import render
from tests.unit.tasks.request_triage.helpdesk import HISTORY, ROUTED_NOWHERE, SECOND_BILLING, history_rows

NEW = {
    "billing": ["I think you charged me twice, can I get my money back?", "My invoice shows the wrong amount"],
    "delivery": ["Where is my parcel? The tracking has not moved", "The courier delivered my package to a neighbour"],
    "access": ["I can't sign in, my password reset link does not work", "My account got locked, please help me log in"],
    "returns": [
        "I would like to send the dress back, it does not fit",
        "How do I exchange these trousers for another size?",
    ],
}
# Nothing a helpdesk for orders and accounts handles.
UNRELATED = ["What will the weather be like in Lisbon tomorrow?", "Recommend a good recipe for vegetable soup"]


def _requests(*texts: str) -> list[InboundRequest]:
    return [InboundRequest(source="t.csv", id=f"row {n}", text=t) for n, t in enumerate(texts, 1)]


def _score(model: QueueModel, texts: list[str]) -> list[Scored]:
    return model.score(texts, encoder().encode(texts))


def test_routes_new_requests_to_the_queues_people_chose() -> None:
    model = fit(*history_rows())
    for queue, texts in NEW.items():
        for scored in _score(model, texts):
            assert scored.queue == queue
            assert abs(sum(scored.probabilities.values()) - 1.0) < 1e-6


def test_the_reason_names_the_request_s_own_words() -> None:
    (scored,) = _score(fit(*history_rows()), ["My parcel never arrived"])
    assert scored.queue == "delivery" and set(scored.words) <= {
        "my",
        "parcel",
        "never",
        "arrived",
        "my parcel",
        "parcel never",
        "never arrived",
    }
    assert scored.words


def test_requests_that_fit_no_queue_are_claimed_less_than_any_that_fits_one() -> None:
    model = fit(*history_rows())
    unrelated = [s.claim for s in _score(model, UNRELATED)]
    known = _score(model, [t for texts in NEW.values() for t in texts])
    assert max(unrelated) < min(s.claim for s in known)
    assert [model.why_out_of_scope(s) for s in known] == [None] * len(known), "nothing that fits a queue is escalated"
    (gibberish,) = _score(model, ["qwzx vbnm plokij"])
    assert "not one of its words" in (model.why_out_of_scope(gibberish) or ""), "no word in the history: no queue"


def test_a_request_about_something_else_is_far_from_every_routed_one() -> None:
    """Words of no queue's weight can leave a queue's claim above its line; the meaning cannot: a
    request on another subject is less alike to every routed request than they are to each other."""
    model = fit(*history_rows())
    known = _score(model, [t for texts in NEW.values() for t in texts])
    elsewhere = _score(model, ["Who won the football match yesterday?", "Can you recommend a good lasagne recipe?"])
    assert max(s.nearest for s in elsewhere) < model.far_below < min(s.nearest for s in known)
    assert all("it is about something else" in (model.why_out_of_scope(s) or "") for s in elsewhere)


def test_confidence_is_higher_where_the_model_is_right() -> None:
    model = fit(*history_rows())
    right = [s.probability for q, texts in NEW.items() for s in _score(model, texts) if s.queue == q]
    vague = [s.probability for s in _score(model, ["I have a question", "Hello, can you help me?"])]
    assert min(right) > max(vague)


def test_the_stored_arrays_give_the_same_answers() -> None:
    model = fit(*history_rows())
    arrays = model.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    again = QueueModel.from_arrays(arrays)
    texts = [t for texts in NEW.values() for t in texts] + UNRELATED
    for before, after in zip(_score(model, texts), _score(again, texts), strict=True):
        assert before.queue == after.queue and np.isclose(before.probability, after.probability)


def test_two_queues_for_one_need_are_reported_as_mixed_up_and_kept_with_the_model() -> None:
    """A team that routes the same requests to two queues is told which two, and how often the
    model, not having learnt them, put one's requests in the other; queues kept apart are not named."""
    texts, queues = history_rows()
    assert fit(texts, queues).mixed_up == ()
    model = fit([*texts, *SECOND_BILLING], [*queues, *["payments"] * len(SECOND_BILLING)])
    assert model.mixed_up, "the two billing queues were not reported"
    assert all({m.queue, m.read_as} == {"billing", "payments"} for m in model.mixed_up)
    assert all(2 <= m.requests <= m.of == len(SECOND_BILLING) + 1 for m in model.mixed_up)  # the name counts too
    assert QueueModel.from_arrays(model.to_arrays()).mixed_up == model.mixed_up


def test_a_request_below_the_routing_line_names_the_next_queue_and_how_often_the_history_mixes_them_up() -> None:
    """The person at the gate decides between the best two: the escalation names the second, and
    says so where the history's own requests of one went to the other."""
    texts, queues = history_rows()
    mixed = fit([*texts, *SECOND_BILLING], [*queues, *["payments"] * len(SECOND_BILLING)])
    (doubtful,) = triage_all(_requests("I was charged twice, refund me"), Classifier(mixed, "queues.t"), route_at=1.0)
    (low,) = doubtful.escalations
    assert low.reason == "low_confidence" and {doubtful.queue, low.detail.split("; next: ")[1].split(" at ")[0]} == {
        "billing",
        "payments",
    }
    assert "the history mixes them up:" in low.detail and "requests held out went to" in low.detail
    plain = Classifier(fit(texts, queues), "queues.t")
    (both,) = triage_all(_requests("The parcel came but the invoice is wrong"), plain, route_at=1.0)
    (low,) = both.escalations
    assert {both.queue, low.detail.split("; next: ")[1].split(" at ")[0]} == {"billing", "delivery"}
    assert "mixes them up" not in low.detail


def test_queue_names_from_a_hostile_history_are_text_in_the_approval_form() -> None:
    """The queue names in a request's doubt come from the team's file: at the gate they are shown
    as written, never as a link, an image or HTML, and never split the form's table."""
    billing, payments = "<img src=x onerror=alert(1)>|bill", "[pay](http://e.example) **now**"
    texts, queues = history_rows()
    queues = [billing if q == "billing" else q for q in queues]
    model = fit([*texts, *SECOND_BILLING], [*queues, *[payments] * len(SECOND_BILLING)])
    (doubtful,) = triage_all(_requests("I was charged twice, refund me"), Classifier(model, "queues.t"), route_at=1.0)
    (low,) = doubtful.escalations
    assert "the history mixes them up" in low.detail and billing in low.detail and payments in low.detail
    proposal = Proposal(
        workflow="request_triage",
        source="t.csv",
        case_type="low_priority",
        tool="tickets.route",
        payload={"queue": doubtful.queue},
        summary="a request in doubt",
        confidence={"queue": doubtful.confidence or 0.0},
        escalations=[low],
        instruction_version="queues.t",
    )
    now = datetime(2026, 12, 7, tzinfo=UTC)
    form = approval_form(
        PendingRequest(
            id=1,
            flow_run_id="f",
            pause_key="k",
            workflow="request_triage",
            digest="d",
            proposals=[proposal],
            statuses={},
            requested_at=now,
            deadline=now,
        )
    )
    rendered = render(form._description)  # type: ignore[attr-defined]
    ((header, row),) = rendered.tables
    assert len(row) == len(header), "a pipe in a queue name must not add a column"
    assert rendered.acting() == [] and "onerror" in rendered.text and "[pay](http://e.example)" in rendered.text


def test_the_same_history_trains_the_same_model() -> None:
    first, second = fit(*history_rows()).to_arrays(), fit(*history_rows()).to_arrays()
    assert all(np.array_equal(first[name], second[name]) for name in first)


def test_svms_learnt_in_processes_of_their_own_are_the_ones_learnt_here(monkeypatch: pytest.MonkeyPatch) -> None:
    here = fit(*history_rows()).to_arrays()
    monkeypatch.setattr(classifier, "PARALLEL_FROM", 0)  # every history is large enough
    started = []
    monkeypatch.setattr(
        classifier, "ProcessPoolExecutor", lambda *a, **k: started.append(k) or ProcessPoolExecutor(*a, **k)
    )
    apart = fit(*history_rows()).to_arrays()
    assert started and started[0]["mp_context"].get_start_method() == "spawn", (
        "never forked: the caller may run threads"
    )
    assert all(np.array_equal(here[name], apart[name]) for name in here)


def test_the_neighbours_vote_by_likeness_and_a_held_out_request_never_meets_itself() -> None:
    memory = np.eye(4, dtype=np.float32)[:3]  # three kept requests, in queues 0, 1, 1
    queues = np.array([0, 1, 1])
    near_first = np.array([[0.9, 0.3, 0.0, 0.3]], dtype=np.float32)
    nearest, votes = _neighbours(near_first, memory, queues, 2)
    assert np.isclose(nearest[0], 0.9) and votes[0, 0] > 0.99, "the one at 0.9 outweighs two at 0.3 and 0.0"
    nearest, _ = _neighbours(memory, memory, queues, 2, itself=np.array([0, 1, 2]))
    assert np.allclose(nearest, 0.0), "each kept request is held out from its own vote"


def test_the_votes_weight_is_fitted_on_held_out_requests() -> None:
    model = fit(*history_rows())
    assert model.vote_weight in VOTE_WEIGHTS and len(model.memory) == len(model.memory_queues) == 40 + len(HISTORY)


def test_requests_the_history_routed_nowhere_are_learnt_as_out_of_scope_never_as_a_queue() -> None:
    """A team shows what fits none of its queues: new requests like those are escalated for being
    like them, while every request that fits a queue still gets it, and the model keeps that
    class through the store."""
    texts, queues = history_rows()
    model = fit([*texts, *ROUTED_NOWHERE], [*queues, *[None] * len(ROUTED_NOWHERE)])
    assert model.queues == sorted(HISTORY) and model.nowhere == len(ROUTED_NOWHERE)
    pitches = _score(
        model,
        [
            "Our marketing agency can double your online sales, book a free call",
            "I am applying for the job of shop assistant, my CV is attached",
        ],
    )
    assert all("routed nowhere" in (model.why_out_of_scope(s) or "") for s in pitches)
    assert all(s.queue in HISTORY and s.nowhere > s.probability for s in pitches), "the queue named is a real one"
    known = _score(model, [t for texts in NEW.values() for t in texts])
    assert [(s.queue, model.why_out_of_scope(s)) for s in known] == [(q, None) for q, ts in NEW.items() for _ in ts]
    again = QueueModel.from_arrays(model.to_arrays())
    assert again.nowhere == model.nowhere
    assert [model.why_out_of_scope(s) for s in _score(again, ["Apply for the delivery driver job here"])] == [
        model.why_out_of_scope(s) for s in _score(model, ["Apply for the delivery driver job here"])
    ]


def test_one_queue_and_requests_routed_nowhere_make_a_classifier() -> None:
    """An invoices mailbox has one queue: what is not an invoice matter goes nowhere."""
    model = fit([*HISTORY["billing"], *ROUTED_NOWHERE], ["billing"] * 10 + [None] * len(ROUTED_NOWHERE))
    (refund, pitch) = _score(model, ["Please refund the second charge on my invoice", "Cheap SEO services for you"])
    assert model.queues == ["billing"] and model.why_out_of_scope(refund) is None
    assert "routed nowhere" in (model.why_out_of_scope(pitch) or "")
    with pytest.raises(ValueError, match="at least two queues"):
        fit(HISTORY["billing"], ["billing"] * 10)


def test_a_queue_s_name_is_one_more_example_of_it() -> None:
    """A queue with a single example, worded unlike the new request, is still found by its name."""
    texts, queues = history_rows()
    model = fit([*texts, "I would like to buy a voucher for a friend"], [*queues, "GiftCards"])
    assert model.examples["GiftCards"] == 2 and len(model.memory) == len(texts) + 1 + len(HISTORY) + 1
    (scored,) = _score(model, ["Do you sell gift cards?"])
    assert scored.queue == "GiftCards" and model.why_out_of_scope(scored) is None
    assert queue_words("card_arrival") == "card arrival" and queue_words("TechnicalSupport") == "Technical Support"


def test_a_team_that_may_escalate_more_draws_both_out_of_scope_lines_higher() -> None:
    """``escalate_at_most`` is the team's trade: the share of its own requests (held out) the
    lines may send to a person. More lets both lines rise, so more requests of no queue are caught;
    the queues and their weights are the same."""
    texts, queues = history_rows()
    few, many = (fit(texts, queues, escalate_at_most=share) for share in (0.01, 0.3))
    assert many.far_below > few.far_below and many.out_of_scope_below > few.out_of_scope_below
    assert np.array_equal(many.weights, few.weights) and many.queues == few.queues
    with pytest.raises(ValueError, match="above 0 and at most 0.5"):
        fit(texts, queues, escalate_at_most=0.0)


def test_a_small_history_still_gets_out_of_scope_lines_by_default() -> None:
    """0.5 % of forty requests is no request at all: unless the team says otherwise, the lines may
    escalate two of a small history's requests, and 0.5 % of a large one."""
    assert escalation_share(10_000) == 0.005 and escalation_share(400) == 0.005
    assert escalation_share(40) == 2 / 40 and escalation_share(3) == 0.5
    assert escalation_share(40, given=0.01) == 0.01
    texts, queues = history_rows()
    default, loose = fit(texts, queues), fit(texts, queues, escalate_at_most=2 / (len(texts) + len(set(queues))))
    assert (default.out_of_scope_below, default.far_below) == (loose.out_of_scope_below, loose.far_below)


def test_a_request_a_queue_claims_is_not_out_of_scope_whichever_queue_its_neighbours_favour() -> None:
    """The out-of-scope line is fitted on the strongest claim of any queue's classifier: a request
    one queue's classifier claims surely stays in scope even where the neighbours' votes put it in
    another queue, which claims it less."""
    model = fit(*history_rows())
    text = ["I was charged twice for my subscription this month, please refund one"]
    (before,) = _score(model, text)
    assert before.queue == "billing" and model.why_out_of_scope(before) is None
    elsewhere = model.queues.index("delivery")
    model.memory_queues = np.full_like(model.memory_queues, elsewhere)  # every neighbour votes delivery
    model.vote_weight = 0.9
    (after,) = _score(model, text)
    assert after.queue == "delivery", "the votes moved it"
    assert model.why_out_of_scope(after) is None, "billing's classifier still claims it"
    assert after.claim == pytest.approx(before.claim, abs=1e-6)
