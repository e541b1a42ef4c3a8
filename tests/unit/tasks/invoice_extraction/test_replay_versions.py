"""Replay with a prompt version other than the newest: the version named is the text sent to the
model and the ident the new proposals carry; a recorded ident whose file was edited since, or a
version with no file, is refused before anything is read.

The prompts folder is a copy of the workflow's with an ``extract_invoice.v2.md`` added, given to
the replay as its ``prompts`` parameter; the model is the fake endpoint at the HTTP boundary.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from opsgate.errors import ConfigurationError
from opsgate.learning.replay import past_cases, replay
from opsgate.policy.loader import load_policy
from opsgate.proposing.prompts import load_prompt
from opsgate.workflows import by_name
from tasks.invoice_extraction.llm_extraction import PROMPTS
from tasks.invoice_extraction.replay import Reader, reader_for
from tasks.invoice_extraction.replay import replay as replay_invoices
from tests.support.batches import Batch
from tests.support.fake_llm import FakeLlm, llm_configured

V2_SYSTEM = "You read invoices and return their fields as JSON. Version two: amounts always as printed."
US_AS_READ = {
    "document_type": "invoice",
    "vendor_name": "Brightline Office Supply LLC",
    "invoice_number": "BOS-24-0317",
    "invoice_date": "2024-03-15",
    "due_date": "2024-04-14",
    "currency": "USD",
    "subtotal": 1132.0,
    "tax_total": 90.56,
    "total": 1222.56,
    "po_number": "PO-55821",
}


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    """The workflow's prompts with a newer version beside them: v1 is no longer the newest."""
    folder = tmp_path / "prompts"
    shutil.copytree(PROMPTS, folder)
    (folder / "extract_invoice.v2.md").write_text(
        f"{V2_SYSTEM}\n---\n<<<DOCUMENT\n{{document}}\nDOCUMENT>>>\n", encoding="utf-8"
    )
    return folder


def _replayed(version: str, prompts: Path) -> tuple[list[str], list[str]]:
    """The new proposals' versions and the system message of every request the model got."""
    now = datetime.now(timezone.utc)
    cases = past_cases("invoice_extraction", now - timedelta(days=1), now + timedelta(seconds=1))
    fake = FakeLlm(US_AS_READ)
    results = replay_invoices(cases, version, load_policy("invoice_extraction"), client=fake.client(), prompts=prompts)
    systems = [request["messages"][0]["content"] for request in fake.requests]
    return [getattr(result, "instruction_version", "unavailable") for result in results], systems


@pytest.mark.parametrize("full", [False, True], ids=["name.vN", "name.vN+digest"])
def test_an_older_version_is_sent_and_recorded(
    decided: Batch, prompts: Path, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    v1 = load_prompt(prompts / "extract_invoice.v1.md")
    with llm_configured(monkeypatch):
        versions, systems = _replayed(v1.ident if full else "extract_invoice.v1", prompts)
    assert versions == [v1.ident] * 3
    assert len(systems) >= 3 and set(systems) == {v1.system}  # re-asks included: v1's instructions, never v2's
    assert V2_SYSTEM not in systems


def test_the_newer_version_is_sent_when_named(decided: Batch, prompts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with llm_configured(monkeypatch):
        versions, systems = _replayed("extract_invoice.v2", prompts)
    assert versions == [load_prompt(prompts / "extract_invoice.v2.md").ident] * 3
    assert set(systems) == {V2_SYSTEM}


def test_each_backend_reads_with_the_version_named(prompts: Path) -> None:
    v1, v2 = (load_prompt(prompts / f"extract_invoice.v{n}.md") for n in (1, 2))
    assert reader_for("extract_invoice.v1", prompts) == Reader("llm", v1)
    assert reader_for(f"rules-v1+{v1.ident}", prompts) == Reader("auto", v1)
    assert reader_for("rules-v1+extract_invoice.v2", prompts) == Reader("auto", v2)
    assert reader_for("rules-v1", prompts) == Reader("rules")


def test_an_ident_whose_prompt_file_was_edited_since_is_refused(
    decided: Batch, prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = load_prompt(prompts / "extract_invoice.v1.md").ident
    path = prompts / "extract_invoice.v1.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("never guess", "never guess, never round"), encoding="utf-8"
    )
    edited = load_prompt(path)
    fake = FakeLlm(US_AS_READ)
    with llm_configured(monkeypatch), pytest.raises(ConfigurationError) as refused:
        replay_invoices(
            [], f"rules-v1+{recorded}", load_policy("invoice_extraction"), client=fake.client(), prompts=prompts
        )
    assert str(refused.value).startswith(
        f"instruction version 'rules-v1+{recorded}' cannot be replayed: {path} was edited since {recorded} was recorded"
    )
    assert f"its text is now {edited.ident}" in str(refused.value)
    assert fake.requests == []


def test_an_unknown_version_lists_the_versions_there(prompts: Path) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"'extract_invoice\.v9' cannot be replayed: no prompt extract_invoice\.v9 in .*; versions there: extract_invoice\.v1, extract_invoice\.v2$",
    ):
        reader_for("extract_invoice.v9", prompts)


def test_the_command_path_refuses_an_unknown_version_of_the_installed_prompts(opsgate_env: str) -> None:
    """``opsgate replay invoices`` goes through the platform, which reads the workflow's own folder."""
    now = datetime.now(timezone.utc)
    with pytest.raises(
        ConfigurationError,
        match=r"no prompt extract_invoice\.v9 in .*tasks/invoice_extraction/prompts; versions there: extract_invoice\.v1$",
    ):
        replay(by_name("invoice_extraction"), "extract_invoice.v9", now - timedelta(days=1), now)
