"""Channels against a real HTTP receiver on the loopback: what arrives (body, headers, signature,
Slack blocks), which failures are retried under the same idempotency key, and which policies are
refused."""

from __future__ import annotations

import hashlib
import hmac
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from opsgate.errors import ConfigurationError, PolicyError
from opsgate.notify import channels
from opsgate.notify.channels import DeliveryFailed, Message, markdown_to_mrkdwn, post, split_sections
from opsgate.policy.loader import load_policy_file
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import Channel
from opsgate.settings import PROJECT_ROOT
from tests.support.receiver import Answer, Receiver


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits post asked for; none is actually waited."""
    asked: list[float] = []
    monkeypatch.setattr(channels, "sleep", asked.append)
    return asked


def report() -> Message:
    return Message(
        event="report.published",
        title="Weekly summary, week 12",
        link="https://reports.example.com/w12?a=1&b=2",
        text="# Totals\nRevenue is **up 4 %** on [last week](https://reports.example.com/w11).\n\nMargin < target & falling.",
        fields={"Revenue": "EUR 120,400", "Orders": "1,204"},
        data={"week": 12, "revenue": "120400.00"},
    )


def webhook(url: str, **changes: Any) -> Channel:
    return Channel.model_validate({"kind": "webhook", "url": url, **changes})


# --- what arrives ----------------------------------------------------------------------------


def test_a_generic_webhook_receives_the_message_as_json(receiver: Receiver) -> None:
    delivery = post("ops", webhook(receiver.url), report(), "run-7:report")
    assert (delivery.channel, delivery.status_code, delivery.attempts) == ("ops", 200, 1)
    (request,) = receiver.requests
    assert request.path == "/hooks/T0SECRET/B0TOKEN"
    assert request.headers["Idempotency-Key"] == "run-7:report"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "opsgate"
    assert "X-Opsgate-Signature" not in request.headers
    body = request.json()
    assert set(body) == {"event", "title", "text", "link", "fields", "data", "idempotency_key", "sent_at"}
    assert body["event"] == "report.published"
    assert body["title"] == "Weekly summary, week 12"
    assert body["text"] == report().text  # Markdown as written: a generic receiver renders it itself
    assert body["link"] == "https://reports.example.com/w12?a=1&b=2"
    assert body["fields"] == {"Revenue": "EUR 120,400", "Orders": "1,204"}
    assert body["data"] == {"week": 12, "revenue": "120400.00"}
    assert body["idempotency_key"] == "run-7:report"
    assert body["sent_at"].endswith("+00:00")


def test_the_signature_verifies_against_the_raw_body(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_HOOK_KEY", "s3cret")
    post("ops", webhook(receiver.url, secret_env="OPS_HOOK_KEY"), report(), "k1")
    (request,) = receiver.requests
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Opsgate-Signature"] == f"sha256={expected}"
    wrong = hmac.new(b"other", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Opsgate-Signature"] != f"sha256={wrong}"


def test_a_slack_webhook_receives_blocks(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_SLACK_URL", receiver.url)
    message = report().model_copy(update={"title": "T" * 200, "fields": {f"k{i}": f"v{i}" for i in range(12)}})
    post("team", Channel(kind="slack", url_env="OPS_SLACK_URL"), message, "k2")
    (request,) = receiver.requests
    assert request.headers["Idempotency-Key"] == "k2"
    body = request.json()
    assert body["text"].startswith(
        f"{'T' * 200}\nhttps://reports.example.com/w12?a=1&amp;b=2\n\n*Totals*\nRevenue is *up 4 %*"
    )
    header, section, facts, context = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) == 150 and header["text"]["text"].endswith("…")
    assert section == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Totals*\nRevenue is *up 4 %* on <https://reports.example.com/w11|last week>.\n\nMargin &lt; target &amp; falling.",
        },
    }
    assert facts["type"] == "section"
    assert [f["text"] for f in facts["fields"]] == [f"*k{i}*\nv{i}" for i in range(10)]
    assert all(f["type"] == "mrkdwn" for f in facts["fields"])
    assert context == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "<https://reports.example.com/w12?a=1&b=2>"}],
    }


def test_slack_blocks_without_link_or_fields() -> None:
    body = channels.slack_body(Message(event="e", title="Done", text="All fine."))
    assert body["text"] == "Done\n\nAll fine."
    assert [block["type"] for block in body["blocks"]] == ["header", "section"]


# --- markdown to Slack -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and **more**", "*bold* and *more*"),
        ("see [the report](https://x.example/r?id=1)", "see <https://x.example/r?id=1|the report>"),
        ("## Sales ##\ntext", "*Sales*\ntext"),
        ("### **Already bold**", "*Already bold*"),
        ("#hashtag stays", "#hashtag stays"),
        ("a < b > c & d", "a &lt; b &gt; c &amp; d"),
        ("[a|b](https://x.example)", "<https://x.example|a/b>"),
        ("- plain list item", "- plain list item"),
        ("7 breaches \\(due in the week\\) \\#3 \\*not bold\\*", "7 breaches (due in the week) #3 *not bold*"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert markdown_to_mrkdwn(markdown) == mrkdwn


def test_long_text_is_split_at_line_ends() -> None:
    lines = [f"line {i:04d} " + "x" * 90 for i in range(100)]  # 100 lines of 100 characters
    pieces = split_sections("\n".join(lines))
    assert all(len(piece) <= 3000 for piece in pieces)
    assert len(pieces) == 4
    assert "\n".join(pieces).splitlines() == lines  # nothing lost, no line cut


def test_a_line_longer_than_a_section_is_cut() -> None:
    pieces = split_sections("short\n" + "y" * 7000)
    assert pieces == ["short", "y" * 3000, "y" * 3000, "y" * 1000]


def test_slack_keeps_within_fifty_blocks() -> None:
    text = "\n".join("z" * 2999 for _ in range(60))
    blocks = channels.slack_body(Message(event="e", title="Big", text=text, link="https://x.example"))["blocks"]
    assert len(blocks) == 50
    assert blocks[-2]["text"]["text"].endswith("_(text shortened)_")
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


# --- retries ---------------------------------------------------------------------------------


def test_a_server_error_is_retried_with_the_same_key_and_body(receiver: Receiver, waits: list[float]) -> None:
    receiver.answer(500, 200)
    delivery = post("ops", webhook(receiver.url), report(), "run-7:report")
    assert (delivery.status_code, delivery.attempts) == (200, 2)
    first, second = receiver.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == "run-7:report"
    assert first.body == second.body
    assert waits == [0.5]


def test_retry_after_is_honoured_up_to_a_few_seconds(receiver: Receiver, waits: list[float]) -> None:
    receiver.answer(Answer(429, {"Retry-After": "2"}), Answer(503, {"Retry-After": "3600"}), 200)
    assert post("ops", webhook(receiver.url), report(), "k").attempts == 3
    assert waits == [2.0, channels.MAX_RETRY_AFTER]


def test_a_timeout_is_retried(receiver: Receiver, waits: list[float]) -> None:
    receiver.answer(Answer(200, delay=1.0), 200)
    delivery = post("ops", webhook(receiver.url, timeout=0.2), report(), "k")
    assert delivery.attempts == 2
    assert len(receiver.requests) == 2


def test_a_bad_request_fails_at_once(receiver: Receiver, waits: list[float]) -> None:
    receiver.answer(400)
    with pytest.raises(DeliveryFailed) as caught:
        post("ops", webhook(receiver.url), report(), "k")
    message = str(caught.value)
    assert (
        "'ops'" in message and "HTTP 400" in message and "after 1 attempt" in message and "invalid_payload" in message
    )
    assert "127.0.0.1" in message
    assert "SECRET" not in message and "TOKEN" not in message
    assert caught.value.retryable is False
    assert len(receiver.requests) == 1 and waits == []


def test_server_errors_that_persist_fail_after_every_attempt(receiver: Receiver, waits: list[float]) -> None:
    receiver.answer(502, 502, 502, 502)
    with pytest.raises(DeliveryFailed, match=r"not delivered after 3 attempt\(s\); last: HTTP 502") as caught:
        post("ops", webhook(receiver.url), report(), "k")
    assert caught.value.retryable is True
    assert len(receiver.requests) == 3
    assert waits == [0.5, 1.0]


def test_connection_refused_fails_after_every_attempt(waits: list[float]) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/T0SECRET/B0TOKEN"
    with pytest.raises(DeliveryFailed) as caught:
        post("ops", webhook(url, attempts=4), report(), "k")
    message = str(caught.value)
    assert "after 4 attempt(s)" in message and "ConnectError" in message and f"127.0.0.1:{port}" in message
    assert "SECRET" not in message and "TOKEN" not in message
    assert caught.value.retryable is True
    assert waits == [0.5, 1.0, 2.0]


# --- configuration ---------------------------------------------------------------------------


def test_a_missing_url_variable_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPS_MISSING_URL", raising=False)
    with pytest.raises(ConfigurationError, match="channel 'team': environment variable OPS_MISSING_URL is not set"):
        post("team", Channel(kind="slack", url_env="OPS_MISSING_URL"), report(), "k")


def test_a_url_variable_that_holds_no_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_HOOK_URL", "hooks.example.com/abc")
    with pytest.raises(ConfigurationError, match="OPS_HOOK_URL does not hold an http"):
        post("team", Channel(kind="webhook", url_env="OPS_HOOK_URL"), report(), "k")


def test_a_missing_signing_key_is_a_configuration_error(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPS_MISSING_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPS_MISSING_KEY is not set; it should hold the signing key"):
        post("ops", webhook(receiver.url, secret_env="OPS_MISSING_KEY"), report(), "k")
    assert receiver.requests == []  # nothing unsigned goes out


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"kind": "webhook", "url": "https://h.example/x", "url_env": "HOOK"}, "exactly one of url"),
        ({"kind": "webhook"}, "exactly one of url"),
        ({"kind": "slack", "url_env": "HOOK", "secret_env": "KEY"}, "secret_env applies to kind webhook only"),
        ({"kind": "webhook", "url": "ftp://h.example/x"}, "must start with http:// or https://"),
        ({"kind": "webhook", "url": "https://"}, "must start with http:// or https://"),
        ({"kind": "teams", "url": "https://h.example/x"}, "'webhook' or 'slack'"),
        ({"kind": "webhook", "url_env": "https://h.example/x"}, "String should match pattern"),
        ({"kind": "webhook", "url": "https://h.example/x", "attempts": 11}, "less than or equal to 10"),
        ({"kind": "webhook", "url": "https://h.example/x", "timeout": 0}, "greater than 0"),
    ],
)
def test_a_bad_channel_is_refused(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Channel.model_validate(data)


# --- in a policy file ------------------------------------------------------------------------

CHANNELS_YAML = """
team-reports:
  kind: slack
  url_env: OPS_TEAM_REPORTS_URL
