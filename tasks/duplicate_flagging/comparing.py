"""Per-field similarity of candidate pairs, and its level: the evidence a pair's score is built from.

Each kind of field has one similarity in [0, 1] (rapidfuzz, element-wise over whole arrays of
pairs, in C++ on every core) and thresholds that cut it into agreement levels. Levels, not raw
similarities, feed the Fellegi-Sunter model: "exact", "close", "somewhat close", "different",
and -1 for "one side is missing", which counts neither for nor against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from tasks.duplicate_flagging.fields import Kind
from tasks.duplicate_flagging.normalising import leading_match

MISSING = -1
# (left values, right values, left extras, right extras) -> similarity; extras are derived once per record
Similarity = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None], np.ndarray]


def _pairwise(scorer: Callable[..., float], a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0, dtype=np.float32)
    result = cpdist(a, b, scorer=scorer, workers=-1)
    return result / scale if scale != 1.0 else result


def jaro_winkler(a: np.ndarray, b: np.ndarray, *_: object) -> np.ndarray:
    return _pairwise(JaroWinkler.normalized_similarity, a, b)


def edit(a: np.ndarray, b: np.ndarray, *_: object) -> np.ndarray:
    return _pairwise(Levenshtein.normalized_similarity, a, b)


def person_name(a: np.ndarray, b: np.ndarray, *_: object) -> np.ndarray:
    """Jaro-Winkler, or the same words in another order ("Smith John")."""
    return np.maximum(jaro_winkler(a, b), _pairwise(fuzz.token_sort_ratio, a, b, 100.0))


def organisation(a: np.ndarray, b: np.ndarray, *_: object) -> np.ndarray:
    """Shared words, tolerant of a name that adds a parent or a place ("YMCA" in "YMCA of Chicago - Duncan")."""
    return np.maximum(_pairwise(fuzz.token_set_ratio, a, b, 100.0), jaro_winkler(a, b))


def _codes(values: pd.Series) -> np.ndarray:
    """Equal int for equal text, -1 for empty: compared as numbers, not as Python strings."""
    codes, _ = pd.factorize(values.where(values != "", None), use_na_sentinel=True)
    return codes.astype(np.int64)


def leading_number(values: pd.Series) -> np.ndarray:
    return _codes(leading_match(values, r"\d+"))


def address(a: np.ndarray, b: np.ndarray, number_a: np.ndarray | None, number_b: np.ndarray | None) -> np.ndarray:
    """Word-order-tolerant similarity; a different house number is a different building: 0.

    Giving "another building" a level of its own lets the model learn how rarely duplicates
    show it, apart from addresses that are merely written differently.
    """
    assert number_a is not None and number_b is not None
    other_building = (number_a >= 0) & (number_b >= 0) & (number_a != number_b)
    similarity = np.zeros(len(a), dtype=np.float32)
    same = np.flatnonzero(~other_building)
    similarity[same] = np.maximum(_pairwise(fuzz.token_sort_ratio, a[same], b[same], 100.0), np.float32(0.01))
    return similarity


def last_seven(values: pd.Series) -> np.ndarray:
    """The line: a number's last seven digits, -1 when it has fewer."""
    return _codes(values.str[-7:].where(values.str.len() >= 7, ""))


def phone(a: np.ndarray, b: np.ndarray, line_a: np.ndarray | None, line_b: np.ndarray | None) -> np.ndarray:
    """Same last seven digits is the same line (with or without area or country code)."""
    assert line_a is not None and line_b is not None
    similarity = np.ones(len(a), dtype=np.float32)
    other = np.flatnonzero((line_a != line_b) | (line_a < 0))
    similarity[other] = edit(a[other], b[other])
    return similarity


def day_month_swapped(values: pd.Series) -> np.ndarray:
    return (values.str[:4] + values.str[6:8] + values.str[4:6]).fillna("").to_numpy(dtype=object)


def date(a: np.ndarray, b: np.ndarray, swapped_a: np.ndarray | None, _: np.ndarray | None) -> np.ndarray:
    """YYYYMMDD strings: day and month swapped counts as one typo."""
    assert swapped_a is not None
    similarity = edit(a, b)
    return np.where(swapped_a == b, np.maximum(similarity, np.float32(0.875)), similarity).astype(np.float32)


def exact(a: np.ndarray, b: np.ndarray, *_: object) -> np.ndarray:
    return (a == b).astype(np.float32)


