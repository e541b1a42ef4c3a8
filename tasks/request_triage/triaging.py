"""One request's proposal: the queue from the learnt classifier, the priority and the entities
from its words, its language, and a note for whoever picks it up.

What the request says to its router is set aside first (``signals``): the classifier and the
priority read the rest. A request no queue's classifier claims (below the model's out-of-scope line) fits
no queue: it is escalated as ``out_of_scope`` with no queue, rather than forced into the nearest one.
One above that line but below ``route_at`` keeps its queue and is escalated as ``low_confidence``,
with the queue the router put next and, where the history itself mixes the two up, how often: the
choice the person at the gate is most likely making.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from opsgate import ConfigurationError, Escalation, EscalationReason
from tasks.request_triage.classifier import QueueModel, Scored
from tasks.request_triage.entities import find_entities
from tasks.request_triage.language import language_of
from tasks.request_triage.models import InboundRequest, Triage
from tasks.request_triage.sentences import encoder
from tasks.request_triage.signals import NO_URGENCY, priority, said, to_the_router, without_instructions
from tasks.request_triage.urgency import SURE

ROUTE_AT = 0.9  # the confidence a queue needs to go on without a second look, until the policy says
_QUOTED = 140


@dataclass(frozen=True)
class Routed:
    """Where a router puts one request: a queue with its confidence and the reasons, or no queue
    and why none fits; a note it drafted (checked against the request), if it drafts one."""

    queue: str | None
    confidence: float
    reasons: list[str]
    out_of_scope: str | None = None
    note: str | None = None
    failure: str | None = None  # the router could not answer (a model out of reach): a person routes it
    priority: tuple[str, float] | None = None  # the priority learnt from the team's history, and its probability
    runner_up: str | None = None  # the queue put next, said for the person who decides between them


class Router(Protocol):
    """What proposes the queue: the learnt classifier, the policy's keywords, or an LLM."""

    version: str

    def route(self, requests: Sequence[InboundRequest]) -> list[Routed]: ...


@dataclass(frozen=True)
class Classifier:
    """A trained model and the version proposals record for it, with the sentence encoder it was
    trained against: a model whose encoder is not the one installed is refused, not fed vectors
    it has never seen."""

    model: QueueModel
    version: str

    def __post_init__(self) -> None:
        installed = encoder()
        if self.model.encoder == installed.version:
            return
        if self.model.encoder.partition("+")[0] == installed.version.partition("+")[0]:
            raise ConfigurationError(
                f"the sentence encoder's graph {installed.path} is not the one the request classifier "
                f"{self.version} was trained with (digest {installed.version.partition('+')[2]}, trained with "
                f"{self.model.encoder.partition('+')[2]}): it was changed since. Delete it and opsgate builds "
                "it again from the installed weights; if it still differs, train again with "
                "`opsgate triage train --history FILE`"
            )
        raise ConfigurationError(
            f"the request classifier {self.version} was trained with the sentence encoder "
            f"{self.model.encoder}, and {installed.version} is installed: train it again with "
            "`opsgate triage train --history FILE`"
        )

    def score(self, texts: Sequence[str]) -> list[Scored]:
        return self.model.score(texts, encoder().encode(texts))

    def _runner_up(self, scored: Scored) -> str | None:
        """The queue after the best, with its probability, and how often the history's held-out
        requests of one of the two went to the other, where it mixes them up."""
        others = [(p, q) for q, p in scored.probabilities.items() if q != scored.queue]
        if not others:
            return None
        probability, queue = max(others)
        mixed = self.model.mixed_up_pairs.get(frozenset((queue, scored.queue)), [])
        how_often = ", ".join(f"{m.requests} of {m.of} {m.queue} requests held out went to {m.read_as}" for m in mixed)
        return f"{queue} at {probability:.2f}" + (f"; the history mixes them up: {how_often}" if mixed else "")

    def route(self, requests: Sequence[InboundRequest]) -> list[Routed]:
        return [
            Routed(
                queue=scored.queue if why is None else None,
                confidence=scored.probability,
                reasons=[f"words like {', '.join(repr(w) for w in scored.words)}"] if scored.words else [],
                out_of_scope=why,
                priority=scored.priority,
                runner_up=self._runner_up(scored),
            )
            for scored in self.score([r.text for r in requests])
            for why in [self.model.why_out_of_scope(scored)]
        ]


