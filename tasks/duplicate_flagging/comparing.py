"""Per-field similarity of candidate pairs, and its level: the evidence a pair's score is built from.

Each kind of field has one similarity in [0, 1] (rapidfuzz, element-wise over whole arrays of
pairs, in C++ on every core), shown to people as the reason, and agreement levels that feed the
Fellegi-Sunter model. Most kinds cut the similarity at thresholds ("exact", "close", "different").
Names and dates have levels of their own kind, because how two values differ says more than how
much: "Bob" for "Robert", "J" for "John", "Smith John" for "John Smith", 1990-04-03 for 1990-03-04
are each one level, learnt with its own weight. -1 is "one side is missing", which counts neither
for nor against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import jellyfish
import nicknames
import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from tasks.duplicate_flagging.fields import Kind
from tasks.duplicate_flagging.normalising import leading_match

MISSING = -1
# (left values, right values, left extras, right extras) -> similarity; extras are derived once per distinct value
Similarity = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None], np.ndarray]
# (left values, right values, left extras, right extras, similarity) -> level, for pairs of differing values
Grade = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray], np.ndarray]


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


NO_DAY = -1_000_000  # the day number of a date that does not exist
DATE_LEVELS = (
    "else",
    "within ten years",
    "within a year",
    "within a month",
    "one digit",
    "day and month swapped",
    "exact",
)


def date_parts(values: pd.Series) -> np.ndarray:
    """Per ``YYYYMMDD`` value: the value as an integer and its day number (int32: dates recur little, so
    these are taken per record pair, and millions of pairs must stay small).

    A date that does not exist (day 31 of a 30-day month) keeps its digits for the exact, typo and
    swap levels but has no day number, so it is never "within a month" of anything.
    """
    written = values.fillna("").astype(str)
    days = pd.to_datetime(written, format="%Y%m%d", errors="coerce")
    number = ((days - pd.Timestamp("1970-01-01")).dt.days).fillna(NO_DAY).to_numpy(dtype=np.int32)
    digits = pd.to_numeric(written, errors="coerce").fillna(-1).to_numpy(dtype=np.int32)
    return np.stack([digits, number], axis=1)


def _day_month_swapped(parts_a: np.ndarray, parts_b: np.ndarray) -> np.ndarray:
    """The same year, one's month the other's day and the other way round (and not the same date)."""
    a, b = parts_a[:, 0], parts_b[:, 0]
    return (
        (a // 10_000 == b // 10_000)
        & (a // 100 % 100 == b % 100)
        & (a % 100 == b // 100 % 100)
        & (a != b)
        & (a >= 0)
        & (b >= 0)
    )


def date(a: np.ndarray, b: np.ndarray, parts_a: np.ndarray | None, parts_b: np.ndarray | None) -> np.ndarray:
    """YYYYMMDD strings, by edit similarity: one typo is 0.875, and so are day and month swapped."""
    assert parts_a is not None and parts_b is not None
    similarity = edit(a, b)
    return np.where(_day_month_swapped(parts_a, parts_b), np.maximum(similarity, np.float32(0.875)), similarity).astype(
        np.float32
    )


def date_grade(
    a: np.ndarray, b: np.ndarray, parts_a: np.ndarray | None, parts_b: np.ndarray | None, similarity: np.ndarray
) -> np.ndarray:
    """Partial agreement of two different dates, the strongest that holds.

    People swap day and month (US against European order), mistype one digit, or remember only
    the year or the month; how far apart two dates are (days) also tells a typo in the year from
    a different person. Each of these is its own level with its own learnt weight.
    """
    assert parts_a is not None and parts_b is not None
    known = (parts_a[:, 1] > NO_DAY) & (parts_b[:, 1] > NO_DAY)
    apart = np.where(known, np.abs(parts_a[:, 1] - parts_b[:, 1]), np.iinfo(np.int32).max)
    level = np.zeros(len(a), dtype=np.int8)
    level[apart <= 3653] = DATE_LEVELS.index("within ten years")
    level[apart <= 366] = DATE_LEVELS.index("within a year")
    level[apart <= 31] = DATE_LEVELS.index("within a month")
    level[similarity >= 0.875 - 1e-6] = DATE_LEVELS.index("one digit")  # or day and month swapped, which follows
    level[_day_month_swapped(parts_a, parts_b)] = DATE_LEVELS.index("day and month swapped")
    return level


NAME_LEVELS = (
    "else",
    "two typos",
    "initial",
    "close",
    "sounds alike",
    "one typo",
    "nickname",
    "given and surname swapped",
    "exact",
)
NAME_SWAPPED = NAME_LEVELS.index("given and surname swapped")


@cache
def _nickname_pairs() -> tuple[dict[str, int], np.ndarray]:
    """The names the nickname data knows, each as a number, and every related pair of them as ``low * n + high``.

    Related: one is a nickname or translation of the other ("bob" of "robert"), or both are of the
    same name ("bob" and "rob"). Sorted, so a pair is looked up by binary search over whole arrays.
    """
    triplets = nicknames.name_triplets()
    names = sorted({t.name1 for t in triplets} | {t.name2 for t in triplets})
    number = {name: i for i, name in enumerate(names)}
    of: dict[int, set[int]] = {}
    for t in triplets:
        of.setdefault(number[t.name1], set()).add(number[t.name2])
    pairs = {(a, b) for a, related in of.items() for b in related}
    pairs |= {(a, b) for related in of.values() for a in related for b in related if a != b}
    keys = np.array(sorted({min(a, b) * len(names) + max(a, b) for a, b in pairs}), dtype=np.int64)
    return number, keys


def name_parts(values: pd.Series) -> np.ndarray:
    """Per distinct name, what its levels need, as int32: its sound, its initial (twice, plus one where the
    first word is only that letter), the other words, and its first word's number in the nickname data
    (-1 when unknown).

    Integers, so that every level is a comparison of whole arrays rather than a Python loop over pairs.
    """
    written = values.fillna("").astype(str)
    parts = written.str.partition(" ")
    first, rest = parts[0], parts[2]
    sound = written.map(lambda v: jellyfish.metaphone(v) or None)  # no sound (no consonant) is no evidence
    known, _ = _nickname_pairs()
    columns = [
        pd.factorize(sound)[0],
        pd.factorize(first.str[:1])[0] * 2 + (first.str.len() == 1).to_numpy(dtype=np.int64),
        pd.factorize(rest)[0],
        first.map(known).fillna(-1).to_numpy(dtype=np.int64),
    ]
    return np.stack([np.asarray(c, dtype=np.int32) for c in columns], axis=1)


def name_grade(
    a: np.ndarray, b: np.ndarray, parts_a: np.ndarray | None, parts_b: np.ndarray | None, similarity: np.ndarray
) -> np.ndarray:
    """Partial agreement of two different names, the strongest that holds: a nickname of the same
    name, one typo (Jaro-Winkler from 0.94), the same sound (metaphone), close (from 0.88), one side
    only an initial of the other ("J" and "John", "J Smith" and "John Smith"), or letters mostly
    shared ("eTheodroe" and "Theodore": Indel similarity from 0.75).

    The swap of given name and surname is a level too, but it needs both fields: ``mark_swapped``.
    """
    assert parts_a is not None and parts_b is not None
    same_rest = parts_a[:, 2] == parts_b[:, 2]
    initial = (((parts_a[:, 1] | parts_b[:, 1]) & 1) == 1) & (parts_a[:, 1] // 2 == parts_b[:, 1] // 2) & same_rest
    level = np.zeros(len(a), dtype=np.int8)
    level[_pairwise(fuzz.ratio, a, b, 100.0) >= 0.75 - 1e-6] = NAME_LEVELS.index("two typos")
    level[initial] = NAME_LEVELS.index("initial")
    level[similarity >= 0.88 - 1e-6] = NAME_LEVELS.index("close")
    level[(parts_a[:, 0] == parts_b[:, 0]) & (parts_a[:, 0] >= 0)] = NAME_LEVELS.index("sounds alike")
    level[similarity >= 0.94 - 1e-6] = NAME_LEVELS.index("one typo")
    number, keys = _nickname_pairs()
    na, nb = parts_a[:, 3].astype(np.int64), parts_b[:, 3].astype(np.int64)
    key = np.minimum(na, nb) * len(number) + np.maximum(na, nb)
    found = np.searchsorted(keys, key)
    nickname = (na >= 0) & (nb >= 0) & same_rest & (found < len(keys)) & (keys[np.minimum(found, len(keys) - 1)] == key)
    level[nickname] = NAME_LEVELS.index("nickname")
    return level


def exact(a: np.ndarray, b: np.ndarray, *_: object) -> np.ndarray:
    return (a == b).astype(np.float32)


def email_domain(values: pd.Series) -> np.ndarray:
    return _codes(values.str.replace(r"^[^@]*@", "", regex=True))


def email_grade(
    a: np.ndarray, b: np.ndarray, domain_a: np.ndarray | None, domain_b: np.ndarray | None, similarity: np.ndarray
) -> np.ndarray:
    """Nearly the same address (a typo), else only the same domain: a shared company or mail
    provider, whose weight the model learns from how often unrelated records share one."""
    assert domain_a is not None and domain_b is not None
    level = ((domain_a == domain_b) & (domain_a >= 0)).astype(np.int8)
    level[similarity >= 0.9 - 1e-6] = 2
    return level


@dataclass(frozen=True)
class Comparator:
    similarity: Similarity
    thresholds: tuple[float, ...]  # descending; a pair's level is how many it reaches (unless ``grade`` says)
    extra: Callable[[pd.Series], np.ndarray] | None = (
        None  # derived once per distinct value, handed to ``similarity`` and ``grade``
    )
    grade: Grade | None = None  # levels of their own kind, for differing values; equal values are the top level
    named: tuple[str, ...] = ()  # the levels' names, lowest first, where ``grade`` defines them
    disagree: int = 0  # levels up to this one are outright disagreement (``different_people``)
    term_frequencies: bool = False  # exact agreement weighs by how rare the value is in the batch

    @property
    def levels(self) -> int:
        return len(self.named) if self.grade else len(self.thresholds) + 1

    def level(self, similarity: np.ndarray) -> np.ndarray:
        found = np.zeros(len(similarity), dtype=np.int8)
        for threshold in self.thresholds:
            found += similarity >= threshold - 1e-6
        return found


_NAME = {"grade": name_grade, "extra": name_parts, "named": NAME_LEVELS, "term_frequencies": True}
COMPARATORS: dict[Kind, Comparator] = {
    Kind.NAME: Comparator(person_name, (), **_NAME),
    Kind.GIVEN_NAME: Comparator(jaro_winkler, (), **_NAME),
    Kind.SURNAME: Comparator(jaro_winkler, (), **_NAME),
    Kind.ORGANISATION: Comparator(organisation, (0.75, 0.9, 1.0), term_frequencies=True),
    Kind.ADDRESS: Comparator(address, (0.01, 0.75, 0.9, 1.0), leading_number),
    Kind.HOUSE_NUMBER: Comparator(edit, (0.6, 1.0)),
    Kind.CITY: Comparator(jaro_winkler, (0.9, 1.0), term_frequencies=True),
    Kind.POSTCODE: Comparator(edit, (0.75, 1.0)),
    Kind.REGION: Comparator(exact, (1.0,)),
    Kind.PHONE: Comparator(phone, (0.8, 1.0), last_seven, term_frequencies=True),
    Kind.EMAIL: Comparator(
        jaro_winkler, (), email_domain, email_grade, ("else", "same domain", "one typo", "exact"), term_frequencies=True
    ),
    Kind.DATE: Comparator(date, (), date_parts, date_grade, DATE_LEVELS, disagree=DATE_LEVELS.index("within a year")),
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
    frequency: (
        np.ndarray | None
    )  # per distinct value, its share of the records that have one; where exact agreement weighs by it


def prepare(values: pd.Series, kind: Kind) -> Prepared:
    comparator = COMPARATORS[kind]
    codes, uniques = pd.factorize(values.where(values != "", None), use_na_sentinel=True)
    distinct = pd.Series(uniques, dtype=values.dtype)
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=len(distinct)).astype(np.float64)
    return Prepared(
        kind,
        distinct.to_numpy(dtype=object),
        codes.astype(np.int32),
        present,
        comparator.extra(distinct) if comparator.extra else None,
        counts / max(counts.sum(), 1.0) if comparator.term_frequencies else None,
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
    level = np.full(len(a), comparator.levels - 1, dtype=np.int8)
    if len(differ):
        va, vb, inverse = _value_pairs(field, ca[differ], cb[differ])
        extra_a, extra_b = (field.extra[va], field.extra[vb]) if field.extra is not None else (None, None)
        found = comparator.similarity(field.distinct[va], field.distinct[vb], extra_a, extra_b)
        similarity[differ] = found if inverse is None else found[inverse]
        if comparator.grade:
            graded = comparator.grade(field.distinct[va], field.distinct[vb], extra_a, extra_b, found)
            level[differ] = graded if inverse is None else graded[inverse]
    if not comparator.grade:
        level = comparator.level(similarity)
    level[missing] = MISSING
    similarity[missing] = np.nan
    return similarity, level


SWAP_CLOSE = 0.88  # Jaro-Winkler from which a given name and a surname read as the same name


def mark_swapped(
    given: Prepared,
    surname: Prepared,
    columns: tuple[int, int],
    a: np.ndarray,
    b: np.ndarray,
    similarities: np.ndarray,
    levels: np.ndarray,
) -> None:
    """Given name and surname written the other way round: the surname (in place) at the swap level.

    Crosswise, one record's given name against the other's surname and the other way; a swap is
    both cross pairs close, or one close and the other with a side missing ("Curtis Maya" and
    "- Curtis"). The swap is evidence once, on the surname; the given name then counts as missing,
    because both fields always swap together, and EM, which takes fields as independent, would
    otherwise learn "written the other way round" instead of "the same person".
    """
    g, s = columns  # of the given name and the surname in ``similarities`` and ``levels``
    close = NAME_LEVELS.index("close")  # names written the other way round disagree where they stand
    candidates = np.flatnonzero((levels[:, s] < close) & (levels[:, g] < close))
    if len(candidates) == 0:
        return
    ga, gb, sa, sb = (
        given.codes[a[candidates]],
        given.codes[b[candidates]],
        surname.codes[a[candidates]],
        surname.codes[b[candidates]],
    )
    first, second = (
        np.full(len(candidates), np.nan, dtype=np.float32),
        np.full(len(candidates), np.nan, dtype=np.float32),
    )
    for out, left, right, lvalues, rvalues in ((first, ga, sb, given, surname), (second, sa, gb, surname, given)):
        both = np.flatnonzero((left >= 0) & (right >= 0))
        out[both] = jaro_winkler(lvalues.distinct[left[both]], rvalues.distinct[right[both]])
    close_first, close_second = first >= SWAP_CLOSE - 1e-6, second >= SWAP_CLOSE - 1e-6
    swap = (close_first & close_second) | (close_first & np.isnan(second)) | (close_second & np.isnan(first))
    rows = candidates[swap]
    cross = np.fmin(first, second)[swap]
    levels[rows, s], levels[rows, g] = NAME_SWAPPED, MISSING
    similarities[rows, s] = similarities[rows, g] = cross
