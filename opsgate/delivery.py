"""Posting a published report to the channels its approval named, after the write committed.

A webhook cannot join the store's transaction, so the reports writer records each channel as
``pending`` and this step posts afterwards: at least once per channel, with the same idempotency
key on every attempt so a receiver can drop repeats. Each result is kept on the report and in
the audit log; a channel that cannot be reached goes to the workflow's owner, while the report
stays published (the store, not the chat message, is the record).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from opsgate import audit
from opsgate.audit import AuditEvent
from opsgate.channels import DeliveryFailed, Message, post
from opsgate.errors import ConfigurationError
from opsgate.models import EscalationReason
from opsgate.policy.schema import Policy
from opsgate.reports import narrative_markdown
from opsgate.store.db import transaction
from opsgate.store.tables import ReportRow, RunRow
from opsgate.summaries import Summary

logger = logging.getLogger(__name__)

DELIVERY = "opsgate-delivery"


def _message(row: ReportRow, link: str | None) -> Message:
    summary = Summary.model_validate(row.narrative)
    return Message(
        event="report.published", title=row.title, text=narrative_markdown(summary), link=link,
        fields={"subject": row.subject, "report": str(row.id)}, data={"report_id": row.id, "subject": row.subject, "narrative": row.narrative},
    )


def _link(flow_run_id: str | None) -> str | None:
    from opsgate.orchestration.server import configured_api_url, ui_url

    api = configured_api_url()
    return ui_url(api, flow_run_id) if api and flow_run_id else None


def deliver_report(policy: Policy, report_id: int, run_id: str) -> dict[str, str]:
    """Post the report to each of its channels not yet delivered; returns each channel's status."""
    with transaction() as session:
        row = session.get(ReportRow, report_id)
        assert row is not None, f"report {report_id} was just published"
        run = session.get(RunRow, run_id)
        message = _message(row, _link(run.flow_run_id if run else None))
        pending = [name for name in row.channels if row.deliveries.get(name, {}).get("status") != "delivered"]
    results: dict[str, dict[str, object]] = {}
    for name in pending:
        channel = policy.channels.get(name)
        try:
            if channel is None:
                raise ConfigurationError(f"the policy defines no channel {name!r}")
            delivery = post(name, channel, message, idempotency_key=f"{policy.workflow}-report-{report_id}-{name}")
        except (DeliveryFailed, ConfigurationError) as exc:
            logger.warning("report %s was not posted to %s: %s", report_id, name, exc)
            results[name] = {"status": "failed", "error": str(exc)}
        else:
            results[name] = {"status": "delivered", "status_code": delivery.status_code, "attempts": delivery.attempts}
        results[name]["at"] = datetime.now(timezone.utc).isoformat()
    with transaction() as session:
        row = session.get(ReportRow, report_id, with_for_update=True)
        assert row is not None
        row.deliveries = {**row.deliveries, **results}
        for name, result in results.items():
            common = {"workflow": policy.workflow, "run_id": run_id, "proposal_id": row.proposal_id}
            event = AuditEvent.DELIVERED if result["status"] == "delivered" else AuditEvent.DELIVERY_FAILED
            audit.append(session, event, actor=DELIVERY, **common, data={"report": report_id, "channel": name, **result})
            if event is AuditEvent.DELIVERY_FAILED and policy.escalation.tool_failure:
                audit.append(session, AuditEvent.ESCALATED, actor=DELIVERY, **common, data={
                    "source": row.subject, "to": f"{policy.owner.name} <{policy.owner.contact}>", "case_goes_on": True,
                    "reasons": [{"reason": EscalationReason.TOOL_FAILURE, "field": "channels", "detail": f"report {report_id} not posted to {name}: {result['error']}"}],
                })
    return {name: str(result["status"]) for name, result in results.items()}
