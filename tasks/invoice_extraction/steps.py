"""The invoice workflow's steps as Prefect tasks: read the inbox, propose one posting per document."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsgate import (
    QUARANTINE,
    ConfigurationError,
    Proposal,
    Run,
    fan_out,
    llm_client,
    mailbox_named,
    quarantine,
    refuse_mail,
    settle_mail,
    take_mail,
    unpack_attachments,
)
from tasks.invoice_extraction import history
from tasks.invoice_extraction.batch import ReadJob, extract_documents, read_options
from tasks.invoice_extraction.extracting import ReadOptions
from tasks.invoice_extraction.memory import MEMORY_RELEASE, shadowed_memory, with_memory
from tasks.invoice_extraction.models import Extraction
from tasks.invoice_extraction.proposing import propose_all

logger = logging.getLogger(__name__)


def list_inbox(inbox: Path) -> list[Path]:
    """The documents in the inbox, in name order; hidden files and folders are not documents."""
    if not inbox.is_dir():
        raise ConfigurationError(f"inbox {inbox} is not a folder")
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))


@task(name="load-invoices", cache_policy=NO_CACHE)
def load_invoices(run: Run, inbox: Path) -> list[Path]:
    """The inbox's documents, less those that failed as often as the policy allows: they are moved
    into the inbox's hidden quarantine folder (and audited) before anything reads them again."""
    documents = quarantine(run, list_inbox(inbox), inbox / QUARANTINE)
    logger.info("%d documents in %s", len(documents), inbox)
    return documents


@task(name="take-mail", cache_policy=NO_CACHE)
def take_documents(run: Run, name: str) -> list[Path]:
    """The attachments of the mailbox's new messages (and of ones taken before that no case was
    made of). A message with nothing attached, or that cannot be read, is refused with the reason
    and moved where a person finds it; nothing in it is lost."""
    documents: list[Path] = []
    refused = 0
    for unpacked in unpack_attachments(take_mail(run.workflow, name, mailbox_named(run, name), run.id)):
        if unpacked.problem or not unpacked.files:
            refuse_mail(unpacked.message, unpacked.problem or "nothing attached to read as an invoice")
            refused += 1
        documents += unpacked.files
    logger.info("%d documents from the mailbox %s; %d messages refused", len(documents), name, refused)
    if refused:  # moved now, not after the gate: a person sees at once that nothing will come of them
        settle_mail(run, name)
    return documents


@task(name="read-documents", cache_policy=NO_CACHE)
def read_documents(items: list[Path], required: tuple[str, ...], options: ReadOptions) -> list[Extraction]:
    """Read documents in reader processes wherever this task runs (the run's process, or a Dask
    worker), asking the model there where one is used: its client is made from that machine's
    settings, so no key travels with the task."""
    client = llm_client() if options.backend != "rules" else None
    return list(extract_documents([ReadJob(path, str(path), required, options) for path in items], client=client))


def _unread(items: list[Path], exc: BaseException) -> list[Extraction]:
    """Each document of a chunk whose task was lost, failed with the reason: read again next run."""
    why = f"reader_failed: the task reading it was lost ({type(exc).__name__}: {str(exc)[:200]})"
    return [Extraction(source=str(path), status="error", error=f"{path.name}: {why}") for path in items]


def read_invoices(run: Run, documents: list[Path]) -> list[Extraction]:
    """Every document read, one extraction each, in order; a document that fails its reader fails
    alone, with the reason. A large inbox is read in chunks on a Dask cluster when the settings say
    so (``fan_out``)."""
    required = tuple(run.policy.escalation.missing_data.fields if run.policy.escalation.missing_data else [])
    return fan_out(read_documents, documents, _unread, required=required, options=read_options())


@task(name="propose-postings", cache_policy=NO_CACHE)
def propose_postings(run: Run, extractions: list[Extraction]) -> list[Proposal]:
    """One proposal per extraction, the vendor memory applied where the policy released it."""
    memory = history.load()  # the vendor memory, with the postings executed since it last looked
    reread = with_memory if run.policy.released(MEMORY_RELEASE) else shadowed_memory
    extractions = [reread(e, memory) for e in extractions]
    if (
        run.policy.logging.store_documents
    ):  # the texts to learn from once people approve: a document's text is a document
        history.record_texts(extractions)
    proposals = propose_all(extractions, run.policy)
    for proposal in proposals:
        logger.debug("%s: %s", proposal.source, proposal.error or proposal.summary)
    actions = sum(1 for p in proposals if p.tool and not p.escalations)
    logger.info(
        "%d documents read: %d actions proposed, %d to escalate, %d failed",
        len(proposals),
        actions,
        sum(1 for p in proposals if p.escalations),
        sum(1 for p in proposals if p.error),
    )
    return proposals
