"""Versioned prompt files: the version that proposed something is recorded with the proposal.

A prompt lives in a file named ``<name>.v<N>.md``: a system part, a line ``---``, and a user
part with a ``{document}`` placeholder. Its identity is name, version and a digest of the text,
so an edit without a version bump still shows in the audit log.

Live runs read the newest version (``latest_prompt``). A replay names the version to try
(``named_prompt``): ``name.vN`` is that file as it is now, ``name.vN+<digest>`` (the ident
recorded with past cases) insists on that exact text, so an edited file is refused instead of
being replayed under a name that no longer describes it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsgate.errors import ConfigurationError

_NAME = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)\.md$")
_IDENT = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)(?:\+(?P<digest>[0-9a-f]{8,64}))?$")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    system: str
    user: str
    digest: str

    @property
    def ident(self) -> str:
        return f"{self.name}.v{self.version}+{self.digest[:8]}"

    def messages(self, document: str) -> list[dict[str, Any]]:
        """The chat messages for one document; the document goes in as quoted data, never as instructions."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.replace("{document}", document)},
        ]


def load_prompt(path: Path) -> Prompt:
    match = _NAME.match(path.name)
    if match is None:
        raise ConfigurationError(f"{path}: a prompt file is named <name>.v<N>.md")
    text = path.read_text(encoding="utf-8")
    system, separator, user = text.partition("\n---\n")
    if not separator or "{document}" not in user:
        raise ConfigurationError(
            f"{path}: expected a system part, a line '---', and a user part containing {{document}}"
        )
    return Prompt(
        match["name"], int(match["version"]), system.strip(), user.strip(), hashlib.sha256(text.encode()).hexdigest()
    )


def prompt_versions(directory: Path, name: str) -> dict[int, Path]:
    """The files of ``name`` in ``directory`` by version number, lowest first."""
    found = {
        int(m["version"]): p
        for p in directory.glob(f"{name}.v*.md")
        if (m := _NAME.match(p.name)) and m["name"] == name
    }
    return dict(sorted(found.items()))


def listed_versions(directory: Path, name: str) -> str:
    """The versions of ``name`` in ``directory`` for a message: ``name.v1, name.v2``, or ``none``."""
    versions = prompt_versions(directory, name)
    return ", ".join(f"{name}.v{n}" for n in versions) if versions else "none"


def latest_prompt(directory: Path, name: str) -> Prompt:
    """The highest version of ``name`` in ``directory``."""
    versions = prompt_versions(directory, name)
    if not versions:
        raise ConfigurationError(f"no prompt {name!r} in {directory}")
    return load_prompt(versions[max(versions)])


def named_prompt(directory: Path, name: str, ident: str) -> Prompt:
    """The version of prompt ``name`` that ``ident`` names: ``name.vN`` (the file as it is now) or
    ``name.vN+<digest>`` (the text with that digest, which the file must still hold).

    Refused with ``ConfigurationError``: an ident of another prompt or of no form above, a version
    with no file (the message lists the versions there), a file edited since the ident was recorded.
    """
    match = _IDENT.match(ident)
    if match is None or match["name"] != name:
        raise ConfigurationError(
            f"{ident!r} names no version of prompt {name!r}: write {name}.v<N>, or {name}.v<N>+<digest> as recorded with past cases; "
            f"versions in {directory}: {listed_versions(directory, name)}",
        )
    path = prompt_versions(directory, name).get(int(match["version"]))
    if path is None:
        raise ConfigurationError(
            f"no prompt {name}.v{int(match['version'])} in {directory}; versions there: {listed_versions(directory, name)}"
        )
    prompt = load_prompt(path)
    if match["digest"] and not prompt.digest.startswith(match["digest"]):
        raise ConfigurationError(
            f"{path} was edited since {ident} was recorded: its text is now {prompt.ident}, so the text {ident} names is gone; "
            f"name {prompt.name}.v{prompt.version} to use the file as it is now",
        )
    return prompt


PINNED = "add +<digest> as recorded with past cases to insist on that exact text"


def replayed_prompt(directory: Path, name: str, version: str, others: str, ident: str | None = None) -> Prompt:
    """The prompt a replayed instruction ``version`` reads with; ``ident`` is the part of the
    version that names the prompt (all of it unless given). Refused naming ``others``, what else
    the workflow can replay, and the prompt versions in ``directory``."""
    ident = ident or version
    if not ident.startswith(f"{name}.v"):
        raise ConfigurationError(
            f"instruction version {version!r} cannot be replayed; name {others}; prompt versions in {directory}: {listed_versions(directory, name)}",
        )
    try:
        return named_prompt(directory, name, ident)
    except ConfigurationError as exc:
        raise ConfigurationError(f"instruction version {version!r} cannot be replayed: {exc}") from exc
