"""`opsgate eval --artifact` on a real Prefect server: the report is published as the workflow's
shadow-evaluation Markdown artifact with its per-field chart inside, and the JSON still goes to stdout."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from typer.testing import CliRunner

from opsgate.cli.app import app
from tests.support.batches import proposed_batch, write_inbox
from tests.support.markdown import render
from tests.support.policies import use_policy_variant

KEY = "invoice-extraction-shadow-evaluation"


def test_the_report_is_published_with_its_chart(flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda policy: policy["autonomy"].update(invoice="shadow"))
    proposed_batch(write_inbox(tmp_path / "inbox"))
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(
        "source,action,total\nus.pdf,posted,1222.56\nde.pdf,posted,1439.45\nuk.pdf,rejected,\n", encoding="utf-8"
    )

    published = CliRunner().invoke(app, ["eval", "invoices", "--outcomes", str(outcomes), "--artifact", "--json"])

    assert published.exit_code == 0, published.output
    assert (
        json.loads(published.stdout)["overall"]["action_agreement_rate"] == 0.6667
    )  # us, de posted as proposed; uk rejected
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[KEY])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    assert artifact.type == "markdown" and artifact.data.startswith("# invoice_extraction: shadow evaluation")
    assert ["total", "1/2 (50.0%)"] in [
        row for table in render(artifact.data).tables for row in table
    ]  # de's total differs
    (chart,) = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", artifact.data)
    assert mpimg.imread(io.BytesIO(base64.b64decode(chart)), format="png").shape[1] > 100