@dataclass(frozen=True)
class Comparator:
    similarity: Similarity
    thresholds: tuple[float, ...]  # descending; a pair's level is how many it reaches
    extra: Callable[[pd.Series], np.ndarray] | None = None  # derived once per record, handed to ``similarity``

    @property
    def levels(self) -> int:
        return len(self.thresholds) + 1

    def level(self, similarity: np.ndarray) -> np.ndarray:
        found = np.zeros(len(similarity), dtype=np.int8)
        for threshold in self.thresholds:
            found += similarity >= threshold - 1e-6
        return found


COMPARATORS: dict[Kind, Comparator] = {
    Kind.NAME: Comparator(person_name, (0.88, 0.94, 1.0)),
    Kind.GIVEN_NAME: Comparator(jaro_winkler, (0.88, 0.94, 1.0)),
    Kind.SURNAME: Comparator(jaro_winkler, (0.88, 0.94, 1.0)),
    Kind.ORGANISATION: Comparator(organisation, (0.75, 0.9, 1.0)),
    Kind.ADDRESS: Comparator(address, (0.01, 0.75, 0.9, 1.0), leading_number),
    Kind.HOUSE_NUMBER: Comparator(edit, (0.6, 1.0)),
    Kind.CITY: Comparator(jaro_winkler, (0.9, 1.0)),
    Kind.POSTCODE: Comparator(edit, (0.75, 1.0)),
    Kind.REGION: Comparator(exact, (1.0,)),
    Kind.PHONE: Comparator(phone, (0.8, 1.0), last_seven),
    Kind.EMAIL: Comparator(jaro_winkler, (0.9, 1.0)),
    Kind.DATE: Comparator(date, (0.85, 1.0), day_month_swapped),
    Kind.IDENTIFIER: Comparator(edit, (0.8, 1.0)),
}


@dataclass(frozen=True)
class Prepared:
    """One field's distinct normalised values, each record's code into them, and the comparator's extra per value.

    Records hold few distinct values (a city, a first name, a birth date recurs thousands of times),
    so pairs are compared by value: each distinct pair of values once, whatever the number of
    record pairs that share it.
    """

    kind: Kind
    distinct: np.ndarray  # object: each normalised value once
    codes: np.ndarray  # int32 per record: its value's position in ``distinct``, -1 when missing
    present: np.ndarray  # bool per record
    extra: np.ndarray | None  # per distinct value


def prepare(values: pd.Series, kind: Kind) -> Prepared:
    comparator = COMPARATORS[kind]
    codes, uniques = pd.factorize(values.where(values != "", None), use_na_sentinel=True)
    distinct = pd.Series(uniques, dtype=values.dtype)
    return Prepared(
        kind,
        distinct.to_numpy(dtype=object),
        codes.astype(np.int32),
        codes >= 0,
        comparator.extra(distinct) if comparator.extra else None,
    )


REPEATS_SAMPLE = 20_000  # value pairs looked at to judge whether comparing each distinct one once pays


def _value_pairs(field: Prepared, ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The value pairs to compare for pairs of value codes, and for each its distinct value pair (None: one each).

    Distinct (unordered) value pairs are found by hashing, which costs about as much as comparing
    short strings; so only where a sample shows them recurring (first names, cities), not where
    nearly every pair is new (phones, e-mails).
    """
    pair = np.minimum(ca, cb).astype(np.int64) * len(field.distinct) + np.maximum(ca, cb)
    sample = pair[:: max(1, len(pair) // REPEATS_SAMPLE)]
    if len(pd.unique(sample)) > 0.9 * len(sample):  # seen: under 0.5 for names and cities, over 0.99 for the rest
        return ca, cb, None
    inverse, unique = pd.factorize(pair)
    return unique // len(field.distinct), unique % len(field.distinct), inverse


def compare(field: Prepared, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity and level of one field for the pairs (a[i], b[i]) of record positions.

    Only pairs of differing values are handed to rapidfuzz, each distinct pair once where they
    recur (every similarity is symmetric); equal values are similarity 1.
    """
    ca, cb = field.codes[a], field.codes[b]
    missing = (ca < 0) | (cb < 0)
    differ = np.flatnonzero((ca != cb) & ~missing)
    similarity = np.ones(len(a), dtype=np.float32)
    comparator = COMPARATORS[field.kind]
    if len(differ):
        va, vb, inverse = _value_pairs(field, ca[differ], cb[differ])
        extra_a, extra_b = (field.extra[va], field.extra[vb]) if field.extra is not None else (None, None)
        found = comparator.similarity(field.distinct[va], field.distinct[vb], extra_a, extra_b)
        similarity[differ] = found if inverse is None else found[inverse]
    level = comparator.level(similarity)
    level[missing] = MISSING
    similarity[missing] = np.nan
    return similarity, level
