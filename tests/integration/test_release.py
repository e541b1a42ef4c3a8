"""Going live on a real Prefect server, through the CLI: a version the policy has not released runs
in shadow; `opsgate release` replays it inside its own run (the replay is an artifact on that run),
proposes the release, and waits at the gate for someone the policy lets decide `release` cases;
after that the version's cases go to the gate like any others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ApprovalRejected
from opsgate.governance.answers import answer_for
from opsgate.learning.releases import releases_in_force
from opsgate.orchestration.resume import submit
from tasks.invoice_extraction.backends import RULES_VERSION
from tests.integration.conftest import cli_process, wait_for_request
from tests.support.batches import write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import renumbered

WORKFLOW = "invoice_extraction"


def _replay_artifact() -> str:
    with get_client(sync_client=True) as client:
        (found,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["invoice-extraction-replay"])), limit=1
        )
    return str(found.data)


def test_a_new_version_runs_in_shadow_until_its_release_is_approved(
    start_flow, flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = start_flow(write_inbox(tmp_path / "first"))
    request = wait_for_request()
    submit(request, answer_for(request, "alice"))
    assert first.finish().counts == {"executed": 3}

    def without_rules(policy: dict[str, Any]) -> None:
        policy["go_live"]["released"] = ["einvoice-xml"]

    use_policy_variant(tmp_path / "policies", monkeypatch, without_rules)
    shadowed = start_flow(write_inbox(tmp_path / "second", renumbered("2")))
    assert shadowed.finish().counts == {"shadowed": 3}, "not released: recorded, never at the gate"

    with cli_process(["release", "invoices", "--version", RULES_VERSION, "--as", "lena"], flow_env) as release:
        pending = wait_for_request(exclude={request.id}, timeout=120)
        (proposal,) = pending.proposals
        assert (proposal.tool, proposal.case_type, proposal.payload["version"]) == (
            "instructions.release",
            "release",
            RULES_VERSION,
        )
        assert proposal.payload["evidence"]["fields_agreed"] == proposal.payload["evidence"]["fields_compared"] == 36
        assert releases_in_force(WORKFLOW) == [], "nothing is released while it waits"
        with pytest.raises(ApprovalRejected, match="alice may not decide on release cases"):
            submit(pending, answer_for(pending, "alice"))
        submit(pending, answer_for(pending, "olga"))
        output, _ = release.communicate(timeout=120)
    assert release.returncode == 0, output
    assert "executed" in output and [r.version for r in releases_in_force(WORKFLOW)] == [RULES_VERSION]
    assert "ready: agrees with every approved action (3)" in _replay_artifact()

    live = start_flow(write_inbox(tmp_path / "third", renumbered("3")))
    waiting = wait_for_request(exclude={request.id, pending.id})
    submit(waiting, answer_for(waiting, "alice"))
    assert live.finish().counts == {"executed": 3}
    shown = CliRunner().invoke(app, ["autonomy", "show", WORKFLOW])
    assert shown.exit_code == 0 and RULES_VERSION in shown.stdout and "release 1" in shown.stdout
