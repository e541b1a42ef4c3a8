"""Versioned prompt files: the version that proposed something is recorded with the proposal.

A prompt lives in a file named ``<name>.v<N>.md``: a system part, a line ``---``, and a user
part with a ``{document}`` placeholder. Its identity is name, version and a digest of the text,
so an edit without a version bump still shows in the audit log.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsgate.errors import ConfigurationError

_NAME = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)\.md$")


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
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user.replace("{document}", document)}]


def load_prompt(path: Path) -> Prompt:
    match = _NAME.match(path.name)
    if match is None:
        raise ConfigurationError(f"{path}: a prompt file is named <name>.v<N>.md")
    text = path.read_text(encoding="utf-8")
    system, separator, user = text.partition("\n---\n")
    if not separator or "{document}" not in user:
        raise ConfigurationError(f"{path}: expected a system part, a line '---', and a user part containing {{document}}")
    return Prompt(match["name"], int(match["version"]), system.strip(), user.strip(), hashlib.sha256(text.encode()).hexdigest())


def latest_prompt(directory: Path, name: str) -> Prompt:
    """The highest version of ``name`` in ``directory``."""
    versions = [(int(m["version"]), p) for p in directory.glob(f"{name}.v*.md") if (m := _NAME.match(p.name)) and m["name"] == name]
    if not versions:
        raise ConfigurationError(f"no prompt {name!r} in {directory}")
    return load_prompt(max(versions)[1])
