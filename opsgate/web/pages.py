"""The queue and the request page: what waits on the signed-in approver, and deciding it.

An answer made here is built from the form and the session: the approver, how they were
authenticated and the groups that vouched come from the session, never from the form. It is
handed to ``orchestration.resume.submit``, which records it through the same checks as every other
path (``governance.review``) and wakes the paused run; a refused answer is shown on the page with
every reason, and the person's entries are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from opsgate.errors import ApprovalRejected, ExecutionError
from opsgate.governance import requests
from opsgate.governance.answers import ApprovalAnswer, Review, answer_for
from opsgate.governance.escalations import closable_by
from opsgate.governance.requests import PendingRequest
from opsgate.governance.waiting import Waiting, sure_pages, waiting_for, waits_on
from opsgate.models import Proposal
from opsgate.reports.sheets import stored_sheets
from opsgate.web import sessions
from opsgate.web.page_reading import Span
from opsgate.web.previews import PreviewUnavailable
from opsgate.web.rendering import page
from opsgate.web.sessions import Visitor
from opsgate.writers import action_writer

router = APIRouter()
SURE = 0.95  # "approve all above": a proposal every one of whose values is at least this sure
UNSURE = 0.8  # below this a value is shown as doubtful
MAX_FORM_FIELDS = 50_000


class SignInRequired(Exception):
    """Raised by ``signed_in`` for a visitor without a session: the app sends pages to /login, the API a 401."""


def signed_in(request: Request) -> Visitor:
    who = sessions.visitor(request)
    if who is None:
        raise SignInRequired
    return who


@dataclass(frozen=True)
class Field:
    """One value of a proposed action as the page shows it."""

    name: str
    value: str
    editable: bool
    confidence: float | None
    reasons: list[str]

    @property
    def level(self) -> str:
        if self.confidence is None:
            return "unknown"
        return "high" if self.confidence >= SURE else "mid" if self.confidence >= UNSURE else "low"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def fields(proposal: Proposal) -> list[Field]:
    """The action's values, least sure first (the ones a person should look at), then as proposed."""
    reasons: dict[str, list[str]] = {}
    for escalation in proposal.escalations:
        reasons.setdefault(escalation.field or "", []).append(escalation.describe())
    writer = action_writer(proposal.tool)
    fixed = writer.fixed if writer else frozenset()
    shown = [
        Field(
            name=name,
            value=_text(value),
            editable=(value is None or isinstance(value, (str, int, float))) and name not in fixed,
            confidence=proposal.confidence.get(name),
            reasons=reasons.get(name, []),
        )
        for name, value in (proposal.payload or {}).items()
        if name != "source"  # the document itself: the card's heading and the source beside it
    ]
    order = {f.name: i for i, f in enumerate(shown)}
    return sorted(shown, key=lambda f: (f.confidence if f.confidence is not None else 2.0, order[f.name]))


def sureness(proposal: Proposal) -> float | None:
    """The least sure of the proposal's values (None when it states no confidence)."""
    return min(proposal.confidence.values()) if proposal.confidence else None


def _request(request_id: int) -> PendingRequest:
    found = requests.pending_request(request_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"approval request {request_id} is not waiting for a decision")
    return found


def _mine(request_id: int, who: Visitor) -> PendingRequest:
    """The pending request, when it waits on this person; 403 otherwise (its documents are not theirs to see)."""
    found = _request(request_id)
    if not waits_on(found, who.name, who.groups):
        raise HTTPException(
            status_code=403, detail="this request does not wait on you: the policy does not let you decide all of it"
        )
    return found


@dataclass(frozen=True)
class RunPages:
    """The pages of one run that wait on the visitor: what "approve the sure pages" would answer from."""

    flow_run_id: str
    workflow: str
    pages: int
    proposals: int


def _by_run(waiting: list[Waiting]) -> list[RunPages]:
    runs: dict[str, list[PendingRequest]] = {}
    for w in waiting:
        runs.setdefault(w.request.flow_run_id, []).append(w.request)
    return [
        RunPages(flow_run_id, pages[0].workflow, len(pages), sum(len(p.proposals) for p in pages))
        for flow_run_id, pages in runs.items()
    ]


@router.get("/")
def queue(request: Request, who: Visitor = Depends(signed_in)) -> Response:
    flash = request.session.pop("flash", "")
    waiting = waiting_for(who.name, who.groups)
    escalated = closable_by(who.name, who.groups)
    context = {"waiting": waiting, "runs": _by_run(waiting), "flash": flash, "sure": SURE, "escalated": escalated}
    return page(request, "queue.html", context)


