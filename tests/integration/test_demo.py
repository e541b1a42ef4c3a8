"""`opsgate demo --yes`, the README's first command's main job, on the shipped samples."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow, ProposalRow


def test_demo_walks_the_whole_path(flow_env: str) -> None:
    env = {**os.environ, "PREFECT_API_URL": flow_env, "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "opsgate", "demo", "--yes"], env=env, capture_output=True, text=True, timeout=240
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "The run is paused for approval" in result.stdout
    assert "/runs/flow-run/" in result.stdout
    assert "chain: " in result.stdout and "intact" in result.stdout
    with transaction() as session:
        posted = sorted(session.execute(select(PayableRow.invoice_number)).scalars())
        statuses = {row.source.rsplit("/", 1)[-1]: row.status for row in session.execute(select(ProposalRow)).scalars()}
    # the samples: five complete documents (one carrying an injected instruction), one without a total
    assert posted == ["BOS-24-0317", "CS-000482", "HPD-1187", "LCS-2024-00042", "NT-2024-0815"]
    assert statuses["quillfeather_no_total.pdf"] == "escalated"
    assert statuses["lumen_cloud_services.pdf"] == "executed"
