"""The policy as it governs now: the workflow's file, with the autonomy its case types have earned
or lost since and the instruction versions released since.

Both changes are learnt from what happened (the metrics, the replays), so the composition lives
here; governance is given the result when a run starts (``runs.start_run``) and keeps it with the
run, so every decision of that run is taken under one policy.
"""

from __future__ import annotations

from opsgate.governance.runs import Governing
from opsgate.learning.autonomy import effective_policy
from opsgate.learning.releases import with_releases
from opsgate.models import digest
from opsgate.policy.loader import load_policy
from opsgate.policy.runtime import Policy


def governing(workflow: str) -> Governing:
    """The workflow's policy as it governs now, with a version saying what differs from the file."""
    file = load_policy(workflow)
    policy = with_releases(effective_policy(file))
    earned = {case: mode.value for case, mode in policy.autonomy.items() if file.autonomy.get(case) != mode}
    in_file = file.go_live.released if file.go_live else []
    released = [v for v in (policy.go_live.released if policy.go_live else []) if file.go_live and v not in in_file]
    version = (  # what differs from the file, in short: the trigger's audit row says what
        policy.fingerprint
        + (f"+earned:{digest(earned)[:8]}" if earned else "")
        + (f"+released:{digest(released)[:8]}" if released else "")
    )
    return Governing(policy=policy, version=version, earned=earned, released=released)


def governing_policy(workflow: str) -> Policy:
    """Only the policy of ``governing``: for what is not a run's (a notice sent on its behalf)."""
    return governing(workflow).policy