@router.get("/api/queue")
def queue_json(who: Visitor = Depends(signed_in)) -> Response:
    return JSONResponse(
        [
            {
                "request": w.request.id,
                "flow_run_id": w.request.flow_run_id,
                "workflow": w.request.workflow,
                "proposals": len(w.request.proposals),
                "requested_at": w.request.requested_at.isoformat(),
                "deadline": w.request.deadline.isoformat(),
                "second_approval": w.second_approval,
                "url": f"/requests/{w.request.id}",
            }
            for w in waiting_for(who.name, who.groups)
        ]
    )


def _request_page(
    request: Request, found: PendingRequest, entered: dict[str, str], problems: list[str], status: int = 200
) -> Response:
    cards = [
        {"proposal": p, "fields": fields(p), "sureness": sureness(p), "name": Path(p.source).name or p.source}
        for p in found.proposals
    ]
    context = {"found": found, "cards": cards, "entered": entered, "problems": problems, "sure": SURE}
    return page(request, "request.html", context, status)


@router.get("/runs/{flow_run_id}")
def run_page(request: Request, flow_run_id: str, who: Visitor = Depends(signed_in)) -> Response:
    """The address notifications and the Prefect run link to: the request the run waits on now."""
    found = requests.next_request(flow_run_id)
    if found is None:
        request.session["flash"] = "that run waits for no decision now"
        return RedirectResponse("/", status_code=303)
    return RedirectResponse(f"/requests/{found.id}", status_code=303)


@router.get("/requests/{request_id}")
def request_page(request: Request, request_id: int, who: Visitor = Depends(signed_in)) -> Response:
    return _request_page(request, _mine(request_id, who), {}, [])


def answer_from(found: PendingRequest, who: Visitor, form: dict[str, str]) -> ApprovalAnswer:
    """The answer the form says, in the signed-in person's name: a review for each decided proposal
    (an undecided one is left out, and the check says so), values the person changed as edits."""
    reviews = []
    for proposal in found.proposals:
        decision = form.get(f"d.{proposal.id}", "")
        if decision not in ("approve", "reject"):
            continue
        edits = {}
        if decision == "approve":
            for field in fields(proposal):
                sent = form.get(f"f.{proposal.id}.{field.name}")
                if field.editable and sent is not None and sent != field.value:
                    edits[field.name] = sent if sent.strip() else None
        reviews.append(
            Review(
                proposal_id=proposal.id,
                source=proposal.source,
                decision="edit" if edits else decision,
                reason=form.get(f"r.{proposal.id}", ""),
                fields=edits,
            )
        )
    return ApprovalAnswer(
        approver=who.name,
        batch_digest=form.get("batch_digest", ""),
        reviews=reviews,
        authenticated_by=who.authenticated_by,
        approver_groups=list(who.groups),
    )


@router.post("/requests/{request_id}")
async def answer(request: Request, request_id: int, who: Visitor = Depends(signed_in)) -> Response:
    form = {k: v for k, v in (await request.form(max_fields=MAX_FORM_FIELDS)).items() if isinstance(v, str)}
    sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    found = _request(request_id)
    try:
        answer = answer_from(found, who, form)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]]
        return _request_page(request, found, form, problems, 422)
    from starlette.concurrency import run_in_threadpool

    from opsgate.orchestration.resume import RESUMED, submit

    try:
        woken = await run_in_threadpool(submit, found, answer)
    except ApprovalRejected as exc:
        return _request_page(request, found, form, [str(exc)], 409)
    approved = sum(r.decision != "reject" for r in answer.reviews)
    what = f"approved {approved}, rejected {len(answer.reviews) - approved} of {found.workflow} request {found.id}"
    request.session["flash"] = f"{what}; the run resumes" if woken == RESUMED else f"{what}, recorded; {woken}"
    return RedirectResponse("/", status_code=303)


