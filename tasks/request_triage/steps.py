"""The triage workflow's steps as Prefect tasks: take the requests, propose a routing for each."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsgate import (
    ConfigurationError,
    Proposal,
    Run,
    mailbox_named,
    refuse_mail,
    settle_mail,
    take_mail,
    workflow_settings,
)
from tasks.request_triage.customers import policy_customers
from tasks.request_triage.inbound import read_requests
from tasks.request_triage.models import InboundRequest
from tasks.request_triage.proposing import propose_all
from tasks.request_triage.routers import router_for
from tasks.request_triage.workflow import SPEC

logger = logging.getLogger(__name__)


@task(name="read-requests", cache_policy=NO_CACHE)
def load_requests(run: Run, given: Path) -> list[InboundRequest]:
    """The requests in a file, or in every file of a folder (name order, hidden files left out)."""
    if given.is_dir():
        paths = sorted(p for p in given.iterdir() if p.is_file() and not p.name.startswith("."))
    elif given.is_file():
        paths = [given]
    else:
        raise ConfigurationError(f"{given} is neither a file nor a folder of requests")
    requests = read_requests(paths)
    logger.info("%d requests in %s", len(requests), given)
    return requests


@task(name="take-mail", cache_policy=NO_CACHE)
def take_requests(run: Run, name: str) -> list[InboundRequest]:
    """One request per new message of the mailbox, read from the bytes kept of it (its case's
    source). A message that cannot be read is refused with the reason and moved where a person
    finds it, at once: nothing will come of it here."""
    messages = take_mail(run.workflow, name, mailbox_named(run, name), run.id)
    requests = read_requests([m.path for m in messages])
    kept = []
    for message, request in zip(messages, requests, strict=True):
        if request.error is not None:
            refuse_mail(message, request.error)
        else:
            kept.append(request)
    logger.info("%d requests from the mailbox %s; %d messages refused", len(kept), name, len(messages) - len(kept))
    if len(kept) < len(messages):
        settle_mail(run, name)
    return kept


@task(name="propose-routings", cache_policy=NO_CACHE)
def propose_routings(run: Run, requests: list[InboundRequest]) -> list[Proposal]:
    """Route every request with the policy's backend (the store's newest classifier once one is
    trained) and propose where each goes."""
    settings = workflow_settings(SPEC, run.policy)
    proposals = propose_all(
        requests,
        router_for(settings),
        settings,
        policy_customers(settings.customers),
        run.policy.logging.store_documents,
    )
    logger.info(
        "%d requests: %d routings proposed, %d to escalate, %d failed",
        len(proposals),
        sum(1 for p in proposals if p.tool and not p.escalations),
        sum(1 for p in proposals if p.escalations),
        sum(1 for p in proposals if p.error),
    )
    return proposals
