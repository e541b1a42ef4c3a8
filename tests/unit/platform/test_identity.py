"""Approver identity: local accounts whose passwords are checked, how every answer's approver was
authenticated, and a policy that refuses names that were only typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate.errors import ApprovalRejected, ConfigurationError
from opsgate.governance import identity, requests, review
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide, receive
from opsgate.orchestration.form import approval_form
from opsgate.store.tables import ApprovalRow, UserRow
from tests.support.batches import open_request, proposed_batch
from tests.unit.platform.conftest import StoreProbe

PASSWORD = "correct horse battery"


def _verified(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: Path
) -> requests.PendingRequest:
    from tests.support.policies import use_policy_variant

    use_policy_variant(tmp_path / "policies", monkeypatch, lambda p: p["approvals"].update(identity="verified"))
    return open_request(proposed_batch(inbox))


def test_an_account_keeps_an_argon2_hash_and_checks_the_password(store: StoreProbe) -> None:
    added = identity.add_user(" Alice ", PASSWORD, by="cli:ops")
    (row,) = store.rows(UserRow)
    assert (added.name, row.key, row.disabled) == ("Alice", "alice", False)
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert identity.verify_password("ALICE", PASSWORD) == "password", "names are compared as people type them"
    (event,) = store.events("account_added")
    assert (event.actor, event.data) == ("cli:ops", {"name": "Alice"})
    assert [(u.name, u.disabled) for u in identity.list_users()] == [("Alice", False)]
    with pytest.raises(ConfigurationError, match="already has an account"):
        identity.add_user("alice", PASSWORD, by="cli:ops")
    with pytest.raises(ConfigurationError, match="at least"):
        identity.add_user("bob", "short", by="cli:ops")


def test_a_wrong_password_an_unknown_name_and_a_disabled_account_fail_alike(store: StoreProbe) -> None:
    identity.add_user("alice", PASSWORD, by="cli:ops")
    identity.add_user("carol", PASSWORD, by="cli:ops")
    identity.disable_user("carol", by="cli:ops")
    refusals = []
    for name, password in (("alice", "wrong password!"), ("mallory", PASSWORD), ("carol", PASSWORD)):
        with pytest.raises(ApprovalRejected) as refused:
            identity.verify_password(name, password)
        refusals.append(str(refused.value))
    assert refusals == [identity.REFUSED] * 3
    assert [(u.name, u.disabled) for u in identity.list_users()] == [("alice", False), ("carol", True)]
    assert identity.has_account("alice") and not identity.has_account("carol") and not identity.has_account("bob")
    assert [e.data["name"] for e in store.events("account_disabled")] == ["carol"]
    with pytest.raises(ConfigurationError, match="has no account"):
        identity.disable_user("mallory", by="cli:ops")


def test_a_typed_answer_is_recorded_as_typed(store: StoreProbe, request_: requests.PendingRequest) -> None:
    """The shipped policy takes names as typed (a pilot): the audit says nobody checked."""
    assert not review.verified_required(request_)
    decide(request_.id, answer_for(request_, "alice"))
    assert {e.data["authenticated_by"] for e in store.events("approved")} == {"typed"}


def test_a_verified_policy_refuses_a_typed_answer_and_audits_why(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: Path
) -> None:
    request = _verified(store, tmp_path, monkeypatch, inbox)
    assert review.verified_required(request)
    with pytest.raises(ApprovalRejected, match="requires a verified approver"):
        decide(request.id, answer_for(request, "alice"))
    assert store.rows(ApprovalRow) == []
    (refused,) = store.events("approval_refused")
    assert refused.actor == "alice" and any("verified approver" in p for p in refused.data["problems"])


def test_a_verified_policy_accepts_a_password_answer_and_the_audit_records_it(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: Path
) -> None:
    request = _verified(store, tmp_path, monkeypatch, inbox)
    identity.add_user("alice", PASSWORD, by="cli:ops")
    first, *rest = request.proposals
    answer = answer_for(
        request, "alice", {first.id: "not ours"}, authenticated_by=identity.verify_password("alice", PASSWORD)
    )
    decide(request.id, answer)
    assert len(store.rows(ApprovalRow)) == 3 and not store.events("approval_refused")
    decided = store.events("approved") + store.events("rejected")
    assert len(decided) == 3 and {e.data["authenticated_by"] for e in decided} == {"password"}
    assert requests.request_status(request.id) == "decided"


def test_an_answer_from_prefect_is_typed_whatever_it_claims(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: Path
) -> None:
    """An answer sent to the Prefect API, without the form, cannot say it was checked."""
    request = _verified(store, tmp_path, monkeypatch, inbox)
    forged = answer_for(request, "alice").model_dump(mode="json") | {"authenticated_by": "password"}
    assert not receive(request.id, forged)
    assert store.rows(ApprovalRow) == [] and len(store.events("approval_refused")) == 1


def test_the_echo_of_a_password_answer_is_not_a_second_answer(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: Path
) -> None:
    """The CLI records, then wakes the run with what the form holds: the gate knows it as the same answer."""
    request = _verified(store, tmp_path, monkeypatch, inbox)
    identity.add_user("alice", PASSWORD, by="cli:ops")
    answer = answer_for(request, "alice", authenticated_by="password")
    decide(request.id, answer)
    assert "authenticated_by" not in answer.model_dump(mode="json"), "a dump is what the form holds"
    assert receive(request.id, answer.model_dump(mode="json"))
    assert not store.events("approval_refused")
    assert receive(request.id, answer_for(request, "bob").model_dump(mode="json"))
    assert len(store.events("approval_refused")) == 1, "a different answer is refused"


def test_the_digest_of_an_answer_covers_how_its_approver_was_authenticated(
    store: StoreProbe, request_: requests.PendingRequest
) -> None:
    typed = answer_for(request_, "alice")
    checked = answer_for(request_, "alice", authenticated_by="password")
    assert review.answer_digest(typed) != review.answer_digest(checked)


def test_the_prefect_form_cannot_carry_how_the_approver_was_authenticated(
    store: StoreProbe, request_: requests.PendingRequest
) -> None:
    schema = approval_form(request_).model_json_schema()
    assert "authenticated_by" not in schema["properties"] and "approver" in schema["properties"]
    assert schema.get("additionalProperties") is False, "Prefect refuses a resume with fields the form has not"


def test_a_failed_password_check_is_audited_with_where_it_came_from(store: StoreProbe) -> None:
    identity.add_user("alice", PASSWORD, by="cli:ops")
    with pytest.raises(ApprovalRejected):
        identity.verify_password("alice", "not her password")
    with pytest.raises(ApprovalRejected):
        identity.verify_password("mallory", PASSWORD, client="10.1.2.3")
    assert [(e.actor, e.data["client"], e.data["why"]) for e in store.events("sign_in_failed")] == [
        ("alice", "cli", identity.REFUSED),
        ("mallory", "10.1.2.3", identity.REFUSED),
    ]
