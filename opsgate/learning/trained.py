"""Models a workflow trains from its people's history, kept in the store for every later run.

A trained model (a request classifier) is handed over as named numeric and text arrays and kept
as an ``.npz`` file's bytes, read back with pickling refused: what the store holds is data, never
code, so whoever can write to the database cannot make opsgate run anything by planting a model.
Its version is the SHA-256 of those bytes (``<kind>.<12 hex>``): what proposals record as their
instruction version, replay names and ``go_live`` releases. A tag under the audit key covers the
version, the bytes' digest and what it was trained on; a model changed in the store after it
was saved is refused, not used.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from opsgate.errors import ConfigurationError
from opsgate.integrity import mac, verifies
from opsgate.store.db import transaction
from opsgate.store.tables import TrainedModelRow, as_utc


@dataclass(frozen=True)
class TrainedModel:
    """A stored model: its version, its arrays by name, and what the workflow said of its training."""

    workflow: str
    kind: str
    version: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    trained_at: datetime


def _packed(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _signed(workflow: str, kind: str, version: str, data: bytes, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "workflow": workflow,
        "kind": kind,
        "version": version,
        "sha256": hashlib.sha256(data).hexdigest(),
        "meta": meta,
    }


def save_trained(workflow: str, kind: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    """Keep a trained model; its version. The same arrays saved twice are one model."""
    for name, array in arrays.items():
        if array.dtype == object:
            raise ConfigurationError(f"{name}: a trained model holds numbers and strings only, not objects")
    data = _packed(arrays)
    version = f"{kind}.{hashlib.sha256(data).hexdigest()[:12]}"
    with transaction() as session:
        if session.execute(select(TrainedModelRow.id).where(TrainedModelRow.version == version)).first() is None:
            tag = mac(_signed(workflow, kind, version, data, meta))
            session.add(TrainedModelRow(workflow=workflow, kind=kind, version=version, data=data, meta=meta, tag=tag))
    return version


def _model(row: TrainedModelRow) -> TrainedModel:
    if not verifies(_signed(row.workflow, row.kind, row.version, row.data, row.meta), row.tag):
        raise ConfigurationError(
            f"trained model {row.version} of {row.workflow} was changed in the store after it was saved "
            "(its tag does not verify under the audit key): refusing to use it; train again"
        )
    try:
        with np.load(io.BytesIO(row.data), allow_pickle=False) as loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:  # a pickle, or not arrays at all: never run
        raise ConfigurationError(f"trained model {row.version} of {row.workflow} is not arrays: {exc}") from None
    return TrainedModel(row.workflow, row.kind, row.version, arrays, dict(row.meta), as_utc(row.trained_at))


def latest_trained(workflow: str, kind: str) -> TrainedModel | None:
    """The newest model ``workflow`` trained of ``kind``, checked; None when it has trained none."""
    with transaction() as session:
        row = session.execute(
            select(TrainedModelRow)
            .where(TrainedModelRow.workflow == workflow, TrainedModelRow.kind == kind)
            .order_by(TrainedModelRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return _model(row) if row is not None else None


def trained_version(workflow: str, version: str) -> TrainedModel | None:
    """A model by the version a case recorded, checked; None when the store has no such model."""
    with transaction() as session:
        row = session.execute(
            select(TrainedModelRow).where(TrainedModelRow.workflow == workflow, TrainedModelRow.version == version)
        ).scalar_one_or_none()
        return _model(row) if row is not None else None
