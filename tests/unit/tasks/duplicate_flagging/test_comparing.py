"""Comparison by distinct values: the same similarities and levels as comparing every record pair."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler

from tasks.duplicate_flagging.comparing import DATE_LEVELS, MISSING, NAME_LEVELS, compare, prepare
from tasks.duplicate_flagging.fields import Kind
from tasks.duplicate_flagging.matching import compare_pairs
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
    swapped, typo = DATE_LEVELS.index("day and month swapped"), DATE_LEVELS.index("one digit")
    assert list(level) == [swapped, swapped, typo]  # day and month swapped (both orders), and one typo
    assert similarity[0] == similarity[1] >= 0.875


def test_phones_on_one_line_and_addresses_in_other_buildings() -> None:
    phones = prepare(
        normalise(pd.Series(["+1 555 010 2030", "555-010-2030", "555 010 2031", "0102030"]), Kind.PHONE), Kind.PHONE
    )
    similarity, level = compare(phones, np.array([0, 0, 1]), np.array([1, 2, 3]))
    assert similarity[0] == 1.0 and level[0] == 2  # with and without country code: the same last seven digits
    assert 0.8 <= similarity[1] < 1.0 and level[1] == 1  # one digit apart
    assert similarity[2] == 1.0  # a seven-digit local number is the same line
    streets = prepare(
        normalise(pd.Series(["12 Oak Street", "12 Oak St", "14 Oak St", "Oak St"]), Kind.ADDRESS), Kind.ADDRESS
    )
    similarity, level = compare(streets, np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert similarity[0] == 1.0  # written differently, the same after normalising
    assert similarity[1] == 0.0 and level[1] == 0  # another house number: another building
    assert 0.01 <= similarity[2] < 1.0  # no number on one side: compared as text


def _levels(kind: Kind, pairs: list[tuple[str, str]]) -> list[str]:
    """The level name of each pair of written values, compared as one field of their kind."""
    values = normalise(pd.Series([v for pair in pairs for v in pair]), kind)
    first = np.arange(len(pairs)) * 2
    _, level = compare(prepare(values, kind), first, first + 1)
    names = NAME_LEVELS if kind in (Kind.GIVEN_NAME, Kind.SURNAME, Kind.NAME) else DATE_LEVELS
    return [names[i] for i in level]


def test_each_name_level() -> None:
    pairs = [
        ("Anna", "ANNA"),  # the same after case is folded
        ("Bob", "Robert"),  # a nickname, far apart in spelling
        ("Catherine", "Catherina"),  # one letter: Jaro-Winkler 0.956
        ("Smith", "Smyth"),  # both metaphone SM0; Jaro-Winkler 0.893 alone would only be close
        ("Walker", "Walters"),  # Jaro-Winkler 0.894, different sounds (WLKR, WLTRS)
        ("eTheodroe", "Theodore"),  # letters moved: Indel similarity 0.82, Jaro-Winkler below 0.88, sounds differ
        ("J", "John"),  # an initial
        ("J Smith", "John Smith"),  # an initial, the rest the same
        ("John", "Mary"),
    ]
    assert _levels(Kind.GIVEN_NAME, pairs[:4] + pairs[5:7] + pairs[8:]) == [
        "exact",
        "nickname",
        "one typo",
        "sounds alike",
        "two typos",
        "initial",
        "else",
    ]
    assert _levels(Kind.SURNAME, [pairs[4]]) == ["close"]
    assert _levels(Kind.NAME, [pairs[7], ("Bob Smith", "Robert Smith"), ("Bob Smith", "Robert Jones")]) == [
        "initial",
        "nickname",
        "else",
    ]


def test_given_name_and_surname_swapped_count_once_on_the_surname() -> None:
    given = normalise(pd.Series(["Logan", "Ferguson", "Maya", "", "Thomas", "John"]), Kind.GIVEN_NAME)
    surname = normalise(pd.Series(["Ferguson", "Logn", "Curtis", "Maya", "Smith", "Thomas"]), Kind.SURNAME)
    prepared = [prepare(given, Kind.GIVEN_NAME), prepare(surname, Kind.SURNAME)]
    # Logan Ferguson / Ferguson Logn: both crosswise close. Maya Curtis / - Maya: one crosswise, the other side missing.
    # Thomas Smith / John Thomas: one crosswise, but the other pair (Smith, John) is present and differs: no swap.
    similarities, levels = compare_pairs(prepared, np.array([0, 2, 4]), np.array([1, 3, 5]))
    swapped = NAME_LEVELS.index("given and surname swapped")
    assert list(levels[:, 1]) == [swapped, swapped, NAME_LEVELS.index("else")]
    assert list(levels[:, 0]) == [MISSING, MISSING, NAME_LEVELS.index("else")]  # the swap is evidence once
    assert np.isclose(
        similarities[0, 1], JaroWinkler.normalized_similarity("logan", "logn")
    )  # the weaker of the two crosswise pairs


def test_each_date_level() -> None:
    pairs = [
        ("1990-03-04", "04/03/1990"),  # one date written two ways (day first)
        ("1990-03-04", "1990-04-03"),  # day and month swapped
        ("1990-03-04", "1980-03-04"),  # one digit, though ten years apart
        ("1990-03-04", "1990-03-25"),  # two digits, 21 days apart
        ("1990-03-04", "1990-09-20"),  # three digits, 200 days apart
        ("1990-03-04", "1995-07-21"),  # five years apart
        ("1990-03-04", "1950-07-21"),  # forty years apart
    ]
    assert _levels(Kind.DATE, pairs) == [
        "exact",
        "day and month swapped",
        "one digit",
        "within a month",
        "within a year",
        "within ten years",
        "else",
    ]
    # Dates that do not exist keep their digits, but have no distance in days to anything.
    assert _levels(Kind.DATE, [("1990-02-30", "1990-02-31"), ("1990-02-30", "1991-02-31")]) == ["one digit", "else"]


def test_email_levels() -> None:
    values = normalise(
        pd.Series(
            [
                "ann@acme.com",
                "ann@acme.com",
                "ann@acme.com",
                "anne@acme.com",
                "ann@acme.com",
                "bob@acme.com",
                "ann@acme.com",
                "zed@other.org",
            ]
        ),
        Kind.EMAIL,
    )
    _, level = compare(prepare(values, Kind.EMAIL), np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7]))
    assert list(level) == [3, 2, 1, 0]  # exact, one typo, the same domain only, else
