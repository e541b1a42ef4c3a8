"""Training the queue classifier from routed requests, and the one way to load it back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opsgate import ConfigurationError, latest_trained, save_trained
from tasks.request_triage.classifier import KIND, QueueModel, train
from tasks.request_triage.models import InboundRequest
from tasks.request_triage.sentences import encoder
from tasks.request_triage.triaging import Classifier

WORKFLOW = "request_triage"


def fit(texts: Sequence[str], queues: Sequence[str]) -> QueueModel:
    """The classifier learnt from these requests and the queues people chose, with the installed
    sentence encoder."""
    sentences = encoder()
    return train(texts, queues, sentences.encode(texts), sentences.version)


def train_and_store(rows: Sequence[InboundRequest], queue_column: str, origin: str) -> tuple[str, dict[str, Any]]:
    """Fit on ``rows`` (their text, and the queue in ``queue_column``) and keep the model; its
    version and what was trained."""
    model = fit([r.text for r in rows], [r.context[queue_column].strip() for r in rows])
    report = {
        "requests": len(rows),
        "queues": len(model.queues),
        "out_of_scope_below": model.out_of_scope_below,
        "temperature": model.temperature,
        "history": origin,
    }
    return save_trained(WORKFLOW, KIND, model.to_arrays(), report), report


def stored_classifier() -> Classifier:
    """The newest classifier the store holds, checked; a clear error when none was trained."""
    stored = latest_trained(WORKFLOW, KIND)
    if stored is None:
        raise ConfigurationError(
            "no request classifier in the store: train one with `opsgate triage train --history FILE` "
            "(past requests with `text` and `queue` columns)"
        )
    return Classifier(QueueModel.from_arrays(stored.arrays), stored.version)
