"""Versioned prompt files: the newest version wins, an edit changes the recorded identity, and a
named version is found as it is now or, by its full ident, only while the file still holds that text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsgate.errors import ConfigurationError
from opsgate.proposing.prompts import latest_prompt, load_prompt, named_prompt


def _write(folder: Path, name: str, system: str = "Read the fields.") -> Path:
    path = folder / name
    path.write_text(f"{system}\n---\n<<<\n{{document}}\n>>>\n", encoding="utf-8")
    return path


def test_the_highest_version_is_used_and_named(tmp_path: Path) -> None:
    _write(tmp_path, "extract.v1.md")
    _write(tmp_path, "extract.v10.md")
    _write(tmp_path, "extract.v2.md")
    _write(tmp_path, "other.v99.md")
    prompt = latest_prompt(tmp_path, "extract")
    assert (prompt.name, prompt.version) == ("extract", 10)
    assert prompt.ident.startswith("extract.v10+")
    system, user = prompt.messages("INVOICE 42")
    assert system == {"role": "system", "content": "Read the fields."}
    assert user["content"] == "<<<\nINVOICE 42\n>>>"


def test_an_edit_without_a_version_bump_changes_the_identity(tmp_path: Path) -> None:
    before = load_prompt(_write(tmp_path, "extract.v1.md")).ident
    after = load_prompt(_write(tmp_path, "extract.v1.md", system="Read the fields carefully.")).ident
    assert before != after and before.split("+")[0] == after.split("+")[0] == "extract.v1"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("extract.md", "a\n---\n{document}"),
        ("extract.v1.md", "no separator {document}"),
        ("extract.v1.md", "a\n---\nno placeholder"),
    ],
)
def test_malformed_prompt_files_are_refused(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=name):
        load_prompt(path)


def test_a_missing_prompt_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no prompt 'extract'"):
        latest_prompt(tmp_path, "extract")


def test_a_version_is_named_with_or_without_its_digest(tmp_path: Path) -> None:
    _write(tmp_path, "extract.v1.md", system="First instructions.")
    _write(tmp_path, "extract.v2.md", system="Second instructions.")
    v1 = named_prompt(tmp_path, "extract", "extract.v1")
    assert (v1.version, v1.system) == (1, "First instructions.")
    assert named_prompt(tmp_path, "extract", v1.ident) == v1
    assert named_prompt(tmp_path, "extract", f"extract.v1+{v1.digest}") == v1  # the whole digest names the same text


def test_an_ident_whose_text_was_edited_since_is_refused(tmp_path: Path) -> None:
    recorded = load_prompt(_write(tmp_path, "extract.v1.md")).ident
    now = load_prompt(_write(tmp_path, "extract.v1.md", system="Read the fields, then check them.")).ident
    with pytest.raises(
        ConfigurationError,
        match=rf"extract\.v1\.md was edited since {re.escape(recorded)} was recorded: its text is now {re.escape(now)}.*name extract\.v1 to use",
    ):
        named_prompt(tmp_path, "extract", recorded)
    assert named_prompt(tmp_path, "extract", "extract.v1").ident == now


def test_an_unknown_version_lists_the_versions_there(tmp_path: Path) -> None:
    for name in ("extract.v1.md", "extract.v10.md", "extract.v2.md", "other.v3.md"):
        _write(tmp_path, name)
    with pytest.raises(
        ConfigurationError,
        match=r"no prompt extract\.v9 in .*; versions there: extract\.v1, extract\.v2, extract\.v10$",
    ):
        named_prompt(tmp_path, "extract", "extract.v9")


@pytest.mark.parametrize("ident", ["other.v3", "extract", "extract.v1+zz", "extract.v1+abc"])
def test_an_ident_of_another_prompt_or_form_is_refused(tmp_path: Path, ident: str) -> None:
    _write(tmp_path, "extract.v1.md")
    _write(tmp_path, "other.v3.md")
    with pytest.raises(
        ConfigurationError,
        match=rf"'{re.escape(ident)}' names no version of prompt 'extract'.*versions in .*: extract\.v1$",
    ):
        named_prompt(tmp_path, "extract", ident)
