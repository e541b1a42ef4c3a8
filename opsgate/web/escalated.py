"""Escalated cases on the review screen: the ones the signed-in person may answer, and answering one.

A case is shown, taken up or closed here only by someone the workflow's policy file lets decide its
type, as the list shows it only to them: the request's words are not for every signed-in person.

Closing is the answer a person gives most often to an escalation (dealt with elsewhere, not ours),
and the one that needs no run: it is recorded here in the signed-in name, proven by the sign-in,
through ``governance.escalations.close``, which holds it to the policy as the CLI's is.

Taking a case up needs a run that proposes it again and waits at the gate. The page asks for the
values the workflow takes (``escalations.take_up_form``), records the request in the signed-in
name (``escalations.ask_take_up``) and starts a run of the take-up deployment with nothing but
the request's id; a worker runs it. Only the values the person changed are sent: what the case
proposed stays as it was, typed or not.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsgate.errors import ConfigurationError, InputError, OpsgateError
from opsgate.governance import escalations
from opsgate.models import Proposal
from opsgate.web import sessions
from opsgate.web.pages import signed_in
from opsgate.web.rendering import page
from opsgate.web.sessions import Visitor

router = APIRouter()
REASON_LENGTH = 500  # a reason is a sentence for the audit log, not a document
VALUE_LENGTH = 2000  # a value a person types for an action: a note, a name, not a document
READ_SHOWN = 4000  # characters shown of each text the case was read from


def _read(case: Proposal) -> list[tuple[str, str]]:
    """The texts the case was proposed from (a request's subject, sender and words), bounded."""
    return [
        (name, value[:READ_SHOWN]) for name, value in (case.inputs or {}).items() if isinstance(value, str) and value
    ]


@router.get("/escalations/{proposal_id}")
async def escalated_case(request: Request, proposal_id: str, who: Visitor = Depends(signed_in)) -> Response:
    try:
        case, fields = await run_in_threadpool(escalations.take_up_form, proposal_id)
        await run_in_threadpool(escalations.answerable_by, case, who.name, who.groups)
    except InputError as exc:
        request.session["flash"] = str(exc)
        return RedirectResponse("/", status_code=303)
    context = {
        "case": case,
        "fields": fields,
        "read": _read(case),
        "longest": VALUE_LENGTH,
        "flash": request.session.pop("flash", ""),
    }
    return page(request, "escalation.html", context)


@router.post("/escalations/{proposal_id}/take")
async def take_up_case(request: Request, proposal_id: str, who: Visitor = Depends(signed_in)) -> Response:
    from opsgate.orchestration.take_up import start_take_up, take_up_deployment

    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    try:
        case, fields = await run_in_threadpool(escalations.take_up_form, proposal_id)
        await run_in_threadpool(escalations.answerable_by, case, who.name, who.groups)
    except InputError as exc:  # not a case this person may see: back to their own list
        request.session["flash"] = f"not taken up: {exc}"
        return RedirectResponse("/", status_code=303)
    here = RedirectResponse(f"/escalations/{proposal_id}", status_code=303)
    try:
        chosen = {
            f.name: sent[:VALUE_LENGTH]
            for f in fields
            if (sent := form.get(f"t.{f.name}")) is not None and sent != f.value
        }
        deployment = await run_in_threadpool(take_up_deployment)
        asked = await run_in_threadpool(escalations.ask_take_up, case.id, chosen, who.name, who.authenticated_by)
    except (InputError, ConfigurationError) as exc:
        request.session["flash"] = f"not taken up: {exc}"
        return here
    try:
        flow_run_id = await run_in_threadpool(start_take_up, deployment, asked)
    except Exception as exc:  # the Prefect server refused or is gone, or another run has the request
        request.session["flash"] = (
            f"your take-up is recorded (request {asked.id[:8]}) but no run started: "
            f"{exc if isinstance(exc, OpsgateError) else f'{type(exc).__name__}: {exc}'}; "
            "the case stays open, ask again or use `opsgate escalations take`"
        )
        return here
    request.session["flash"] = (
        f"case {case.id[:8]} taken up by {who.name}: run {flow_run_id[:8]} proposes it with your values "
        "and waits at the gate for an approver"
    )
    return RedirectResponse("/", status_code=303)


@router.post("/escalations/{proposal_id}/close")
async def close_case(request: Request, proposal_id: str, who: Visitor = Depends(signed_in)) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    reason = form.get("reason", "")[:REASON_LENGTH]
    not_ours = form.get("not_ours") == "1"
    try:
        answer = await run_in_threadpool(
            escalations.close, proposal_id, who.name, reason, not_ours, who.authenticated_by, who.groups
        )
    except InputError as exc:
        request.session["flash"] = f"not closed: {exc}"
    else:
        request.session["flash"] = f"case {proposal_id[:8]} closed ({answer.replace('_', ' ')}) by {who.name}"
    return RedirectResponse("/", status_code=303)