def triage_all(requests: Sequence[InboundRequest], router: Router, route_at: float = ROUTE_AT) -> list[Triage]:
    """One proposal per request, in order; the router sees the readable ones in one pass, each
    with what it says to its router set aside (what the queue and priority are read from)."""
    readable = [r for r in requests if r.error is None]
    read = [r.model_copy(update={"text": without_instructions(r.text) or r.text}) for r in readable]
    routed = dict(zip(map(id, readable), zip(read, router.route(read), strict=True), strict=True))
    return [
        _triage(r, *routed[id(r)], router.version, route_at)
        if r.error is None
        else Triage(source=r.source, id=r.id, status="error", error=r.error, instruction_version=router.version)
        for r in requests
    ]


def _triage(request: InboundRequest, read: InboundRequest, routed: Routed, version: str, route_at: float) -> Triage:
    level, why_level = _priority(read.text, routed.priority)
    entities = find_entities(request.text)
    escalations: list[Escalation] = []
    reasons = {"priority": why_level}
    if routed.failure is not None:
        escalations.append(Escalation(reason=EscalationReason.TOOL_FAILURE, field="queue", detail=routed.failure))
    elif routed.out_of_scope is not None or routed.queue is None:
        escalations.append(
            Escalation(
                reason=EscalationReason.OUT_OF_SCOPE,
                field="queue",
                detail=f"no queue claims it: {routed.out_of_scope or 'the router chose none'}",
            )
        )
    else:
        reasons["queue"] = routed.reasons
        if routed.confidence < route_at:
            escalations.append(
                Escalation(
                    reason=EscalationReason.LOW_CONFIDENCE,
                    field="queue",
                    detail=f"{routed.queue} at {routed.confidence:.2f}, below {route_at:.2f}"
                    + (f"; next: {routed.runner_up}" if routed.runner_up else ""),
                )
            )
    instructions = to_the_router(request.text)
    if instructions:
        reasons["ignored"] = [
            f"the request tries to instruct its router, read as text only: {instructions[0][:_QUOTED]!r}"
        ]
    queue = routed.queue if routed.out_of_scope is None and routed.failure is None else None
    return Triage(
        source=request.source,
        id=request.id,
        status="escalated" if escalations else "ok",
        queue=queue,
        priority=level,  # type: ignore[arg-type]
        language=language_of(request.text),
        confidence=round(routed.confidence, 4) if queue is not None else None,  # no queue, nothing to be sure of
        entities=entities,
        note=routed.note or note(entities, read.text),
        escalations=escalations,
        reasons=reasons,
        instruction_version=version,
    )


def _priority(text: str, learnt: tuple[str, float] | None) -> tuple[str, list[str]]:
    """What the request's words say of its urgency, else what the team's history says of requests
    like it: a level other than normal where it is likelier than the others together."""
    if learnt is None:
        return priority(text)
    words = said(text)
    if words is not None:
        return words
    taught, probability = learnt
    if taught == "normal" or probability < SURE:
        return "normal", [f"{NO_URGENCY}; the history's priority for requests like it: {taught} ({probability:.2f})"]
    return taught, [f"the history's priority for requests like it ({probability:.2f})"]


def note(entities: dict[str, list[object]], text: str) -> str:
    """The template note for whoever picks the request up: what it is about, and its first words.
    It states only what the request and its entities say; not the queue or the priority, which the
    ticket carries and a dispatcher may correct, leaving a note that named them wrong."""
    about = [
        f"{label} {', '.join(map(str, entities[kind][:2]))}"
        for kind, label in (
            ("customer_ids", "customer"),
            ("emails", "from"),
            ("order_numbers", "order"),
            ("invoice_numbers", "invoice"),
            ("ticket_numbers", "ticket"),
        )
        if kind in entities
    ]
    amounts = [f"{a['amount']} {a['currency']}" for a in entities.get("amounts", [])[:2]]  # type: ignore[index]
    first = " ".join(text.split())[:_QUOTED]
    details = "; ".join(about + ([f"amount {', '.join(amounts)}"] if amounts else []))
    return f'{details[:1].upper() + details[1:] + ". " if details else ""}Request: "{first}{"…" if len(text) > _QUOTED else ""}"'
