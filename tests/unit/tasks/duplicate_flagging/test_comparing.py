"""Comparison by distinct values: the same similarities and levels as comparing every record pair."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler

from tasks.duplicate_flagging.comparing import MISSING, compare, prepare
from tasks.duplicate_flagging.fields import Kind
from tasks.duplicate_flagging.normalising import normalise


def test_each_value_pair_is_scored_like_its_record_pairs_in_either_order() -> None:
    values = normalise(pd.Series(["Anna", "Ana", "anna", "", "Hannah", "Ana"]), Kind.GIVEN_NAME)
    field = prepare(values, Kind.GIVEN_NAME)
    assert sorted(field.distinct) == ["ana", "anna", "hannah"]  # each value once; missing is no value
    a, b = np.array([0, 1, 0, 1, 2, 3, 4]), np.array([1, 0, 2, 5, 4, 0, 1])
    similarity, level = compare(field, a, b)
    expected = [JaroWinkler.normalized_similarity(values[i], values[j]) for i, j in zip(a, b)]
    assert np.allclose(similarity[[0, 1, 2, 3, 4, 6]], np.array(expected)[[0, 1, 2, 3, 4, 6]])
    assert similarity[0] == similarity[1]  # (anna, ana) and (ana, anna): one comparison, one answer
    assert similarity[2] == 1.0 and similarity[3] == 1.0  # equal values are not compared at all
    assert np.isnan(similarity[5]) and level[5] == MISSING  # a missing side is no evidence


def test_per_value_extras_follow_their_values() -> None:
    values = normalise(pd.Series(["1990-03-04", "1990-04-03", "1990-03-04", "1991-03-04"]), Kind.DATE)
    field = prepare(values, Kind.DATE)
    similarity, level = compare(field, np.array([0, 1, 0]), np.array([1, 2, 3]))
    assert list(level) == [1, 1, 1]  # day and month swapped (both orders) and one typo are "close"
    assert similarity[0] == similarity[1] >= 0.875


def test_phones_on_one_line_and_addresses_in_other_buildings() -> None:
    phones = prepare(normalise(pd.Series(["+1 555 010 2030", "555-010-2030", "555 010 2031", "0102030"]), Kind.PHONE), Kind.PHONE)
    similarity, level = compare(phones, np.array([0, 0, 1]), np.array([1, 2, 3]))
    assert similarity[0] == 1.0 and level[0] == 2  # with and without country code: the same last seven digits
    assert 0.8 <= similarity[1] < 1.0 and level[1] == 1  # one digit apart
    assert similarity[2] == 1.0  # a seven-digit local number is the same line
    streets = prepare(normalise(pd.Series(["12 Oak Street", "12 Oak St", "14 Oak St", "Oak St"]), Kind.ADDRESS), Kind.ADDRESS)
    similarity, level = compare(streets, np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert similarity[0] == 1.0  # written differently, the same after normalising
    assert similarity[1] == 0.0 and level[1] == 0  # another house number: another building
    assert 0.01 <= similarity[2] < 1.0  # no number on one side: compared as text
