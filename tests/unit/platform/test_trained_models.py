"""Trained models in the store (SQLite and PostgreSQL): kept as arrays, named by their content,
refused when changed behind opsgate's back, and never unpickled."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from sqlalchemy import select

from opsgate.errors import ConfigurationError
from opsgate.integrity import mac
from opsgate.learning.trained import _signed, latest_trained, save_trained, trained_version
from opsgate.store.db import transaction
from opsgate.store.tables import TrainedModelRow

ARRAYS = {"queues": np.array(["billing", "returns"]), "weights": np.array([[0.5, -0.25], [1.0, 2.0]], dtype=np.float32)}


def test_a_model_is_kept_named_by_its_content_and_given_back_as_saved(opsgate_env: str) -> None:
    version = save_trained("request_triage", "queues", ARRAYS, {"requests": 4})
    assert version.startswith("queues.") and len(version) == len("queues.") + 12
    assert save_trained("request_triage", "queues", ARRAYS, {"requests": 4}) == version, "the same model twice is one"
    stored = latest_trained("request_triage", "queues")
    assert stored is not None and stored.version == version and stored.meta == {"requests": 4}
    assert stored.arrays["queues"].tolist() == ["billing", "returns"]
    assert np.array_equal(stored.arrays["weights"], ARRAYS["weights"])
    assert trained_version("request_triage", version) is not None
    assert latest_trained("request_triage", "other") is None and latest_trained("invoice_extraction", "queues") is None

    newer = save_trained("request_triage", "queues", {**ARRAYS, "bias": np.zeros(2)}, {"requests": 5})
    assert latest_trained("request_triage", "queues").version == newer  # type: ignore[union-attr]


@pytest.mark.parametrize("change", ["weights", "meta"])
def test_a_model_changed_in_the_store_is_refused(opsgate_env: str, change: str) -> None:
    version = save_trained("request_triage", "queues", ARRAYS, {"requests": 4})
    with transaction() as session:
        row = session.execute(select(TrainedModelRow).where(TrainedModelRow.version == version)).scalar_one()
        if change == "weights":  # a hostile writer routes everything to one queue
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **{**ARRAYS, "weights": np.array([[9.0, 9.0], [0.0, 0.0]], dtype=np.float32)})
            row.data = buffer.getvalue()
        else:
            row.meta = {"requests": 4000}
    with pytest.raises(ConfigurationError, match="changed in the store after it was saved"):
        latest_trained("request_triage", "queues")
    with pytest.raises(ConfigurationError, match="changed in the store"):
        trained_version("request_triage", version)


def test_objects_are_refused_on_the_way_in_and_pickles_on_the_way_out(opsgate_env: str) -> None:
    with pytest.raises(ConfigurationError, match="numbers and strings only"):
        save_trained("request_triage", "queues", {"rules": np.array([{"a": 1}], dtype=object)}, {})
    version = save_trained("request_triage", "queues", ARRAYS, {})
    with transaction() as session:  # a pickle under a tag that verifies (written with the key) is still not run
        row = session.execute(select(TrainedModelRow).where(TrainedModelRow.version == version)).scalar_one()
        row.data = pickle.dumps(ARRAYS)
        row.tag = mac(_signed(row.workflow, row.kind, row.version, row.data, row.meta))
    with pytest.raises(ConfigurationError, match="is not arrays"):
        latest_trained("request_triage", "queues")
