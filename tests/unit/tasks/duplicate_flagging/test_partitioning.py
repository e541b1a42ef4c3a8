"""Matching in partitions spilled to disk gives exactly what matching everything at once gives."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from tasks.duplicate_flagging.matching import MatchSettings, blocking_of, find_duplicates, normalised_values
from tasks.duplicate_flagging.partitioning import Partitions
from tasks.duplicate_flagging.scoring import Tally
from tests.support.people import FIELDS, people

RECORDS = people(1500)


def test_every_candidate_pair_lands_in_exactly_one_partition_with_the_keys_that_found_it() -> None:
    blocking = blocking_of(normalised_values(RECORDS, FIELDS), FIELDS, MatchSettings())
    whole = blocking.candidates()  # every key's pairs in memory at once
    n = len(RECORDS)
    by_key = {key: set((whole.a[rows] * n + whole.b[rows]).tolist()) for key, rows in whole.by_key.items()}
    with Partitions(blocking, 6) as partitions:
        parts = [partitions.candidates(p) for p in range(6)]
    codes = np.concatenate([part.a * n + part.b for part in parts])
    assert len(codes) == len(whole.a) > 1000
    assert np.array_equal(np.sort(codes), whole.a * n + whole.b)
    for key, expected in by_key.items():
        found = set()
        for part in parts:
            rows = part.by_key[key]
            found |= set((part.a[rows] * n + part.b[rows]).tolist())
        assert found == expected, key
    assert all(len(part.a) > 0 for part in parts)  # spread over all partitions, none left empty


@pytest.mark.parametrize("partition_records", [1, 97, 400])
def test_matching_in_partitions_gives_what_matching_at_once_gives(partition_records: int) -> None:
    at_once = find_duplicates(RECORDS, FIELDS, MatchSettings(partition_records=len(RECORDS)))
    parted = find_duplicates(RECORDS, FIELDS, MatchSettings(partition_records=partition_records))
    # the planted copies are found and the relatives are left to a person: the comparison has substance
    assert at_once.duplicate.sum() > 100 and (~at_once.duplicate).sum() > 20
    for name in ("a", "b", "probability", "duplicate", "labels"):
        assert np.array_equal(getattr(parted, name), getattr(at_once, name)), name
    assert np.array_equal(parted.similarities, at_once.similarities, equal_nan=True)
    assert parted.scored.candidates == at_once.scored.candidates
    assert parted.scored.pairs_per_key == at_once.scored.pairs_per_key
    assert parted.scored.model.prior == at_once.scored.model.prior
    for mine, theirs in zip(
        parted.scored.model.m + parted.scored.model.u, at_once.scored.model.m + at_once.scored.model.u
    ):
        assert np.array_equal(mine, theirs)


def test_an_incremental_match_in_partitions_gives_what_it_gives_at_once() -> None:
    model = find_duplicates(RECORDS, FIELDS, MatchSettings()).scored.model
    focus = np.zeros(len(RECORDS), dtype=bool)
    focus[::50] = True
    at_once = find_duplicates(RECORDS, FIELDS, MatchSettings(partition_records=len(RECORDS)), focus=focus, model=model)
    parted = find_duplicates(RECORDS, FIELDS, MatchSettings(partition_records=50), focus=focus, model=model)
    scored = at_once.scored
    assert len(scored.a) > 0 and (focus[scored.a] | focus[scored.b]).all()  # only pairs with a new record
    for name in ("a", "b", "probability", "duplicate"):
        assert np.array_equal(getattr(parted, name), getattr(at_once, name)), name


def test_only_pairs_worth_a_look_are_kept_but_every_compared_pair_is_counted() -> None:
    settings = MatchSettings(partition_records=300)
    scored = find_duplicates(RECORDS, FIELDS, settings).scored
    assert scored.candidates > 5 * len(scored.a)
    assert (scored.probability >= settings.review_at).all()
    n = len(RECORDS)
    assert (np.diff(scored.a * n + scored.b) > 0).all()  # in record order, each pair once


def test_the_spilled_pairs_are_removed_when_matching_ends(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[Path] = []
    original = Partitions.candidates

    def watched(self: Partitions, p: int):  # noqa: ANN202
        seen.append(self.path)
        return original(self, p)

    monkeypatch.setattr(Partitions, "candidates", watched)
    find_duplicates(RECORDS, FIELDS, MatchSettings(partition_records=500))
    assert seen and seen[0].parent == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_tallies_of_parts_merge_into_the_tally_of_the_whole() -> None:
    rng = np.random.default_rng(1)
    levels = rng.integers(-1, 4, size=(5000, 4)).astype(np.int8)
    whole = Tally.of(levels)
    merged = Tally.merged([Tally.of(levels[:1234]), Tally.of(levels[1234:4000]), Tally.of(levels[4000:])], 4)
    assert np.array_equal(merged.patterns, whole.patterns)
    assert np.array_equal(merged.counts, whole.counts)
    assert merged.counts.sum() == 5000
    projected = whole.project([0, 2])
    direct = Tally.of(levels[:, [0, 2]])
    assert np.array_equal(projected.patterns, direct.patterns)
    assert np.array_equal(projected.counts, direct.counts)


def test_the_spilled_pairs_are_removed_when_matching_fails_half_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tasks.duplicate_flagging import matching

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    calls = 0
    original = matching.compare_pairs

    def failing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        nonlocal calls
        calls += 1
        if calls == 3:  # the third partition: two are already set aside on disk
            raise OSError("No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(matching, "compare_pairs", failing)
    with pytest.raises(OSError, match="No space left"):
        find_duplicates(RECORDS, FIELDS, MatchSettings(partition_records=300))
    assert calls == 3
    assert list(tmp_path.iterdir()) == []
