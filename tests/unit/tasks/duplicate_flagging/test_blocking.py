"""Blocking keys: each finds the pairs it is meant for, and costs stay linear."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.duplicate_flagging.blocking import BlockingKey, blocking_keys, blocking_recall, candidate_pairs
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.matching import MatchSettings, blocked_pairs, find_duplicates, normalised_values
from tasks.duplicate_flagging.normalising import normalise

PEOPLE = pd.DataFrame(
    {
        "given": ["john", "jon", "mary", "smith", "peter", "anna"],
        "surname": ["smith", "smyth", "jones", "john", "brown", "lee"],
        "phone": ["5550102030", "", "5550109999", "", "15550104444", "5550104444"],
        "zip": ["10115", "10115", "", "", "", "20095"],
    }
)
FIELDS = [
    Field(column="given", kind=Kind.GIVEN_NAME),
    Field(column="surname", kind=Kind.SURNAME),
    Field(column="phone", kind=Kind.PHONE),
    Field(column="zip", kind=Kind.POSTCODE),
]


def _pairs(key: BlockingKey) -> set[tuple[int, int]]:
    candidates = candidate_pairs(
        [key], pd.Series([""] * len(key.codes)), "given", window=8, neighbourhood=2, small_group=8
    )
    rows = candidates.by_key[key.name]
    return {(int(a), int(b)) for a, b in zip(candidates.a[rows], candidates.b[rows])}


def test_each_key_pairs_the_records_it_is_for() -> None:
    values = {f.column: normalise(PEOPLE[f.column], f.kind) for f in FIELDS}
    keys = {k.name: k for k in blocking_keys(values, FIELDS)}
    assert (0, 1) in _pairs(keys["name sound"])  # smith / smyth, both initial j
    assert (0, 3) in _pairs(keys["name pair sound"])  # given name and surname swapped
    assert _pairs(keys["phone exact"]) == {(4, 5)}  # same last seven digits, with and without country code
    assert _pairs(keys["zip + name initial"]) == {(0, 1)}


def test_a_large_group_is_a_sorted_neighbourhood_not_all_pairs() -> None:
    n = 1000
    key = BlockingKey("same city", np.zeros(n, dtype=np.int64), ("city",))
    names = pd.Series([f"name{i:04d}" for i in range(n)])
    candidates = candidate_pairs([key], names, "name", window=5, neighbourhood=2, small_group=2)
    assert len(candidates.by_key["same city"]) == 4 * n - 10  # each record with its next four by name
    assert set(zip(candidates.a[:3].tolist(), candidates.b[:3].tolist())) <= {(0, 1), (0, 2), (0, 3), (0, 4), (1, 2)}


def test_missing_keys_pair_nothing_and_recall_is_measured() -> None:
    key = BlockingKey("phone", np.array([-1, -1, 3, 3]), ("phone",))
    candidates = candidate_pairs([key], pd.Series(["a", "b", "c", "d"]), "n", window=4, neighbourhood=2, small_group=4)
    assert {
        (int(a), int(b))
        for a, b in zip(candidates.a[candidates.by_key["phone"]], candidates.b[candidates.by_key["phone"]])
    } == {(2, 3)}
    recall = blocking_recall(candidates.a, candidates.b, np.array([2, 0]), np.array([3, 3]), 4)
    assert recall == 0.5


def test_small_groups_are_compared_in_full_even_with_a_narrow_window() -> None:
    codes = np.array([0] * 5 + [1] * 30, dtype=np.int64)  # a group of 5, and one of 30
    key = BlockingKey("k", codes, ("c",))
    names = pd.Series([f"n{i:02d}" for i in range(35)])
    candidates = candidate_pairs([key], names, "n", window=2, neighbourhood=2, small_group=6)
    pairs = {
        (int(a), int(b)) for a, b in zip(candidates.a[candidates.by_key["k"]], candidates.b[candidates.by_key["k"]])
    }
    assert {(a, b) for a in range(5) for b in range(a + 1, 5)} <= pairs  # all 10 pairs of the small group
    assert len(pairs) == 10 + 29  # the large group: each record and its next one only


def test_blocked_pairs_are_the_candidates_that_get_scored() -> None:
    candidates = blocked_pairs(normalised_values(PEOPLE, FIELDS), FIELDS, MatchSettings())
    pairs = set(zip(candidates.a.tolist(), candidates.b.tolist()))
    assert {(0, 1), (0, 3), (4, 5)} <= pairs  # the union of the keys, each pair once with a < b
    scored = find_duplicates(PEOPLE, FIELDS, MatchSettings()).scored
    assert scored.candidates == len(pairs)  # every candidate compared; those worth a look kept
    assert set(zip(scored.a.tolist(), scored.b.tolist())) <= pairs


def test_a_birth_date_is_joined_with_what_a_duplicate_keeps_into_small_groups() -> None:
    people = pd.DataFrame(
        {
            "given": ["christopher", "chris", "miller", "anna", "christopher"],
            "surname": ["miller", "miler", "christopher", "brown", "mills"],
            "born": ["1970-04-27", "1970-04-27", "1970-04-27", "1970-04-27", "1970-04-27"],
            "address": ["128 franklin st", "117 main st", "9 oak ln", "128 franklin st", "5 elm st"],
        }
    )
    fields = [
        Field(column="given", kind=Kind.GIVEN_NAME),
        Field(column="surname", kind=Kind.SURNAME),
        Field(column="born", kind=Kind.DATE),
        Field(column="address", kind=Kind.ADDRESS),
    ]
    keys = {k.name: k for k in blocking_keys({f.column: normalise(people[f.column], f.kind) for f in fields}, fields)}
    assert _pairs(keys["born + name sound"]) == {(0, 2)}  # given name and surname swapped
    assert _pairs(keys["born + initials"]) == {(0, 1), (0, 2), (1, 2), (0, 4), (1, 4), (2, 4)}  # a nickname, a typo
    assert _pairs(keys["born + house number"]) == {(0, 3)}
    assert not any(
        k.trains for name, k in keys.items() if name.startswith("born + ")
    )  # for recall only: EM learns as before
