"""`opsgate policy`, `opsgate run` with a broken policy, and `opsgate undo`, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.policy.runtime import Policy
from opsgate.settings import PROJECT_ROOT, get_settings
from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow
from tests.support.batches import proposed_batch, write_inbox
from tests.support.policies import use_policy_variant

runner = CliRunner()


@pytest.fixture
def broken_policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped policy with the undo of its one write removed."""
    yield use_policy_variant(
        tmp_path / "policies", monkeypatch, lambda policy: policy["tools"]["payables.post"].pop("undo")
    ).parent
    get_settings.cache_clear()


def test_policy_check_accepts_the_shipped_policies() -> None:
    result = runner.invoke(app, ["policy", "check"])
    assert result.exit_code == 0, result.output
    assert "invoice_extraction.yaml" in result.stdout


def test_policy_check_names_file_key_and_problem(broken_policy_dir: Path) -> None:
    result = runner.invoke(app, ["policy", "check"])
    assert result.exit_code == 2
    assert "invoice_extraction.yaml" in result.output
    assert "tools.payables.post" in result.output and "undo" in result.output


def test_a_workflow_with_a_broken_policy_does_not_start(broken_policy_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "invoices", "--inbox", str(tmp_path)])
    assert result.exit_code == 2
    assert "a write needs an undo" in result.output


def test_policy_show_is_an_access_review() -> None:
    result = runner.invoke(app, ["policy", "show", "invoice_extraction", "--json"])
    assert result.exit_code == 0, result.output
    review = json.loads(result.stdout)
    assert review["reads"] == ["inbox.read", "payables.read"]
    assert review["writes"] == {
        "payables.post": {"approval": "by_autonomy", "undo": "payables.reverse"},
        "autonomy.grant": {"approval": "always", "undo": "autonomy.revoke"},
        "instructions.release": {"approval": "always", "undo": "instructions.withdraw"},
    }
    assert review["forbidden"] == ["payments.send", "vendor_master.write"]
    assert review["autonomy"] == {
        "invoice": "reviewed",
        "small_known_vendor": "reviewed",
        "credit_note": "reviewed",
        "receipt": "reviewed",
    }
    assert review["owner"]["contact"] == "ap-lead@example.com"
    assert review["approvals"]["groups"]["ap-leads"] == {
        "members": ["lena", "olga"],
        "directory_groups": [],
        "case_types": ["*"],
    }
    assert review["approvals"]["four_eyes"] == [{"case_type": "invoice", "field": "total", "above": "5000.00"}]
    table = runner.invoke(app, ["policy", "show", "invoice_extraction"], env={"COLUMNS": "200"})
    assert "ap-clerks" in table.stdout and "four eyes: invoice cases above total 5000.00" in table.stdout
    assert (
        review["go_live"]["released"][:2] == ["rules-v1", "einvoice-xml"] and review["go_live"]["min_agreement"] == 0.98
    )
    assert "live instruction versions (by this file): rules-v1, einvoice-xml" in table.stdout


def test_policy_schema_is_the_model_schema() -> None:
    """`opsgate policy schema` prints the policy model's JSON Schema, the one an editor checks policy
    files against: it accepts every shipped policy and refuses what the model refuses (an unknown
    key, a missing section)."""
    result = runner.invoke(app, ["policy", "schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema == Policy.model_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    shipped = sorted((PROJECT_ROOT / "policies").glob("*.yaml"))
    assert [p.name for p in shipped] == [
        "duplicate_flagging.yaml",
        "invoice_extraction.yaml",
        "request_triage.yaml",
        "weekly_summary.yaml",
    ]
    for path in shipped:
        assert [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))] == [], (
            path.name
        )
    broken = yaml.safe_load(shipped[1].read_text(encoding="utf-8"))
    broken["owner"]["nickname"] = "ap"
    del broken["tools"]
    assert sorted((list(e.path), e.validator) for e in validator.iter_errors(broken)) == [
        ([], "required"),
        (["owner"], "additionalProperties"),
    ]


def test_undo_of_a_proposal_never_executed_is_refused_before_any_run(opsgate_env: str, tmp_path: Path) -> None:
    batch = proposed_batch(write_inbox(tmp_path / "inbox"))
    result = runner.invoke(app, ["undo", batch.proposals[0].id, "--as", "olga", "--reason", "wrong period"])
    assert result.exit_code == 2 and "never executed; nothing to undo" in result.output
    with transaction() as session:
        assert session.execute(select(PayableRow)).first() is None
