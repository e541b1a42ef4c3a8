"""Publishing a report from the CLI (agent metrics, a shadow evaluation) as a Prefect artifact.

An artifact belongs to a run: Prefect no longer accepts artifacts made outside one. So the CLI
publishes from a small flow run of its own, named after what it publishes, on the configured or
local server; people find the report under that run and under its key. The Markdown comes
escaped from the views that build it; table cells are escaped here, because Prefect's UI renders
every text cell as Markdown.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from opsgate.display import markdown_text
from opsgate.orchestration.server import prefect_api


@flow(name="publish-report", flow_run_name="publish {key}")
def _publish(
    key: str, description: str, markdown: str | None = None, table: list[dict[str, Any]] | None = None
) -> None:
    if table is not None:
        create_table_artifact(key=key, table=table, description=description)
    else:
        create_markdown_artifact(key=key, markdown=markdown or "", description=description)


def publish_table(key: str, table: list[dict[str, Any]], description: str) -> None:
    cells = [
        {name: markdown_text(value) if isinstance(value, str) else value for name, value in row.items()}
        for row in table
    ]
    with prefect_api():
        _publish(key, description, table=cells)


def publish_markdown(key: str, markdown: str, description: str) -> None:
    with prefect_api():
        _publish(key, description, markdown=markdown)
