"""Versioned prompt files: the newest version wins, and an edit changes the recorded identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate.errors import ConfigurationError
from opsgate.prompts import latest_prompt, load_prompt


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


@pytest.mark.parametrize(("name", "text"), [("extract.md", "a\n---\n{document}"), ("extract.v1.md", "no separator {document}"), ("extract.v1.md", "a\n---\nno placeholder")])
def test_malformed_prompt_files_are_refused(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=name):
        load_prompt(path)


def test_a_missing_prompt_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no prompt 'extract'"):
        latest_prompt(tmp_path, "extract")
