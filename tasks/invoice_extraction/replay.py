"""The invoice workflow's replay: read the documents of past cases again with another instruction version.

A case's input is the document at its ``source`` path, and the case stored what was read of it
(``inputs``: the SHA-256 and size of its bytes). A file that is gone, or whose bytes are no longer
the ones the case was proposed from, is reported as no longer available instead of being judged
against a decision about another document. Cases stored before digests were kept are replayed
from the file as it is, unchecked.

The version picks the reader: ``rules-v1`` the rules backend, a prompt version the LLM, the two
joined with ``+`` the ``auto`` backend (rules first, the LLM for what they miss). Any version in
the prompts folder can be named: ``extract_invoice.vN`` is that file as it is now,
``extract_invoice.vN+<digest>`` (the ident recorded with past cases) that exact text, refused when
the file was edited since. Any of them followed by ``+history`` reads with the vendor memory as it
stood when each case was proposed (what was learnt before it, never the case's own approval), as a
live run then did; without it the replay reads as if nothing had been learnt. ``history`` alone is
the memory itself, the name a policy's go_live releases it by: each case is read by the reader
that proposed it, with the memory of then, so its replay says what the memory would have changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opsgate import (
    PINNED,
    EscalationReason,
    ExtractionError,
    Unavailable,
    live_postings_of,
    llm_client,
    replayed_prompt,
    vendor_key,
)
from tasks.invoice_extraction import history
from tasks.invoice_extraction.backends import RULES_VERSION
from tasks.invoice_extraction.batch import ReadJob, extract_documents, read_options
from tasks.invoice_extraction.extracting import XML_VERSION
from tasks.invoice_extraction.llm_extraction import PROMPT_NAME, PROMPTS
from tasks.invoice_extraction.memory import MEMORY_RELEASE, WITH_HISTORY, with_memory
from tasks.invoice_extraction.models import Extraction
from tasks.invoice_extraction.proposing import propose_all
from tasks.invoice_extraction.reading import document_inputs, load_document

if TYPE_CHECKING:
    import instructor

    from opsgate import PastCase, Policy, Prompt, Proposal
    from tasks.invoice_extraction.backends import Backend


WORKFLOW = "invoice_extraction"


@dataclass(frozen=True)
class Reader:
    """Who reads for a version: the backend, and the prompt the LLM reads with (none for the rules)."""

    backend: Backend
    prompt: Prompt | None = None


def reader_for(version: str, prompts: Path | None = None) -> Reader:
    """The reader that stamps ``version`` on what it reads, with its prompt from ``prompts`` (the
    workflow's folder by default); a version it cannot produce is refused with what can be named instead."""

    if version == RULES_VERSION:
        return Reader("rules")
    others = (
        f"{RULES_VERSION} (rules), {PROMPT_NAME}.v<N> (the LLM with that prompt file; {PINNED}) "
        f"or {RULES_VERSION}+{PROMPT_NAME}.v<N> (rules, then the LLM); any of them followed by {WITH_HISTORY} "
        f"(with the vendor memory of each case's day), or {MEMORY_RELEASE} (each case's own reader with that memory)"
    )
    prompt = replayed_prompt(
        prompts or PROMPTS, PROMPT_NAME, version, others, ident=version.removeprefix(f"{RULES_VERSION}+")
    )
    return Reader("auto" if version.startswith(f"{RULES_VERSION}+") else "llm", prompt)


def _changed(case: PastCase, stored: str, now: str) -> Unavailable:

    return Unavailable(
        source=case.source, reason=f"the document changed since it was proposed: sha256 {stored[:12]} now {now}"
    )


def _read_again(case: PastCase, max_bytes: int) -> bytes | Unavailable | Extraction:
    """The bytes of the case's document if they are still the ones it was proposed from; else why
    it is no longer available, or the failed extraction a live run would also get for the file."""

    stored = case.inputs.get("sha256")  # none for cases stored before digests were kept: read as the file is
    try:
        data = load_document(Path(case.source), max_bytes)
    except ExtractionError as exc:
        if exc.reason == "not_found":
            return Unavailable(source=case.source, reason=f"the document is gone: no file at {case.source}")
        if stored and exc.reason == "empty":
            return _changed(case, stored, "an empty file")
        return Extraction(source=case.source, status="error", error=str(exc))
    now = document_inputs(data)["sha256"]
    if stored and now != stored:
        return _changed(case, stored, now[:12])
    return data


def _read_with_memory_of_then(cases: list[PastCase], extractions: dict[str, Extraction]) -> None:
    """Each case's extraction read again with the memory as it stood when the case was proposed."""

    learnt = history.learnt_history()
    for case in cases:
        if case.proposal_id in extractions:
            memory = history.as_of(learnt, case.created_at, leave_out=f"proposal:{case.proposal_id}")
            extractions[case.proposal_id] = with_memory(extractions[case.proposal_id], memory)


def _without_own_posting(cases: list[PastCase], proposals: list[Proposal]) -> None:
    """A case people posted is in the ledger now: the double-payment check must not find the case's
    own posting, only another one (one live posting per vendor and invoice number)."""

    posted = live_postings_of(case.proposal_id for case in cases)
    own = {proposal_id: (row.vendor_key, row.invoice_number) for proposal_id, row in posted.items()}
    for case, proposal in zip(cases, proposals, strict=True):
        payload = proposal.payload or {}
        if (
            case.proposal_id in own
            and (vendor_key(payload.get("vendor_name")), str(payload.get("invoice_number", "")).strip())
            == own[case.proposal_id]
        ):
            proposal.escalations = [
                e for e in proposal.escalations if e.reason is not EscalationReason.POSSIBLE_DUPLICATE
            ]


def replay(
    cases: list[PastCase],
    version: str,
    policy: Policy,
    client: instructor.Instructor | None = None,
    prompts: Path | None = None,
) -> list[Proposal | Unavailable]:
    """One new proposal per past case, in order, or why its document can no longer be read as it
    was, under ``policy``'s required fields. The LLM versions read with their prompt from
    ``prompts`` (the workflow's folder by default) and use ``client``, or the configured endpoint
    when none is given. Each document is read once: its bytes are checked against the case's
    digest before anything reads them, so a changed document costs no model call; what parses them
    runs in reader processes (``batch``)."""

    if version == MEMORY_RELEASE:
        return _replay_memory(cases, policy, client, prompts)
    learnt = version.endswith(WITH_HISTORY)
    reader = reader_for(version.removesuffix(WITH_HISTORY), prompts)
    required = tuple(policy.escalation.missing_data.fields if policy.escalation.missing_data else [])
    options = read_options(reader.backend)
    read = [(case, _read_again(case, options.max_bytes)) for case in cases]
    if reader.backend != "rules" and client is None and any(isinstance(found, bytes) for _, found in read):
        client = llm_client()
    unavailable = {case.proposal_id: found for case, found in read if isinstance(found, Unavailable)}
    failed = {case.proposal_id: found for case, found in read if isinstance(found, Extraction)}
    loaded = [(case, found) for case, found in read if isinstance(found, bytes)]
    jobs = [ReadJob(Path(case.source), case.source, required, options, data) for case, data in loaded]
    extractions = {
        **failed,
        **dict(
            zip(
                (case.proposal_id for case, _ in loaded),
                extract_documents(jobs, client=client, prompt=reader.prompt),
                strict=True,
            )
        ),
    }
    if learnt:
        _read_with_memory_of_then(cases, extractions)
    present = [case for case in cases if case.proposal_id in extractions]
    proposals = propose_all([extractions[case.proposal_id] for case in present], policy)
    _without_own_posting(present, proposals)
    new: dict[str, Proposal | Unavailable] = {
        **unavailable,
        **dict(zip((case.proposal_id for case in present), proposals, strict=True)),
    }
    return [new[case.proposal_id] for case in cases]


def _replay_memory(
    cases: list[PastCase], policy: Policy, client: instructor.Instructor | None, prompts: Path | None
) -> list[Proposal | Unavailable]:
    """Each case read again by the reader that proposed it, with the memory as it stood then. An
    e-invoice's XML is found by the rules backend again, before any text is read."""
    by_reader: dict[str, list[PastCase]] = {}
    for case in cases:
        reader = RULES_VERSION if case.instruction_version == XML_VERSION else case.instruction_version
        by_reader.setdefault(reader, []).append(case)
    new: dict[str, Proposal | Unavailable] = {}
    for reader, group in by_reader.items():
        results = replay(group, reader + WITH_HISTORY, policy, client, prompts)
        new.update(zip((case.proposal_id for case in group), results, strict=True))
    return [new[case.proposal_id] for case in cases]