erp_inbox:
  kind: webhook
  url: https://erp.example.com/hooks/opsgate
  secret_env: OPS_ERP_HOOK_KEY
  timeout: 5
  attempts: 2
"""


def policy_with_channels(directory: Path, channels_yaml: str) -> Path:
    data = yaml.safe_load((PROJECT_ROOT / "policies" / "invoice_extraction.yaml").read_text(encoding="utf-8"))
    data["channels"] = yaml.safe_load(channels_yaml)
    path = directory / "invoice_extraction.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_policy_with_channels_loads(tmp_path: Path) -> None:
    policy = load_policy_file(policy_with_channels(tmp_path, CHANNELS_YAML))
    assert set(policy.channels) == {"team-reports", "erp_inbox"}
    team, erp = policy.channels["team-reports"], policy.channels["erp_inbox"]
    assert (team.kind, team.url_env, team.url, team.timeout, team.attempts) == (
        "slack",
        "OPS_TEAM_REPORTS_URL",
        None,
        10,
        3,
    )
    assert (erp.kind, erp.url, erp.secret_env, erp.timeout, erp.attempts) == (
        "webhook",
        "https://erp.example.com/hooks/opsgate",
        "OPS_ERP_HOOK_KEY",
        5,
        2,
    )


def test_a_policy_without_channels_has_none() -> None:
    assert load_policy_file(PROJECT_ROOT / "policies" / "invoice_extraction.yaml").channels == {}


def test_a_bad_channel_in_a_policy_file_names_the_key(tmp_path: Path) -> None:
    path = policy_with_channels(
        tmp_path, "team:\n  kind: slack\n  url_env: HOOK\n  secret_env: KEY\nops:\n  kind: webhook\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    lines = str(caught.value).splitlines()
    assert any(line.startswith(f"{path}: channels.team: secret_env applies to kind webhook only") for line in lines), (
        lines
    )
    assert any(line.startswith(f"{path}: channels.ops: a channel needs exactly one of url") for line in lines), lines


@pytest.mark.parametrize("name", ["Team", "1st", "team reports", "team.reports", ""])
def test_a_bad_channel_name_is_refused(name: str) -> None:
    base = yaml.safe_load((PROJECT_ROOT / "policies" / "invoice_extraction.yaml").read_text(encoding="utf-8"))
    base["channels"] = {name: {"kind": "webhook", "url": "https://h.example/x"}}
    with pytest.raises(
        ValidationError, match=r"channel names are lower case letters.*" + repr(name).replace(".", r"\.")
    ):
        Policy.model_validate(base)
