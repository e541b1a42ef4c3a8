"""`opsgate users` and an approver's password at `opsgate approvals approve --as`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ConfigurationError
from opsgate.governance.requests import PendingRequest
from opsgate.orchestration import resume, server
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditRow, UserRow
from tests.support.batches import open_request, proposed_batch, write_inbox

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def no_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision is recorded; the run is not there to be woken (it finds the decision itself)."""

    @contextmanager
    def api() -> Iterator[str]:
        yield "http://127.0.0.1:9/api"

    def not_paused(request: PendingRequest, timeout: float = 60) -> None:
        raise ConfigurationError("no run waits")

    monkeypatch.setattr(server, "prefect_api", api)
    monkeypatch.setattr(resume, "wait_until_resumable", not_paused)


def test_add_list_and_disable_accounts(opsgate_env: str) -> None:
    added = runner.invoke(app, ["users", "add", "Alice", "--password", PASSWORD])
    assert added.exit_code == 0, added.output
    prompted = runner.invoke(app, ["users", "add", "bob"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output, "the prompt is hidden"
    again = runner.invoke(app, ["users", "add", "alice", "--password", PASSWORD])
    assert again.exit_code == 2 and "already has an account" in again.output
    assert runner.invoke(app, ["users", "disable", "bob"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)
    assert [(u["name"], u["disabled"]) for u in listed] == [("Alice", False), ("bob", True)]
    with transaction() as session:
        hashes = [u.password_hash for u in session.execute(select(UserRow)).scalars()]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_a_disabled_account_is_enabled_again_and_a_password_replaced(opsgate_env: str) -> None:
    from opsgate.errors import ApprovalRejected
    from opsgate.governance import identity

    assert runner.invoke(app, ["users", "add", "bob", "--password", PASSWORD]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "bob"]).exit_code == 0
    assert runner.invoke(app, ["users", "enable", "bob"]).exit_code == 0
    assert identity.verify_password("bob", PASSWORD) == "password"
    new = "another long passphrase"
    changed = runner.invoke(app, ["users", "password", "bob"], input=f"{new}\n{new}\n")
    assert changed.exit_code == 0 and new not in changed.output, changed.output
    with pytest.raises(ApprovalRejected):
        identity.verify_password("bob", PASSWORD)
    assert identity.verify_password("bob", new) == "password"
    short = runner.invoke(app, ["users", "password", "bob", "--password", "short"])
    assert short.exit_code == 2 and "at least" in short.output


def test_sign_out_ends_every_review_session_of_a_person(opsgate_env: str) -> None:
    from opsgate.governance import signins

    tokens = [signins.open_session("bob", "oidc", ("finance-ap",)) for _ in range(2)]
    ended = runner.invoke(app, ["users", "sign-out", "Bob"])
    assert ended.exit_code == 0 and "2 review-screen session(s)" in ended.output, ended.output
    assert [signins.session_of(t) for t in tokens] == [None, None]
    assert "0 review-screen session(s)" in runner.invoke(app, ["users", "sign-out", "bob"]).output


def test_approve_as_an_account_holder_needs_the_password(
    opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_prefect: None
) -> None:
    request = open_request(proposed_batch(write_inbox(tmp_path / "inbox")))
    assert runner.invoke(app, ["users", "add", "alice", "--password", PASSWORD]).exit_code == 0
    command = ["approvals", "approve", request.flow_run_id, "--as", "alice"]

    wrong = runner.invoke(app, command, env={"OPSGATE_APPROVER_PASSWORD": "not the password"})
    assert wrong.exit_code == 3 and "do not match an enabled account" in wrong.output
    with transaction() as session:
        assert session.execute(select(ApprovalRow)).first() is None, "nothing is recorded"

    approved = runner.invoke(app, command, env={"OPSGATE_APPROVER_PASSWORD": PASSWORD})
    assert approved.exit_code == 0, approved.output
    with transaction() as session:
        events = session.execute(select(AuditRow).where(AuditRow.event == "approved")).scalars().all()
    assert len(events) == 3 and {e.data["authenticated_by"] for e in events} == {"password"}


def test_reject_asks_for_the_password_at_a_hidden_prompt(
    opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_prefect: None
) -> None:
    monkeypatch.delenv("OPSGATE_APPROVER_PASSWORD", raising=False)
    request = open_request(proposed_batch(write_inbox(tmp_path / "inbox")))
    assert runner.invoke(app, ["users", "add", "alice", "--password", PASSWORD]).exit_code == 0
    rejected = runner.invoke(
        app,
        ["approvals", "reject", request.flow_run_id, "--as", "alice", "--reason", "duplicates"],
        input=f"{PASSWORD}\n",
    )
    assert rejected.exit_code == 0, rejected.output
    with transaction() as session:
        events = session.execute(select(AuditRow).where(AuditRow.event == "rejected")).scalars().all()
    assert len(events) == 3 and {e.data["authenticated_by"] for e in events} == {"password"}
