"""One check for every way an answer arrives. Under a policy with `approvals.identity: verified`, a
real run waits at its gate in a process of its own, and the same approver answers it every way
there is: through Prefect's API (what the Prefect UI's Resume form posts), through the CLI without
an account, through the CLI with a wrong password, and on the review screen, signed in. Only the
last decides; every refusal is audited and the run waits again. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsgate.governance import identity
from opsgate.governance.answers import answer_for
from opsgate.store.tables import ApprovalRow
from tests.faults.test_forged_answers import payables, refused_events, repaused, resume
from tests.support.batches import write_inbox
from tests.support.policies import use_policy_variant
from tests.support.processes import cli, paused_request, start
from tests.support.review_server import review_server
from tests.unit.platform.conftest import StoreProbe

PASSWORD = "correct horse battery"
VERIFIED = "the policy requires a verified approver"


def _verified(policy: dict[str, Any]) -> None:
    policy["approvals"]["identity"] = "verified"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_under_verified_identity_every_path_meets_the_one_check(
    flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _verified)
    identity.add_user("carol", PASSWORD, by="test")
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    store = StoreProbe()
    try:
        request = paused_request(run)

        # the Prefect UI and any API client: a name typed into the form
        resume(flow_env, request, answer_for(request, "carol").model_dump(mode="json"))
        request = repaused(request)
        assert VERIFIED in " ".join(refused_events()[-1].data["problems"])

        # the CLI, for someone without an account, and for carol with a wrong password
        monkeypatch.setenv(identity.PASSWORD_ENV, "not the password")
        for name in ("dana", "carol"):
            refused = cli("approvals", "approve", request.flow_run_id, "--as", name)
            assert refused.returncode != 0 and identity.REFUSED in refused.stdout + refused.stderr
        assert [e.data["name"] for e in store.events("sign_in_failed")] == ["dana", "carol"]
        assert not store.rows(ApprovalRow) and payables() == 0

        # the review screen, signed in with carol's password
        with review_server(monkeypatch) as base, httpx.Client(base_url=base) as browser:
            token = _csrf(browser.get("/login").text)
            signed = browser.post("/login", data={"username": "carol", "password": PASSWORD, "csrf": token})
            assert signed.status_code == 303
            page = browser.get(f"/runs/{request.flow_run_id}", follow_redirects=True)
            assert page.status_code == 200 and f"/requests/{request.id}" in str(page.url)
            decided = browser.post(
                f"/requests/{request.id}",
                data={
                    "csrf": _csrf(page.text),
                    "batch_digest": request.digest,
                    **{f"d.{p.id}": "approve" for p in request.proposals},
                },
            )
            assert decided.status_code == 303, decided.text
        output, _ = run.communicate(timeout=180)
        assert run.returncode == 0, output
    finally:
        if run.poll() is None:
            run.kill()
    assert payables() == 3
    assert {
        (a.approver, e.data["authenticated_by"]) for a, e in zip(store.rows(ApprovalRow), store.events("approved"))
    } == {("carol", "password")}
    assert len(refused_events()) == 1, "the typed answer; the CLI refused the others before they were answers"
