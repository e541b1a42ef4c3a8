"""prefect.yaml against the code: every deployment's entrypoint is a flow, and its parameters are
valid for that flow (a typo here would only show on the first scheduled run)."""

from __future__ import annotations

from importlib import import_module

import pytest
import yaml
from prefect.flows import Flow

from opsgate.settings import PROJECT_ROOT

DEPLOYMENTS = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
# Deployments opsgate starts itself, each run with its own parameters: what it sends.
STARTED_WITH = {"take-up": {"params": {"request": "a take-up request's id"}}}


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_each_deployment_names_a_flow_with_valid_parameters(deployment: dict) -> None:
    path, _, name = deployment["entrypoint"].partition(":")
    module = import_module(path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, name)
    assert isinstance(flow, Flow)
    # raises on a wrong or missing parameter
    flow.validate_parameters(deployment.get("parameters", STARTED_WITH.get(deployment["name"], {})))
    assert all(schedule["timezone"] for schedule in deployment.get("schedules", [])), (
        "a schedule without a time zone runs in UTC"
    )
