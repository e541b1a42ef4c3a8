"""Escalated cases on the review screen: the ones the signed-in person may close, and closing one.

Closing is the answer a person gives most often to an escalation (dealt with elsewhere, not ours),
and the one that needs no run: it is recorded here in the signed-in name, proven by the sign-in,
through ``governance.escalations.close``, which holds it to the policy as the CLI's is. Taking a
case up needs a run that waits at the gate, so the page shows the command for it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsgate.errors import InputError
from opsgate.governance import escalations
from opsgate.web import sessions
from opsgate.web.pages import signed_in
from opsgate.web.sessions import Visitor

router = APIRouter()
REASON_LENGTH = 500  # a reason is a sentence for the audit log, not a document


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
