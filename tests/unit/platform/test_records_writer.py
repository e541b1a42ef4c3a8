"""The records writer on real stores: a merge marks and never deletes, undo restores the exact
before image, and both refuse what would overwrite someone else's work."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from opsgate.errors import ExecutionError
from opsgate.models import digest
from opsgate.store.db import transaction
from opsgate.store.tables import RecordMergeRow, RecordRow
from opsgate.writers.records import RecordMerge, RecordsMerge

WRITER = RecordsMerge()


@pytest.fixture
def records(opsgate_env: str) -> dict[str, int]:
    data = {
        "a": {"name": "Acme Ltd", "city": "Leeds"},
        "b": {"name": "ACME Limited", "phone": "0113 496 0000"},
        "c": {"name": "Acme", "email": "info@acme.co.uk"},
        "z": {"name": "Zenith Foods"},
    }
    with transaction() as session:
        rows = [RecordRow(kind="customers", external_id=k, data=v, data_digest=digest(v)) for k, v in data.items()]
        session.add_all(rows)
        session.flush()
        return {r.external_id: r.id for r in rows}


def _merge(survivor: str, duplicates: list[str], values: dict[str, str] | None = None) -> str:
    with transaction() as session:
        return WRITER.apply(
            session, RecordMerge(kind="customers", survivor=survivor, duplicates=duplicates, values=values or {}), "p-1"
        )


def _undo(target: str) -> None:
    with transaction() as session:
        WRITER.undo(session, target)


def _state() -> dict[str, tuple[int | None, dict[str, str]]]:
    with transaction() as session:
        return {r.external_id: (r.merged_into, dict(r.data)) for r in session.execute(select(RecordRow)).scalars()}


def test_merge_marks_the_duplicates_and_undo_restores_everything(records: dict[str, int]) -> None:
    before = _state()
    target = _merge("a", ["b", "c"], {"phone": "0113 496 0000", "email": "info@acme.co.uk"})
    after = _state()
    assert len(after) == 4, "a merge deletes nothing"
    assert after["b"][0] == after["c"][0] == records["a"] and after["a"][0] is None
    assert after["a"][1] == {"name": "Acme Ltd", "city": "Leeds", "phone": "0113 496 0000", "email": "info@acme.co.uk"}

    _undo(target)
    assert _state() == before
    with transaction() as session:
        assert session.get(RecordMergeRow, int(target)).status == "undone"  # type: ignore[union-attr]
    with pytest.raises(ExecutionError, match="not in force"):
        _undo(target)


def test_a_record_merged_elsewhere_is_a_conflict_and_nothing_is_written(records: dict[str, int]) -> None:
    _merge("z", ["c"])
    with pytest.raises(ExecutionError, match="already merged into 'z'"):
        _merge("a", ["b", "c"])
    assert _state()["b"][0] is None, "the refused merge left no partial write"


def test_merging_into_a_merged_survivor_follows_it_to_the_live_record(records: dict[str, int]) -> None:
    _merge("a", ["b"])
    _merge("b", ["c"])  # b now lives on as a: c goes there too
    assert _state()["c"][0] == records["a"]
    before = _state()
    again = _merge("a", ["b", "c"])  # approved again (say, by an overlapping proposal): the outcome already holds
    assert _state() == before
    with transaction() as session:
        assert session.get(RecordMergeRow, int(again)).merged_ids == []  # type: ignore[union-attr]
    _undo(again)
    assert _state() == before, "undoing a merge that folded nothing in changes nothing"


def test_undo_refuses_when_the_survivor_changed_since(records: dict[str, int]) -> None:
    target = _merge("a", ["b"])
    with transaction() as session:
        row = session.execute(select(RecordRow).where(RecordRow.external_id == "a")).scalar_one()
        row.data = {**row.data, "city": "York"}
    with pytest.raises(ExecutionError, match="changed after the merge"):
        _undo(target)
    with transaction() as session:
        assert (
            session.execute(
                select(func.count()).select_from(RecordRow).where(RecordRow.merged_into.is_not(None))
            ).scalar_one()
            == 1
        )


def test_undo_refuses_when_a_merged_record_was_moved_since(records: dict[str, int]) -> None:
    target = _merge("a", ["b"])
    with transaction() as session:
        row = session.get(RecordRow, records["b"])
        row.merged_into = records["z"]  # type: ignore[union-attr]
    with pytest.raises(ExecutionError, match="no longer point"):
        _undo(target)
    assert _state()["b"][0] == records["z"]