@router.post("/runs/{flow_run_id}/approve-sure")
async def approve_sure(request: Request, flow_run_id: str, who: Visitor = Depends(signed_in)) -> Response:
    """Approve, in one answer of the visitor's, every page of the run that waits on them and whose
    values were all read at least as surely as the form says (``waiting.sure_pages``): each page
    recorded as its own decision through the same checks, the run woken once. The other pages
    stay in the queue for a closer look."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    try:
        at_least = float(form.get("at_least", ""))
    except ValueError:
        at_least = -1.0
    if not 0 <= at_least <= 1:
        request.session["flash"] = "the confidence to approve from is a number from 0 to 1"
        return RedirectResponse("/", status_code=303)
    mine = sorted(
        (w.request for w in waiting_for(who.name, who.groups) if w.request.flow_run_id == flow_run_id),
        key=lambda r: r.id,
    )
    from starlette.concurrency import run_in_threadpool

    sure = await run_in_threadpool(sure_pages, mine, at_least)
    answers = [
        (found, answer_for(found, who.name, authenticated_by=who.authenticated_by, approver_groups=who.groups))
        for found in sure
    ]
    from opsgate.orchestration.resume import RESUMED, submit_pages

    try:
        woken = await run_in_threadpool(submit_pages, answers)
    except ApprovalRejected as exc:
        request.session["flash"] = f"not accepted: {exc}"
        return RedirectResponse("/", status_code=303)
    approved = sum(len(found.proposals) for found in sure)
    what = (
        f"approved {approved} proposals on {len(sure)} of {len(mine)} pages of run {flow_run_id[:8]} read at {at_least} or more"
        if sure
        else f"no page of run {flow_run_id[:8]} that waits on you is read at {at_least} or more; nothing approved"
    )
    unsure = len(mine) - len(sure)
    left = (
        f"; {unsure} page{'s' if unsure > 1 else ''} wait{'' if unsure > 1 else 's'} for a closer look"
        if sure and unsure
        else ""
    )
    if woken is None:
        waits = requests.next_request(flow_run_id)
        state = f"; the run goes on once page {waits.page or 1} is decided" if sure and waits is not None else ""
    else:
        state = "; the run resumes" if woken == RESUMED else f"; {woken}"
    request.session["flash"] = what + left + state
    return RedirectResponse("/", status_code=303)


def _proposal(found: PendingRequest, proposal_id: str) -> Proposal:
    proposal = next((p for p in found.proposals if p.id == proposal_id), None)
    if proposal is None:
        raise HTTPException(status_code=404, detail="no such proposal in this request")
    return proposal


@router.get("/requests/{request_id}/proposals/{proposal_id}/source")
def source(request: Request, request_id: int, proposal_id: str, who: Visitor = Depends(signed_in)) -> Response:
    """The source beside the proposal: the document with each value's place marked, the records
    a merge folds together, or the message a routing was proposed from (as the case kept it: its
    text, not the raw MIME, which a person cannot read and a browser must never interpret)."""
    found = _mine(request_id, who)
    proposal = _proposal(found, proposal_id)
    values = {f.name: f.value for f in fields(proposal) if f.editable}
    records = proposal.inputs.get("records") if isinstance(proposal.inputs.get("records"), list) else None
    report = draft(proposal)
    message = proposal.inputs if isinstance(proposal.inputs.get("text"), str) and "request" in proposal.inputs else None
    located = records is None and report is None and message is None and proposal.source
    preview = request.app.state.previewer.locate(Path(proposal.source), values) if located else None
    segments = marked(preview.text or "", preview.spans) if preview is not None and preview.kind == "text" else []
    context = {
        "found": found,
        "proposal": proposal,
        "preview": preview,
        "records": records,
        "message": message,
        "segments": segments,
        "draft": report,
    }
    return page(request, "source.html", context)


@dataclass(frozen=True)
class Cited:
    """A sentence of a report draft with the facts it cites, as the fact sheet holds them."""

    text: str
    facts: list[tuple[str, str]]


def draft(proposal: Proposal) -> dict[str, Any] | None:
    """A report draft beside the fact sheet it was written from: each highlight and risk with the
    value of every fact it cites, so the approver checks figures against facts, not memory. None
    for anything but a report."""
    payload = proposal.payload or {}
    if not isinstance(payload.get("fact_sheet"), int):
        return None
    try:
        facts = stored_sheets([payload["fact_sheet"]])[payload["fact_sheet"]].sheet.facts
    except ExecutionError:
        facts = {}

    def cited(items: Any) -> list[Cited]:
        return [
            Cited(
                str(item.get("text", "")),
                [(str(key), _text(facts.get(key, "not on the fact sheet"))) for key in item.get("facts", [])],
            )
            for item in items or []
            if isinstance(item, dict)
        ]

    return {
        "headline": str(payload.get("headline", "")),
        "sections": [("Highlights", cited(payload.get("highlights"))), ("Risks", cited(payload.get("risks")))],
        "actions": [str(a) for a in payload.get("actions") or []],
    }


def marked(text: str, spans: dict[str, list[Span]]) -> list[tuple[str, str | None]]:
    """The text cut into pieces, each with the field whose value it is (None between values); where
    two values overlap, the one that starts first wins."""
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for start, end, field in sorted((s.start, s.end, f) for f, found in spans.items() for s in found):
        if start < at or end <= start:
            continue
        pieces += [(text[at:start], None), (text[start:end], field)]
        at = end
    pieces.append((text[at:], None))
    return [(piece, field) for piece, field in pieces if piece]


@router.get("/requests/{request_id}/proposals/{proposal_id}/pages/{number}.png")
def page_image(
    request: Request,
    request_id: int,
    proposal_id: str,
    number: int,
    width: int = 900,
    who: Visitor = Depends(signed_in),
) -> Response:
    proposal = _proposal(_mine(request_id, who), proposal_id)
    try:
        png = request.app.state.previewer.render_page(Path(proposal.source), number, width)
    except PreviewUnavailable as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=300"})
