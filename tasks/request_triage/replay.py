"""Triage's replay: route past requests again with another router, from the text each case kept,
to compare with where people put them before that router goes live.

The version is a classifier the store holds (``queues.<12 hex>``, as `opsgate triage train`
printed it), the policy's keywords (``keywords.<12 hex>``, which the policy given must still
hold), or the LLM's prompt (``route_request.vN`` or ``route_request.vN+<digest>``). A case whose
text was not kept (``logging.store_documents`` off when it ran) cannot be routed again and says
so. The customer list and the queues are the policy's as given (the live one, or a candidate's),
so a replay also tries a policy change.
"""

from __future__ import annotations

from opsgate import (
    ConfigurationError,
    PastCase,
    Policy,
    Proposal,
    Unavailable,
    llm_client,
    replayed_prompt,
    trained_version,
    workflow_settings,
)
from tasks.request_triage.classifier import QueueModel
from tasks.request_triage.customers import policy_customers
from tasks.request_triage.models import InboundRequest
from tasks.request_triage.policy import TriageSettings
from tasks.request_triage.proposing import proposal_for
from tasks.request_triage.routers import PROMPT_NAME, PROMPTS, LlmRouter, RulesRouter
from tasks.request_triage.triaging import Classifier, Router, triage_all
from tasks.request_triage.workflow import SPEC, WORKFLOW


def router_of(version: str, settings: TriageSettings) -> Router:
    """The router of that version, or why there is none."""
    if version.startswith(f"{PROMPT_NAME}.v"):
        others = f"a classifier (queues.<12 hex>), the policy's keywords ({RulesRouter(settings.keywords).version})"
        return LlmRouter(settings, llm_client(), replayed_prompt(PROMPTS, PROMPT_NAME, version, others))
    if version.startswith("keywords."):
        rules = RulesRouter(settings.keywords)
        if rules.version != version:
            raise ConfigurationError(
                f"the policy's keywords are {rules.version}, not {version}: replay a policy that holds them (--policy)"
            )
        return rules
    stored = trained_version(WORKFLOW, version)
    if stored is None:
        raise ConfigurationError(
            f"the store holds no request classifier {version!r}: a version is what `opsgate triage train` printed "
            "(queues.<12 hex>)"
        )
    return Classifier(QueueModel.from_arrays(stored.arrays), stored.version)


def replay(cases: list[PastCase], version: str, policy: Policy) -> list[Proposal | Unavailable]:
    """One new proposal per past case, in order, or why its request cannot be routed again."""
    settings = workflow_settings(SPEC, policy)
    router = router_of(version, settings)
    customers = policy_customers(settings.customers)
    requests = [
        InboundRequest(
            source=case.source,
            id=str(case.inputs.get("request") or case.source),
            text=str(case.inputs.get("text") or ""),
            subject=str(case.inputs.get("subject") or ""),
            sender=str(case.inputs.get("sender") or ""),
        )
        for case in cases
    ]
    readable = [(case, r) for case, r in zip(cases, requests, strict=True) if r.text.strip()]
    triaged = triage_all([r for _, r in readable], router, route_at=0.0)
    again = {
        case.proposal_id: proposal_for(r, t, settings, customers, True, case.source)
        for (case, r), t in zip(readable, triaged, strict=True)
    }
    return [
        again.get(case.proposal_id)
        or Unavailable(
            source=case.source,
            reason="the request's text was not kept (logging.store_documents was off when it ran)",
        )
        for case in cases
    ]
