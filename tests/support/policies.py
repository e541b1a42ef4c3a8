"""Variants of a shipped policy, installed as the policy directory for one test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgate.settings import PROJECT_ROOT, get_settings

SHIPPED = PROJECT_ROOT / "policies"


def use_policy_variant(
    directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[dict[str, Any]], None],
    workflow: str = "invoice_extraction",
) -> Path:
    """Write the shipped policies to ``directory``, ``workflow``'s changed by ``change``, and point
    opsgate at it (the other workflows keep their shipped files). Returns the written file."""
    directory.mkdir(parents=True, exist_ok=True)
    for shipped in SHIPPED.glob("*.yaml"):
        if not (directory / shipped.name).exists():
            (directory / shipped.name).write_bytes(shipped.read_bytes())
    data = yaml.safe_load((SHIPPED / f"{workflow}.yaml").read_text(encoding="utf-8"))
    change(data)
    path = directory / f"{workflow}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("OPSGATE_POLICY_DIR", str(directory))
    get_settings.cache_clear()
    return path
