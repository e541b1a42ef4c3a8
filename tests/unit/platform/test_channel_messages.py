"""What people write reaches the channels as text: an incident's reporter and reason cannot notify
everyone in Slack, put a link or HTML in a generic receiver's Markdown, or hide a bidirectional
control. Posted for real to a receiver on the loopback, on real stores; the structured ``data``
keeps the words exactly, for machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opsgate.governance import executor
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.incidents import report_incident
from tests.support.batches import open_request, proposed_batch, write_inbox
from tests.support.markdown import render
from tests.support.policies import use_policy_variant
from tests.support.receiver import Receiver
from tests.unit.platform.conftest import StoreProbe

REPORTER = "<!channel> [dana](https://evil.example)"
REASON = "<@U024BE7LH> paid to the **wrong** <img src=x onerror=alert(1)> entity \u202eCBA\u202c"


def test_an_incident_reaches_slack_and_a_webhook_as_text(
    store: StoreProbe, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_channels(policy: dict[str, Any]) -> None:
        policy["channels"] = {
            "ap-slack": {"kind": "slack", "url": receiver.url},
            "ap-hook": {"kind": "webhook", "url": receiver.url},
        }
        policy["approvals"]["notify"] = ["ap-slack", "ap-hook"]

    use_policy_variant(tmp_path / "policies", monkeypatch, with_channels)
    batch = proposed_batch(write_inbox(tmp_path / "inbox"))
    request = open_request(batch)
    decision, *_ = decide(request.id, answer_for(request, "alice"))
    executor.execute_one(batch.run.policy, decision.proposal_id)

    report_incident(decision.proposal_id, REASON, REPORTER)

    bodies = [r.json() for r in receiver.requests]
    (slack,) = [b for b in bodies if "blocks" in b]
    (hook,) = [b for b in bodies if "data" in b]
    slack_text = json.dumps(slack, ensure_ascii=False)
    assert "<!channel>" not in slack_text and "<@U024BE7LH>" not in slack_text and "<img" not in slack_text
    assert (
        "&lt;!channel&gt;" in slack_text
        and "&lt;@U024BE7LH&gt;" in slack_text
        and "<https://evil.example" not in slack_text
    )  # no mention, no link
    assert "⟨U+202E⟩CBA⟨U+202C⟩" in slack_text and "\u202e" not in slack_text

    shown = render(hook["text"])
    assert (shown.acting(), shown.targets) == (
        ["a"],
        ["mailto:ap-lead@example.com"],
    )  # the owner, as the policy writes it
    assert (
        REPORTER in shown.text
        and "<@U024BE7LH> paid to the **wrong** <img src=x onerror=alert(1)> entity ⟨U+202E⟩CBA⟨U+202C⟩" in shown.text
    )
    assert hook["fields"]["reported by"] == REPORTER
    assert (hook["data"]["reason"], hook["data"]["reported_by"]) == (REASON, REPORTER)
