"""Policy files: the shipped one loads, broken ones are refused with the file, key and problem;
the engine routes proposals as the policy says."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgate.errors import PolicyError
from opsgate.models import Escalation, EscalationReason, Proposal, Route
from opsgate.policy.engine import allows_without_approval, route
from opsgate.policy.loader import check_all, load_policy, load_policy_file
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import Access, ApprovalRule, Autonomy
from opsgate.settings import PROJECT_ROOT

WORKFLOW = "invoice_extraction"
SHIPPED = PROJECT_ROOT / "policies" / f"{WORKFLOW}.yaml"


def shipped_data() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def write_policy(directory: Path, data: dict[str, Any] | str, name: str = WORKFLOW) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    message = str(caught.value)
    assert str(path) in message, f"the message does not name the file: {message}"
    return message


# --- loading ---------------------------------------------------------------------------------


def test_shipped_policy_loads() -> None:
    policy = load_policy(WORKFLOW, SHIPPED.parent)
    assert policy.workflow == WORKFLOW
    assert policy.tools_with(Access.WRITE) == ["autonomy.grant", "instructions.release", "payables.post"]
    assert policy.tools["autonomy.grant"].approval is ApprovalRule.ALWAYS, "a promotion is always a person's decision"
    assert policy.tools["instructions.release"].approval is ApprovalRule.ALWAYS, (
        "a release is always a person's decision"
    )
    assert set(policy.tools_with(Access.FORBIDDEN)) == {"payments.send", "vendor_master.write"}
    assert policy.tools["payables.post"].approval is ApprovalRule.BY_AUTONOMY
    assert policy.tools["payables.post"].undo == "payables.reverse"
    assert set(policy.autonomy.values()) == {Autonomy.REVIEWED}
    assert policy.escalation.high_value is not None and policy.escalation.high_value.above == Decimal("25000.00")
    # The fingerprint carries the version and a digest of the file's bytes.
    assert policy.fingerprint.startswith("1+") and len(policy.fingerprint) > 2


def test_policy_written_unchanged_loads(tmp_path: Path) -> None:
    policy = load_policy_file(write_policy(tmp_path, shipped_data()))
    assert policy.workflow == WORKFLOW


def test_missing_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policy for workflow"):
        load_policy(WORKFLOW, tmp_path)


def test_write_without_approval_is_refused(tmp_path: Path) -> None:
    data = shipped_data()
    del data["tools"]["payables.post"]["approval"]
    message = refusal(write_policy(tmp_path, data))
    assert "tools.payables.post" in message
    assert "approval" in message


def test_write_without_undo_is_refused(tmp_path: Path) -> None:
    data = shipped_data()
    del data["tools"]["payables.post"]["undo"]
    message = refusal(write_policy(tmp_path, data))
    assert "tools.payables.post" in message
    assert "undo" in message


def test_write_unknown_to_the_executor_is_refused(tmp_path: Path) -> None:
    data = shipped_data()
    data["tools"]["ledger.wire"] = {"access": "write", "approval": "always", "undo": "ledger.unwire"}
    message = refusal(write_policy(tmp_path, data))
    assert "tools.ledger.wire" in message
    assert "knows no write" in message


def test_wrong_undo_name_is_refused(tmp_path: Path) -> None:
    data = shipped_data()
    data["tools"]["payables.post"]["undo"] = "payables.delete"
    message = refusal(write_policy(tmp_path, data))
    assert "tools.payables.post.undo" in message
    assert "payables.delete" in message and "payables.reverse" in message


def test_approval_on_a_read_tool_is_refused(tmp_path: Path) -> None:
    data = shipped_data()
    data["tools"]["payables.read"]["approval"] = "always"
    message = refusal(write_policy(tmp_path, data))
    assert "tools.payables.read" in message
    assert "writes only" in message


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    data = shipped_data()
    data["escalaton"] = data.pop("escalation")  # a typo must not silently drop the escalation rules
    message = refusal(write_policy(tmp_path, data))
    assert "escalaton" in message
    assert "not permitted" in message


def test_unknown_nested_key_is_refused(tmp_path: Path) -> None:
    data = shipped_data()
    data["escalation"]["high_value"]["abov"] = data["escalation"]["high_value"].pop("above")
    message = refusal(write_policy(tmp_path, data))
    assert "escalation.high_value.abov" in message


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "workflow: invoice_extraction\ntools: [unclosed\n")
    assert "not valid YAML" in refusal(path)


def test_a_list_at_the_top_level_is_refused(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "- workflow: invoice_extraction\n")
    assert "mapping" in refusal(path)


def test_workflow_name_must_match_the_file_name(tmp_path: Path) -> None:
    message = refusal(write_policy(tmp_path, shipped_data(), name="invoices"))
    assert "workflow" in message
    assert "invoice_extraction" in message and "invoices.yaml" in message


def test_several_schema_problems_are_all_reported(tmp_path: Path) -> None:
    data = shipped_data()
    del data["tools"]["payables.post"]["undo"]
    data["owner"]["contact"] = ""
    data["autonomy"]["invoice"] = "yolo"
    data["escalaton"] = {}
    message = refusal(write_policy(tmp_path, data))
    lines = message.splitlines()
    for key in ("tools.payables.post", "owner.contact", "autonomy.invoice", "escalaton"):
        assert any(key in line for line in lines), f"{key} not reported in:\n{message}"
    assert all(line.startswith(f"{tmp_path / (WORKFLOW + '.yaml')}: ") for line in lines)


def test_schema_and_cross_tool_problems_are_reported_together(tmp_path: Path) -> None:
    """The loader promises every problem of a file at once: a typo'd key must not hide an
    unknown write (which is checked across tools)."""
    data = shipped_data()
    data["escalaton"] = data.pop("escalation")
    data["tools"]["ledger.wire"] = {"access": "write", "approval": "always", "undo": "ledger.unwire"}
    message = refusal(write_policy(tmp_path, data))
    assert "escalaton" in message
    assert "ledger.wire" in message


def test_workflow_settings_are_checked_by_the_workflows_own_model(tmp_path: Path) -> None:
    dedupe = "duplicate_flagging"
    data = yaml.safe_load((PROJECT_ROOT / "policies" / f"{dedupe}.yaml").read_text(encoding="utf-8"))
    assert load_policy_file(write_policy(tmp_path, data, dedupe)).settings["duplicate_at"] == 0.99
    data["settings"]["review_at"] = 1.5
    data["settings"]["survivorship"]["values"]["email"] = "loudest"
    message = refusal(write_policy(tmp_path, data, dedupe))
    assert "settings.review_at" in message and "settings.survivorship.values.email" in message


def test_settings_for_a_workflow_that_takes_none_are_refused(tmp_path: Path) -> None:
    data = shipped_data()
    data["settings"] = {"duplicate_at": 0.9}
    assert "settings: workflow 'invoice_extraction' takes no settings" in refusal(write_policy(tmp_path, data))


def test_check_all_separates_good_and_bad_files(tmp_path: Path) -> None:
    write_policy(tmp_path, shipped_data())
    bad = shipped_data()
    bad["workflow"] = "broken"
    del bad["tools"]["payables.post"]["approval"]
    write_policy(tmp_path, bad, name="broken")
    loaded, problems = check_all(tmp_path)
    assert list(loaded) == [WORKFLOW]
    assert len(problems) == 1
    assert str(tmp_path / "broken.yaml") in problems[0]
    assert "tools.payables.post" in problems[0]


def test_check_all_on_an_empty_directory_reports_it(tmp_path: Path) -> None:
    loaded, problems = check_all(tmp_path)
    assert loaded == {}
    assert len(problems) == 1 and "no policy files" in problems[0]


# --- routing ---------------------------------------------------------------------------------


@pytest.fixture
def policy() -> Policy:
    return load_policy_file(SHIPPED)


def with_autonomy(policy: Policy, **modes: str) -> Policy:
    return policy.model_copy(update={"autonomy": {**policy.autonomy, **{k: Autonomy(v) for k, v in modes.items()}}})


def with_approval(policy: Policy, rule: ApprovalRule) -> Policy:
    tools = dict(policy.tools)
    tools["payables.post"] = tools["payables.post"].model_copy(update={"approval": rule})
    return policy.model_copy(update={"tools": tools})


def proposal(**changes: Any) -> Proposal:
    """A clean invoice proposal under the shipped policy; ``changes`` override its fields."""
    payload: dict[str, Any] | None = {
        "invoice_number": "INV-1",
        "invoice_date": "2024-03-01",
        "currency": "EUR",
        "total": "1200.00",
        "source": "inv.pdf",
    }
    overrides = changes.pop("payload", {})
    payload = None if overrides is None else {**payload, **overrides}
    fields: dict[str, Any] = {
        "workflow": WORKFLOW,
        "source": "inv.pdf",
        "case_type": "invoice",
        "tool": "payables.post",
        "payload": payload,
        "confidence": {"invoice_number": 0.9, "invoice_date": 0.9, "currency": 0.9, "total": 0.9},
        "instruction_version": "rules-v1",
    }
    fields.update(changes)
    return Proposal(**fields)


def reasons(policy: Policy, p: Proposal) -> list[EscalationReason]:
    verdict = route(policy, p)
    assert verdict.route is Route.ESCALATE, verdict
    return [e.reason for e in verdict.escalations]


def test_reviewed_goes_to_a_person(policy: Policy) -> None:
    verdict = route(policy, proposal())
    assert verdict.route is Route.APPROVE
    assert verdict.escalations == []


def test_shadow_is_recorded_only(policy: Policy) -> None:
    assert route(with_autonomy(policy, invoice="shadow"), proposal()).route is Route.SHADOW


def test_auto_with_by_autonomy_skips_the_person(policy: Policy) -> None:
    assert route(with_autonomy(policy, invoice="auto"), proposal()).route is Route.AUTO


def test_auto_with_always_still_needs_a_person(policy: Policy) -> None:
    strict = with_approval(with_autonomy(policy, invoice="auto"), ApprovalRule.ALWAYS)
    assert route(strict, proposal()).route is Route.APPROVE


def test_auto_for_one_case_type_does_not_leak_to_others(policy: Policy) -> None:
    auto_invoices = with_autonomy(policy, invoice="auto")
    assert route(auto_invoices, proposal(case_type="credit_note")).route is Route.APPROVE


@pytest.mark.parametrize("tool", ["payments.send", "vendor_master.write", "payables.read", "inbox.read", "ledger.wire"])
def test_a_tool_that_is_not_an_allowed_write_escalates_out_of_policy(policy: Policy, tool: str) -> None:
    assert reasons(policy, proposal(tool=tool)) == [EscalationReason.OUT_OF_POLICY]


def test_a_forbidden_tool_escalates_even_when_auto(policy: Policy) -> None:
    assert reasons(with_autonomy(policy, invoice="auto"), proposal(tool="payments.send")) == [
        EscalationReason.OUT_OF_POLICY
    ]


def test_an_unknown_case_type_escalates_out_of_policy(policy: Policy) -> None:
    assert reasons(policy, proposal(case_type="purchase_order")) == [EscalationReason.OUT_OF_POLICY]


def test_a_total_above_the_threshold_escalates_as_high_value(policy: Policy) -> None:
    verdict = route(policy, proposal(payload={"total": "25000.01"}))
    assert verdict.route is Route.ESCALATE
    assert [(e.reason, e.field) for e in verdict.escalations] == [(EscalationReason.HIGH_VALUE, "total")]


def test_a_total_at_the_threshold_is_not_high_value(policy: Policy) -> None:
    assert route(policy, proposal(payload={"total": "25000.00"})).route is Route.APPROVE


def test_low_confidence_on_a_required_field_escalates(policy: Policy) -> None:
    confidence = {"invoice_number": 0.9, "invoice_date": 0.9, "currency": 0.9, "total": 0.3}
    verdict = route(policy, proposal(confidence=confidence))
    assert verdict.route is Route.ESCALATE
    assert [(e.reason, e.field) for e in verdict.escalations] == [(EscalationReason.LOW_CONFIDENCE, "total")]


def test_low_confidence_on_an_optional_field_does_not_escalate(policy: Policy) -> None:
    confidence = {"invoice_number": 0.9, "invoice_date": 0.9, "currency": 0.9, "total": 0.9, "vendor_name": 0.1}
    assert route(policy, proposal(confidence=confidence)).route is Route.APPROVE


def test_escalations_found_by_the_workflow_are_kept(policy: Policy) -> None:
    found = Escalation(reason=EscalationReason.POSSIBLE_DUPLICATE, field="invoice_number")
    assert reasons(policy, proposal(escalations=[found])) == [EscalationReason.POSSIBLE_DUPLICATE]


def test_a_proposal_with_an_error_fails(policy: Policy) -> None:
    broken = proposal(tool=None, payload=None, error="unreadable document")
    assert route(policy, broken).route is Route.FAIL


def test_an_error_wins_over_auto(policy: Policy) -> None:
    assert route(with_autonomy(policy, invoice="auto"), proposal(error="parser crashed")).route is Route.FAIL


def test_allows_without_approval_only_on_the_auto_path(policy: Policy) -> None:
    auto = with_autonomy(policy, invoice="auto")
    assert allows_without_approval(auto, "payables.post", "invoice") is True
    assert allows_without_approval(policy, "payables.post", "invoice") is False  # reviewed
    assert allows_without_approval(with_autonomy(policy, invoice="shadow"), "payables.post", "invoice") is False
    assert allows_without_approval(with_approval(auto, ApprovalRule.ALWAYS), "payables.post", "invoice") is False
    assert allows_without_approval(auto, "payables.post", "credit_note") is False  # still reviewed
    assert allows_without_approval(auto, "payables.post", "purchase_order") is False  # no autonomy rule
    assert allows_without_approval(auto, "payments.send", "invoice") is False  # forbidden
    assert allows_without_approval(auto, "payables.read", "invoice") is False  # read-only
    assert allows_without_approval(auto, "ledger.wire", "invoice") is False  # not in the policy
