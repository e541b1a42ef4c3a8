"""The duplicate-flagging workflow as the platform sees it: its name, parameters, commands, policy
settings and sample records (no Prefect import here; the flow loads when a run starts)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from opsgate.workflows import WorkflowSpec
from tasks.duplicate_flagging.commands import dedupe
from tasks.duplicate_flagging.outcomes import compare_outcomes
from tasks.duplicate_flagging.policy import DedupePolicy
from tasks.duplicate_flagging.replay import replay

WORKFLOW = "duplicate_flagging"


class DedupeParams(BaseModel):
    kind: str = Field("customers", pattern=r"^[a-z][a-z0-9_]*$", description="The record set in the store: customers, vendors, people.")
    file: Path | None = Field(None, description="CSV or Parquet of source records to load into the store first (new ids added, changed rows updated).")
    id_column: str | None = Field(None, description="The file's column that identifies each record; needed with --file.")
    fields: str | None = Field(None, description='Columns to compare, "col[:kind],...". Default: inferred from the column names.')
    incremental: bool = Field(False, description="Match only new or changed records against the rest, with the model the last full run fitted.")
    delimiter: str | None = Field(None, description="The file's CSV delimiter. Default: detected.")
    encoding: str = Field("utf-8", description="The file's text encoding.")

    @model_validator(mode="after")
    def _file_has_ids(self) -> DedupeParams:
        if self.file is not None and not self.id_column:
            raise ValueError("a file of records needs --id-column, the column that identifies each record")
        return self


SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="dedupe",
    flow="flows.duplicate_flagging:duplicate_flagging",
    params_model=DedupeParams,
    summary="Flag duplicate customer, vendor or person records, with the evidence for each pair; merge what is approved.",
    commands=[dedupe],
    settings_model=DedupePolicy,
    compare_outcomes=compare_outcomes,
    replay=replay,
)
