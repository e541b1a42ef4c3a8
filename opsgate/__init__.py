"""opsgate's public face: what a workflow (``flows/``, ``tasks/``) may use of the platform.

A workflow imports these names from ``opsgate`` and nothing deeper (a test walks the imports), so
the platform can move its insides without touching a workflow. Names load on first use (a module
``__getattr__``): ``opsgate --help`` reads the workflow specs without importing the store, Prefect
or pydantic.

The groups, in the order a workflow meets them:
- plugging in: ``WorkflowSpec``, ``Command``;
- a run, as a flow body walks it: ``start_run``, ``check_policy``, ``gate``, ``execute``,
  ``settle_mailbox`` (a run that read a mailbox), ``finish_run``, with ``Run``, ``Policy``,
  ``load_policy`` and the shared models (``Proposal``, ``Escalation``, ``Outcome``,
  ``RunSummary``...);
- the kinds of write the executor knows (a new kind is a platform change): payables, record
  merges, report publications, ticket routings;
- proposing: the LLM client and versioned prompts;
- reading untrusted inputs: isolated readers, ``fan_out`` over a Dask cluster for a large input,
  tabular records, quarantine; a mailbox's messages
  and their attachments (``mailbox_named``, ``take_mail``, ``unpack_attachments``, ``refuse_mail``,
  ``settle_mail``);
- showing text others wrote: ``terminal_text``, ``markdown_text``;
- learning hooks: escalated cases people took up or said were not ours, past cases for replay, shadow cases and comparisons for evaluation, metrics;
- report content: fact sheets, charts, summaries, figures checked against facts, delivery;
- settings, errors, and ``exits_cleanly`` for a workflow's own commands.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, tuple[str, str]] = {
    name: (module, attribute or name)
    for module, names in {
        "opsgate.workflows": "WorkflowSpec Command",
        "opsgate.orchestration.steps": "start_run check_policy execute settle_mailbox finish_run",
        "opsgate.orchestration.gate": "gate",
        "opsgate.orchestration.fanout": "fan_out",
        "opsgate.orchestration.server": "run_link",
        "opsgate.governance.runs": "Run",
        "opsgate.governance.escalations": "cases_not_ours=not_ours",
        "opsgate.store.audit": "AuditEvent",
        "opsgate.governance.activity": "activity_in_window proposed_actions",
        "opsgate.policy.runtime": "Policy",
        "opsgate.policy.loader": "load_policy workflow_settings",
        "opsgate.models": "Proposal Escalation EscalationReason Outcome Status RunSummary TakeUpField digest",
        "opsgate.writers.payables": "PayablePosting CENT vendor_key known_vendors posted_among",
        "opsgate.writers.records": "RecordMerge RecordsMerge",
        "opsgate.writers.payables_ledger": "look_up live_postings_of postings_in_window WeekPosting",
        "opsgate.writers.record_sets": "import_record_set live_record_set mark_matched approved_pairs records_merged_in_window ImportCounts",
        "opsgate.writers.reports": "ReportPublication",
        "opsgate.writers.tickets": "TicketRouting RoutedTicket routed_tickets tickets_in_window TicketsWindow",
        "opsgate.proposing.llm": "llm_client ask LlmInvalidAnswer LlmRequestRefused LlmUnavailable",
        "opsgate.proposing.prompts": "Prompt PINNED latest_prompt replayed_prompt",
        "opsgate.inputs.isolation": "IsolatedPool Limits MB",
        "opsgate.inputs.isolation_worker": "die_with_parent",
        "opsgate.inputs.quarantine": "quarantine QUARANTINE=FOLDER",
        "opsgate.inputs.tabular": "read_records Records RowProblem",
        "opsgate.inputs.text": "decode_text",
        "opsgate.intake.mailbox": "MailMessage mailbox_named take_mail=take refuse_mail=refuse settle_mail=settle_for",
        "opsgate.intake.attachments": "unpack_attachments Unpacked",
        "opsgate.display": "terminal_text markdown_text bidi_controls",
        "opsgate.learning.replay": "PastCase Unavailable",
        "opsgate.learning.evaluation": "ShadowCase CaseComparison OutcomeComparison OutcomeRow WrongAction",
        "opsgate.learning.metrics": "AgentMetrics agent_metrics",
        "opsgate.learning.documents": "keep_texts learn_documents follow_postings learnt_documents Learnt ApprovedPosting",
        "opsgate.learning.fitted": "save_fitted latest_fitted fitted_model FittedModel",
        "opsgate.learning.trained": "save_trained latest_trained trained_version TrainedModel",
        "opsgate.reports.sheets": "FactSheet Chart StoredSheet load_sheet save_sheet published_report render_markdown stored_sheets",
        "opsgate.reports.summaries": "Summary",
        "opsgate.reports.figures": "Facts Figure figures_in matches numeric_facts",
        "opsgate.notify.delivery": "deliver_report",
        "opsgate.settings": "get_settings",
        "opsgate.errors": "OpsgateError ConfigurationError InputError ExtractionError ExecutionError",
        "opsgate.cli.errors": "exits_cleanly",
    }.items()
    for name, _, attribute in (entry.partition("=") for entry in names.split())
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the module that holds ``name`` the first time someone asks for it."""
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'opsgate' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
