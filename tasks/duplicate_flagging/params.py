"""What a run of the duplicate-flagging workflow takes: the CLI's options and the Prefect UI's form."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator


class DedupeParams(BaseModel):
    kind: str = Field(
        "customers",
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The record set in the store: customers, vendors, people.",
    )
    file: Path | None = Field(
        None,
        description="CSV or Parquet of source records to load into the store first (new ids added, changed rows updated).",
    )
    id_column: str | None = Field(
        None, description="The file's column that identifies each record; needed with --file."
    )
    fields: str | None = Field(
        None, description='Columns to compare, "col[:kind],...". Default: inferred from the column names.'
    )
    incremental: bool = Field(
        False,
        description="Match only new or changed records against the rest, with the model the last full run fitted.",
    )
    delimiter: str | None = Field(None, description="The file's CSV delimiter. Default: detected.")
    encoding: str = Field("utf-8", description="The file's text encoding.")

    @model_validator(mode="after")
    def _file_has_ids(self) -> DedupeParams:
        if self.file is not None and not self.id_column:
            raise ValueError("a file of records needs --id-column, the column that identifies each record")
        return self
