"""Models a workflow fitted and keeps for its next runs, by workflow and kind of input.

A full run fits a model (the duplicate matcher's weights, for one kind of record); an incremental
run scores new inputs with the newest one instead of fitting again, and a replayed case is scored
with the very model its run used, by the id the case recorded. The platform stores the model as
the workflow hands it over (JSON: what it compares and its parameters) and gives it back as is;
what the numbers mean is the workflow's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from opsgate.store.db import transaction
from opsgate.store.tables import MatchModelRow, as_utc


@dataclass(frozen=True)
class FittedModel:
    """One stored model: ``fields`` what it compares, ``model`` its parameters, both as JSON."""

    id: int
    workflow: str
    kind: str
    fields: list[Any]
    model: dict[str, Any]
    run_id: str
    fitted_at: datetime


def _fitted(row: MatchModelRow) -> FittedModel:
    return FittedModel(
        row.id, row.workflow, row.kind, list(row.fields), dict(row.model), row.run_id, as_utc(row.fitted_at)
    )


def save_fitted(workflow: str, kind: str, fields: list[Any], model: dict[str, Any], run_id: str) -> int:
    """Keep a model a run fitted; its id, for the cases it scores to name."""
    with transaction() as session:
        row = MatchModelRow(workflow=workflow, kind=kind, fields=fields, model=model, run_id=run_id)
        session.add(row)
        session.flush()
        return row.id


def latest_fitted(workflow: str, kind: str) -> FittedModel | None:
    """The newest model ``workflow`` fitted for ``kind``, if any."""
    with transaction() as session:
        row = session.execute(
            select(MatchModelRow)
            .where(MatchModelRow.workflow == workflow, MatchModelRow.kind == kind)
            .order_by(MatchModelRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return _fitted(row) if row is not None else None


def fitted_model(model_id: int) -> FittedModel | None:
    """A model by the id a case recorded: the one that scored it then."""
    with transaction() as session:
        row = session.get(MatchModelRow, model_id)
        return _fitted(row) if row is not None else None
