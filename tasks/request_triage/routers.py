"""The routers beside the learnt classifier, for a team with no history to learn from yet.

- ``rules``: the words the policy lists per queue (``settings.queues.<name>.keywords``). The queue
  whose words the request holds most often; none held, no queue fits. Its confidence is that
  queue's share of the hits, held below ``RULES_AT_MOST``: a word count is never sure enough to
  route a request with nobody looking.
- ``llm``: a model through instructor, zero-shot from the queue descriptions in the policy. Its
  answer is held to the queues there are (or ``none``: out of scope), and its note to what the
  request says: a number, an e-mail address or an identifier the request does not hold is refused
  and asked again, as the weekly summary's figures are. Its confidence is ``LLM_CONFIDENCE``: a
  model's own word for its sureness is not a calibrated probability.

Which one proposes is the policy's ``settings.backend``: ``model`` (the classifier the store
holds), ``rules``, ``llm``, or ``auto``: the classifier once one is trained, else the model where
one is configured, else the rules.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from opsgate import (
    ConfigurationError,
    LlmInvalidAnswer,
    LlmRequestRefused,
    LlmUnavailable,
    Prompt,
    ask,
    digest,
    get_settings,
    latest_prompt,
    llm_client,
)
from tasks.request_triage.models import InboundRequest
from tasks.request_triage.policy import TriageSettings
from tasks.request_triage.triaging import Routed, Router

if TYPE_CHECKING:
    import instructor

PROMPTS = Path(__file__).parent / "prompts"
PROMPT_NAME = "route_request"
RULES_AT_MOST = 0.9
LLM_CONFIDENCE = 0.7  # checked against the queues and the text, not calibrated: a person sees it
NONE = "none"
_TOKENS = re.compile(r"[\w.+-]*\d[\w.+/-]*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")  # numbers, ids, e-mail addresses


@dataclass(frozen=True)
class RulesRouter:
    """The policy's words per queue; its version is the digest of those words."""

    keywords: dict[str, list[str]]

    @cached_property
    def version(self) -> str:
        return f"keywords.{digest(self.keywords)[:12]}"

    @cached_property
    def _patterns(self) -> dict[str, re.Pattern[str]]:
        return {
            queue: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
            for queue, words in self.keywords.items()
            if words
        }

    def route(self, requests: Sequence[InboundRequest]) -> list[Routed]:
        found = []
        for request in requests:
            hits = {queue: pattern.findall(request.text) for queue, pattern in self._patterns.items()}
            counts = Counter({queue: len(words) for queue, words in hits.items() if words})
            if not counts:
                found.append(Routed(None, 0.0, [], out_of_scope="none of the policy's words for a queue is in it"))
                continue
            (queue, best), *_ = counts.most_common(1)
            words = list(dict.fromkeys(w.lower() for w in hits[queue]))[:3]
            found.append(
                Routed(
                    queue,
                    min(best / sum(counts.values()), RULES_AT_MOST),
                    [f"the policy's words {', '.join(map(repr, words))}"],
                )
            )
        return found


class LlmRouting(BaseModel):
    """What the model answers for one request."""

    queue: str = Field(description="One of the queues' names, or none.")
    note: str = Field(max_length=600, description="For whoever picks it up: what the requester wants.")

    @field_validator("queue")
    @classmethod
    def _a_queue(cls, value: str, info: ValidationInfo) -> str:
        queues = (info.context or {}).get("queues", [])
        name = value.strip()
        if name != NONE and name not in queues:
            raise ValueError(f"queue {value!r} is not one of the queues ({', '.join(queues)}) nor {NONE}")
        return name

    @field_validator("note")
    @classmethod
    def _only_the_request(cls, value: str, info: ValidationInfo) -> str:
        text = (info.context or {}).get("text", "").casefold()
        invented = [t for t in _TOKENS.findall(value) if t.strip(".,").casefold() not in text]
        if invented:
            raise ValueError(
                f"the note states {', '.join(map(repr, invented[:3]))}, which the request does not say: "
                "state only what the request contains"
            )
        return value


@dataclass
class LlmRouter:
    """A model, zero-shot from the policy's queue descriptions, with the newest prompt."""

    settings: TriageSettings
    client: instructor.Instructor
    prompt: Prompt

    @property
    def version(self) -> str:
        return self.prompt.ident

    def route(self, requests: Sequence[InboundRequest]) -> list[Routed]:
        queues = {name: queue.description for name, queue in self.settings.queues.items()}
        found = []
        for request in requests:
            document = json.dumps({"queues": queues, "request": request.text}, ensure_ascii=False, indent=1)
            try:
                answer = ask(
                    self.client,
                    LlmRouting,
                    self.prompt.messages(document),
                    {"queues": list(queues), "text": request.text},
                )
            except (LlmUnavailable, LlmRequestRefused, LlmInvalidAnswer) as exc:
                found.append(Routed(None, 0.0, [], failure=f"the model gave no usable answer: {exc}"))
                continue
            if answer.queue == NONE:
                found.append(Routed(None, LLM_CONFIDENCE, [], out_of_scope="the model found no queue that fits"))
            else:
                found.append(Routed(answer.queue, LLM_CONFIDENCE, ["the model's reading"], note=answer.note))
        return found


def router_for(settings: TriageSettings) -> Router:
    """The router the policy's ``settings.backend`` names (see the module's docstring)."""
    from tasks.request_triage.training import stored_classifier, stored_classifier_or_none

    if settings.backend == "model":
        return stored_classifier()
    if settings.backend == "auto" and (classifier := stored_classifier_or_none()) is not None:
        return classifier
    if settings.backend == "llm" or (settings.backend == "auto" and get_settings().llm_model):
        return LlmRouter(settings, llm_client(), latest_prompt(PROMPTS, PROMPT_NAME))
    if not any(settings.keywords.values()):
        raise ConfigurationError(
            "nothing to route with: no classifier is trained (`opsgate triage train --history FILE`), no model is "
            "configured (OPSGATE_LLM_MODEL) and the policy lists no keywords for its queues"
        )
    return RulesRouter(settings.keywords)
