"""Reading policy files: every problem in a file is reported at once, each naming file and key."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from opsgate.errors import ConfigurationError, PolicyError
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import unknown_writes
from opsgate.settings import get_settings
from opsgate.workflows import WorkflowSpec, load, workflows


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _settings_problems(path: Path, data: dict[str, object]) -> list[str]:
    """The workflow's own ``settings``, checked by the model its spec names (workflow specs are
    light modules: loading them imports no heavy library)."""
    settings = data.get("settings") or {}
    spec = next((s for s in workflows().values() if s.name == data.get("workflow")), None)
    if spec is None or spec.settings_model is None:
        return [f"{path}: settings: workflow {data.get('workflow')!r} takes no settings"] if settings else []
    try:
        load(spec.settings_model).model_validate(settings, context={"policy": data})
    except ValidationError as exc:
        return [
            f"{path}: settings.{_key(error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
    return []


def workflow_settings(spec: WorkflowSpec, policy: Policy) -> Any:
    """The policy's `settings`, as the workflow's own model (the loader has already checked them)."""
    if spec.settings_model is None:
        raise ConfigurationError(f"workflow {spec.name} takes no settings")
    return load(spec.settings_model).model_validate(policy.settings, context={"policy": policy.model_dump(mode="json")})


def load_policy_file(path: Path, workflow: str | None = None) -> Policy:
    """Load and validate one policy file, or raise ``PolicyError`` listing every problem.

    A live policy's file is named after its workflow; a candidate kept elsewhere (to replay before
    it goes live) names the ``workflow`` it is for instead."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: (top level): a policy is a mapping of keys, got {type(data).__name__}")
    problems = []
    if workflow is not None and data.get("workflow") != workflow:
        problems.append(f"{path}: workflow: names {data.get('workflow')!r}, not {workflow!r}")
    elif workflow is None and data.get("workflow") != path.stem:
        problems.append(
            f"{path}: workflow: names {data.get('workflow')!r} but the file is {path.name}; they must match"
        )
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems += [
            f"{path}: {_key(error['loc'])}: {error['msg'].removeprefix('Value error, ')}" for error in exc.errors()
        ]
        reported = "\n".join(problems)
        problems += [f"{path}: {problem}" for problem in unknown_writes(data.get("tools")) if problem not in reported]
    problems += _settings_problems(path, data)
    if problems:
        raise PolicyError("\n".join(problems))
    policy._file_digest = hashlib.sha256(raw).hexdigest()
    return policy


def policy_path(workflow: str, policy_dir: Path | None = None) -> Path:
    return (policy_dir or get_settings().policy_dir) / f"{workflow}.yaml"


def load_policy(workflow: str, policy_dir: Path | None = None) -> Policy:
    path = policy_path(workflow, policy_dir)
    if not path.exists():
        raise PolicyError(f"{path}: no policy for workflow {workflow!r}; a workflow without a policy cannot run")
    return load_policy_file(path)


def check_all(policy_dir: Path | None = None) -> tuple[dict[str, Policy], list[str]]:
    """Load every policy in the directory; return the good ones and the problems of the rest."""
    directory = policy_dir or get_settings().policy_dir
    loaded: dict[str, Policy] = {}
    problems: list[str] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problems.append(f"{directory}: no policy files (*.yaml)")
    for path in files:
        try:
            loaded[path.stem] = load_policy_file(path)
        except PolicyError as exc:
            problems.append(str(exc))
    return loaded, problems
