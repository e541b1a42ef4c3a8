"""The invoice workflow's replay: read the documents of past cases again with another instruction version.

A case's input is the document at its ``source`` path. Nothing about the document itself was
stored with the case (no digest of its bytes), so a file that is gone is reported as no longer
available; one changed in place cannot be told from the original.

The version picks the reader: the rules' version the rules backend, the current prompt's version
the LLM, the two joined with ``+`` the ``auto`` backend (rules first, the LLM for what they miss).
Only the current prompt can be chosen: extraction reads the newest prompt file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from opsgate.errors import ConfigurationError
from opsgate.models import EscalationReason

if TYPE_CHECKING:
    import instructor

    from opsgate.models import Proposal
    from opsgate.policy.schema import Policy
    from opsgate.replay import PastCase, Unavailable
    from tasks.invoice_extraction.backends import Backend

WORKFLOW = "invoice_extraction"


def backend_for(version: str) -> Backend:
    """The backend that stamps ``version`` on what it reads; a version it cannot produce is refused."""
    from tasks.invoice_extraction.backends import RULES_VERSION
    from tasks.invoice_extraction.llm_extraction import prompt

    current = prompt()
    llm = {current.ident, f"{current.name}.v{current.version}"}
    backends: dict[str, Backend] = {RULES_VERSION: "rules", **{name: "llm" for name in llm}, **{f"{RULES_VERSION}+{name}": "auto" for name in llm}}
    if version not in backends:
        raise ConfigurationError(
            f"instruction version {version!r} cannot be replayed; this installation reads with {RULES_VERSION} (rules), {current.ident} (LLM) "
            f"or {RULES_VERSION}+{current.ident} (rules, then the LLM); another prompt version cannot be chosen yet",
        )
    return backends[version]


def _without_own_posting(cases: list[PastCase], proposals: list[Proposal]) -> None:
    """A case people posted is in the ledger now: the double-payment check must not find the case's
    own posting, only another one (one live posting per vendor and invoice number)."""
    from sqlalchemy import select

    from opsgate.store.db import transaction
    from opsgate.store.tables import PayableRow
    from opsgate.writers.payables import vendor_key

    ids = [case.proposal_id for case in cases]
    with transaction() as session:
        rows = session.execute(select(PayableRow).where(PayableRow.proposal_id.in_(ids), PayableRow.status == "posted")).scalars()
        own = {row.proposal_id: (row.vendor_key, row.invoice_number) for row in rows}
    for case, proposal in zip(cases, proposals, strict=True):
        payload = proposal.payload or {}
        if case.proposal_id in own and (vendor_key(payload.get("vendor_name")), str(payload.get("invoice_number", "")).strip()) == own[case.proposal_id]:
            proposal.escalations = [e for e in proposal.escalations if e.reason is not EscalationReason.POSSIBLE_DUPLICATE]


def replay(cases: list[PastCase], version: str, policy: Policy, client: instructor.Instructor | None = None) -> list[Proposal | Unavailable]:
    """One new proposal per past case, in order, or why its document can no longer be read, under
    ``policy``'s required fields. The LLM versions use ``client``, or the configured endpoint when none is given."""
    from opsgate.llm import llm_client
    from opsgate.replay import Unavailable
    from opsgate.settings import get_settings
    from tasks.invoice_extraction.extracting import extract_document
    from tasks.invoice_extraction.proposing import propose_all

    backend = backend_for(version)
    required = policy.escalation.missing_data.fields if policy.escalation.missing_data else []
    settings = get_settings()
    present = [case for case in cases if Path(case.source).is_file()]
    if backend != "rules" and present and client is None:
        client = llm_client()
    extractions = [
        extract_document(Path(case.source), required, max_bytes=settings.max_document_bytes, backend=backend, client=client) for case in present
    ]
    proposals = propose_all(extractions, policy)
    _without_own_posting(present, proposals)
    new = dict(zip((case.proposal_id for case in present), proposals, strict=True))
    return [new.get(case.proposal_id) or Unavailable(source=case.source, reason=f"the document is gone: no file at {case.source}") for case in cases]
