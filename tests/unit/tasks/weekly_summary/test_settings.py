"""The weekly summary's policy settings, checked when the policy loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgate.errors import PolicyError
from opsgate.policy.loader import load_policy_file, workflow_settings
from opsgate.settings import PROJECT_ROOT
from tasks.weekly_summary.workflow import SPEC

SHIPPED = PROJECT_ROOT / "policies" / "weekly_summary.yaml"


def _load(tmp_path: Path, settings: dict[str, Any], channels: dict[str, Any] | None = None) -> Any:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    data["settings"] = {**data["settings"], **settings}
    if channels is not None:
        data["channels"] = channels
    path = tmp_path / "weekly_summary.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_policy_file(path)


def test_the_shipped_policy_loads_with_its_settings() -> None:
    settings = workflow_settings(SPEC, load_policy_file(SHIPPED))
    assert settings.timezone == "Europe/Berlin" and settings.publish_to == []


def test_publishing_to_a_defined_channel_loads(tmp_path: Path) -> None:
    policy = _load(tmp_path, {"publish_to": ["ops"]}, {"ops": {"kind": "slack", "url_env": "OPS_HOOK"}})
    assert workflow_settings(SPEC, policy).publish_to == ["ops"]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"publish_to": ["nowhere"]},
            "settings.publish_to: 'nowhere' is not among the policy's channels (none defined)",
        ),
        ({"timezone": "Mars/Olympus"}, "settings.timezone: time zone 'Mars/Olympus' is unknown"),
        ({"top_vendors": 0}, "settings.top_vendors"),
        ({"colour": "red"}, "settings.colour"),
    ],
)
def test_bad_settings_are_named_when_the_policy_loads(tmp_path: Path, settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(PolicyError) as raised:
        _load(tmp_path, settings)
    assert problem in str(raised.value)
