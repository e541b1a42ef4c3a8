"""Training the queue classifier from routed requests, and the one way to load it back.

What it learns from is the team's history (a file of past requests and the queues people chose)
and every request a person routed through the gate since, in the queue it stands in now: a
dispatcher's correction is a routed request like any other, so the next model learns it. A ticket
taken back is left out, and so is one routed with no person: the model's own answer teaches it
nothing (``routed_tickets``).

A history may mark requests the team routed nowhere (spam, mail for another desk) with a queue
value such as ``out_of_scope`` (``nowhere``): those are learnt as what out of scope looks like,
never as a queue (``classifier``). So are the escalated requests a person closed as not ours at the
gate (`opsgate escalations close CASE --not-ours`): the team saying, case by case, what is not its
business."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import asdict
from typing import Any

from opsgate import ConfigurationError, cases_not_ours, latest_trained, routed_tickets, save_trained
from tasks.request_triage.classifier import KIND, QueueModel, train
from tasks.request_triage.models import InboundRequest
from tasks.request_triage.nowhere import NOWHERE, escalation_share, nowhere_mark
from tasks.request_triage.sentences import encoder
from tasks.request_triage.triaging import Classifier
from tasks.request_triage.urgency import level_of

WORKFLOW = "request_triage"


def fit(
    texts: Sequence[str],
    queues: Sequence[str | None],
    priorities: Sequence[str | None] = (),
    escalate_at_most: float | None = None,
) -> QueueModel:
    """The classifier learnt from these requests and the queues people chose (None: routed
    nowhere), and the priorities they gave where known, with the installed sentence encoder; its
    out-of-scope lines escalating at most ``escalate_at_most`` of the routed requests (unset: the
    default share for a history this size, ``nowhere.escalation_share``).

    Each queue's name, read as words, is one more example of it: what a team calls a queue says
    what it holds, and that counts most where a queue has few examples (banking77, five per
    queue: 0.784 to 0.807 of the queues picked right; ten: 0.848 to 0.856; all: no change)."""
    names = sorted({q for q in queues if q is not None})
    given = [*priorities, *[None] * (len(texts) + len(names) - len(priorities))] if priorities else []
    texts, queues = [*texts, *map(queue_words, names)], [*queues, *names]
    share = escalation_share(sum(q is not None for q in queues), escalate_at_most)
    sentences = encoder()
    return train(texts, queues, sentences.encode(texts), sentences.version, share, given)


def queue_words(name: str) -> str:
    """A queue's name as words: "card_arrival" is "card arrival", "CardArrival" "Card Arrival"."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|[_\-./:]+", " ", name)
    return " ".join(spaced.split())


def train_and_store(
    rows: Sequence[InboundRequest],
    queue_column: str,
    origin: str,
    nowhere: Collection[str] = NOWHERE,
    priority_column: str | None = None,
    escalate_at_most: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """Fit on ``rows`` (their text, the queue in ``queue_column``, where a value among ``nowhere``
    marks a request routed nowhere, and the priority in ``priority_column`` where the history
    keeps one: None, it keeps none), on the requests people routed through the gate, with the
    priority each ticket has now, and on those they closed as not ours, its out-of-scope lines escalating at most
    ``escalate_at_most`` of the routed requests (unset: the default for the history's size); keep
    the model; its version and what was trained."""
    marks = {nowhere_mark(m) for m in nowhere}
    texts = [r.text for r in rows]
    queues = [None if nowhere_mark(q) in marks else q.strip() for q in (r.context[queue_column] for r in rows)]
    routed: list[tuple[str, str | None, str | None]] = [
        (str(t.inputs["text"]), t.queue, t.priority)
        for t in routed_tickets(WORKFLOW)
        if str(t.inputs.get("text") or "").strip()
    ]
    not_ours = [str(i["text"]) for i in cases_not_ours(WORKFLOW) if str(i.get("text") or "").strip()]
    routed += [(text, None, None) for text in not_ours]
    priorities = [level_of(r.context.get(priority_column)) if priority_column else None for r in rows] + [
        level_of(p) for _, _, p in routed
    ]
    if len(rows) + len(routed) == 0:
        raise ConfigurationError(
            "nothing to learn from: no history file was given and no request has been routed through the gate "
            "(`opsgate triage train --history FILE` with past requests and their queues)"
        )
    model = fit(
        [*texts, *(t for t, _, _ in routed)], [*queues, *(q for _, q, _ in routed)], priorities, escalate_at_most
    )
    report = {
        "requests": len(rows) + len(routed),
        "routed": len(routed) - len(not_ours),
        "not_ours": len(not_ours),
        "nowhere": model.nowhere,
        "priorities": model.urgency.levels if model.urgency is not None else [],
        "prioritised": sum(p is not None for p in priorities) if model.urgency is not None else 0,
        "queues": len(model.queues),
        "escalate_at_most": escalation_share(sum(model.examples.values()), escalate_at_most),
        "out_of_scope_below": model.out_of_scope_below,
        "far_below": model.far_below,
        "temperature": model.temperature,
        "mixed_up": [asdict(m) for m in model.mixed_up],
        "history": origin,
    }
    return save_trained(WORKFLOW, KIND, model.to_arrays(), report), report


def stored_classifier_or_none() -> Classifier | None:
    """The newest classifier the store holds, checked; None when none was trained."""
    stored = latest_trained(WORKFLOW, KIND)
    return None if stored is None else Classifier(QueueModel.from_arrays(stored.arrays), stored.version)


def stored_classifier() -> Classifier:
    """The newest classifier the store holds, checked; a clear error when none was trained."""
    classifier = stored_classifier_or_none()
    if classifier is None:
        raise ConfigurationError(
            "no request classifier in the store: train one with `opsgate triage train --history FILE` "
            "(past requests with `text` and `queue` columns)"
        )
    return classifier
