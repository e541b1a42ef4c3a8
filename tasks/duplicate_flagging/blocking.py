"""Candidate pairs without comparing every record with every other.

Each blocking key puts records into groups (same phone, same postcode and name initial, similar
sounding surname, ...); inside a group, records are sorted by name and each is paired with its next
``window - 1`` neighbours. A small group is thus compared in full, and a large one (a common
surname, a big city's postcode) as a sorted neighbourhood, so cost stays linear in the number of
records for every key. The candidates are the union over all keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import jellyfish
import numpy as np
import pandas as pd

from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.normalising import first_word, leading_match

NAME_KINDS = (Kind.SURNAME, Kind.NAME, Kind.ORGANISATION, Kind.GIVEN_NAME)


@dataclass(frozen=True)
class BlockingKey:
    name: str
    codes: np.ndarray  # int64 per record; -1 where the record has no key
    columns: tuple[str, ...]  # the fields it is made of: their agreement among its pairs is no evidence
    # Whether its pairs teach the model what duplicates look like. Keys on what one person has alone
    # (name, date of birth, id, e-mail) do; for people, keys on what a household shares (phone,
    # postcode, address) gather relatives and flatmates, whom EM would learn as duplicates.
    trains: bool = True
    # Whether only groups of up to ``small_group`` records are used (in full), a larger group not at all: for keys
    # meant to catch sparse or garbled records in small groups, whose large groups would only add strangers.
    small_groups_only: bool = False


@dataclass(frozen=True)
class Candidates:
    """The union of all keys' pairs (a < b, record positions), and which pairs each key produced."""

    a: np.ndarray
    b: np.ndarray
    by_key: dict[str, np.ndarray]  # key name -> positions into a/b
    columns_by_key: dict[str, tuple[str, ...]]
    training_keys: set[str]  # the keys whose pairs EM learns m from


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """An int per record, equal for equal key values, -1 where there is none; codes pass through."""
    if isinstance(values, np.ndarray):
        return values
    codes, _ = pd.factorize(values.where(values != "", None), use_na_sentinel=True)
    return codes.astype(np.int64)


def _initial(values: pd.Series) -> pd.Series:
    return values.str[:1].fillna("")


def _phonetic(values: pd.Series) -> pd.Series:
    """Metaphone of the first word: spelling variants of one name share it."""
    words = first_word(values)
    unique = words.unique()
    codes = {w: jellyfish.metaphone(w) if w else "" for w in unique}
    return words.map(codes).fillna("")


def _unordered(first: pd.Series, second: pd.Series) -> np.ndarray:
    """Both parts in a fixed order: a record with given name and surname swapped gets the same key."""
    swapped = first > second
    return _join(first.where(~swapped, second), second.where(~swapped, first))


def _join(*parts: pd.Series | np.ndarray) -> np.ndarray:
    """A key only where every part is present, as codes: combining integers, not concatenating strings."""
    codes = [_codes(part) for part in parts]
    combined = codes[0]
    for part in codes[1:]:
        combined = combined * (int(part.max(initial=-1)) + 2) + (part + 1)
    result, _ = pd.factorize(combined)  # small codes again: they are multiplied by the next part's, and sorted on
    result = result.astype(np.int64)
    result[np.logical_or.reduce([c < 0 for c in codes])] = -1
    return result


def blocking_keys(values: dict[str, pd.Series], fields: list[Field]) -> list[BlockingKey]:
    """The keys that make sense for the fields present; each is useful alone, their union covers typos."""
    by_kind: dict[Kind, list[str]] = {}
    for field in fields:
        by_kind.setdefault(field.kind, []).append(field.column)

    keys: list[tuple[str, pd.Series | np.ndarray, tuple[str, ...]]] = []
    name_column = first_column(by_kind, *NAME_KINDS)
    other_column = by_kind[Kind.GIVEN_NAME][0] if Kind.SURNAME in by_kind and Kind.GIVEN_NAME in by_kind else None
    name = values[name_column] if name_column else None
    other_name = values[other_column] if other_column else None
    names = tuple(c for c in (name_column, other_column) if c)
    initial = _initial(name) if name is not None else None
    sound: pd.Series | np.ndarray | None = (
        None  # the sound of a record's name; of both names in a fixed order where there are two
    )
    initials: pd.Series | np.ndarray | None = (
        initial  # a record's initials in a fixed order, the same when given name and surname are swapped
    )
    if name is not None:
        keys.append(
            (
                "name sound",
                _join(_phonetic(name), _initial(other_name)) if other_name is not None else _phonetic(name),
                names,
            )
        )
        sound = _phonetic(name)
        if other_name is not None:
            sound = _unordered(_phonetic(other_name), sound)
            keys.append(("name pair sound", sound, names))
            initials = _unordered(_initial(other_name), initial)
    for kind in (Kind.PHONE, Kind.EMAIL, Kind.IDENTIFIER, Kind.DATE):
        for column in by_kind.get(kind, []):
            keys.append(
                (f"{column} exact", values[column].str[-7:] if kind is Kind.PHONE else values[column], (column,))
            )
    for column in by_kind.get(Kind.EMAIL, []):  # a typo in the domain, or another provider, keeps the mailbox's name
        keys.append((f"{column} mailbox", leading_match(values[column], r"[^@]{3,}@").str[:-1], (column,)))
    for column in by_kind.get(Kind.POSTCODE, []):
        keys.append(
            (
                f"{column} + name initial",
                _join(values[column], initial) if initial is not None else values[column],
                (column, *names),
            )
        )
    for column in by_kind.get(Kind.ADDRESS, [])[:1]:
        street = leading_match(values[column], r"\d+\w*\s+(?:[nsew]\s+)?\w{1,4}")
        keys.append((f"{column} number + street", street, (column, *by_kind.get(Kind.HOUSE_NUMBER, []))))
    combined = _combined(values, by_kind, sound, initials, names)
    # Only people have relatives: for companies and sites, sharing a building or a phone is evidence.
    people = Kind.GIVEN_NAME in by_kind or Kind.DATE in by_kind
    household = {Kind.PHONE, Kind.POSTCODE, Kind.ADDRESS} if people else set()
    kinds = {f.column: f.kind for f in fields}
    single = [
        BlockingKey(key_name, _codes(series), columns, trains=not any(kinds.get(c) in household for c in columns))
        for key_name, series, columns in keys
    ]
    # Combined keys are for recall only: their pairs are mostly ones the single keys find too, and sessions of their
    # own would only reweight each field's mean m (for the Chicago sites they cost F1).
    sparse = [
        BlockingKey(key_name, codes, columns, trains=False, small_groups_only=True)
        for key_name, codes, columns in _sparse(values, by_kind, names)
    ]
    return (
        single
        + [BlockingKey(key_name, _codes(series), columns, trains=False) for key_name, series, columns in combined]
        + sparse
    )


def _combined(
    values: dict[str, pd.Series],
    by_kind: dict[Kind, list[str]],
    sound: pd.Series | np.ndarray | None,
    initials: pd.Series | np.ndarray | None,
    names: tuple[str, ...],
) -> list[tuple[str, pd.Series | np.ndarray, tuple[str, ...]]]:
    """Two keys in one, for groups small enough to be compared in full at any size.

    In a million records a birth date or a postcode is shared by dozens, of whom a record meets
    only its nearest few by name; a duplicate whose name was swapped, misspelt or shortened sorts
    away from it. Joined with a second thing a duplicate usually keeps (its name's sound, its
    initials, its house number), such a group is a handful of records. A birth date is not joined
    with a postcode: strangers sharing both are the pairs Fellegi-Sunter overrates most.
    """
    postcode = first_column(by_kind, Kind.POSTCODE)
    house = first_column(by_kind, Kind.HOUSE_NUMBER)
    address = first_column(by_kind, Kind.ADDRESS)
    kept: list[tuple[str, pd.Series | np.ndarray, tuple[str, ...]]] = []
    if sound is not None and initials is not None:
        kept += [("name sound", sound, names), ("initials", initials, names)]
    if house or address:
        number = values[house] if house else leading_match(values[address], r"\d+")
        kept.append(("house number", number, (house or address,)))
    dates = {date: _codes(values[date]) for date in by_kind.get(Kind.DATE, [])}
    keys = [
        (f"{date} + {label}", _join(codes, part), (date, *columns))
        for date, codes in dates.items()
        for label, part, columns in kept
    ]
    if postcode and sound is not None:
        keys.append((f"{postcode} + name sound", _join(values[postcode], sound), (postcode, *names)))
    return keys


def _sparse(
    values: dict[str, pd.Series], by_kind: dict[Kind, list[str]], names: tuple[str, ...]
) -> list[tuple[str, np.ndarray, tuple[str, ...]]]:
    """Each name's sound with the birth year, or with the city: for records that lack the other name or
    have it swapped or garbled, and whose date is wrong in the day or month.

    Only their small groups are used: in a large file a common name's sound with a year or a city is a
    crowd of strangers, in which a sorted window would add pairs and find nobody.
    """
    keys: list[tuple[str, np.ndarray, tuple[str, ...]]] = []
    sounds = {column: _phonetic(values[column]) for column in names}
    for date in by_kind.get(Kind.DATE, [])[:1]:
        keys += [
            (f"{date} year + {column} sound", _join(values[date].str[:4], sound), (column,))
            for column, sound in sounds.items()
        ]
    for city in by_kind.get(Kind.CITY, [])[:1]:
        keys += [
            (f"{city} + {column} sound", _join(values[city], sound), (city, column)) for column, sound in sounds.items()
        ]
    return keys


def first_column(by_kind: dict[Kind, list[str]], *kinds: Kind) -> str | None:
    return next((by_kind[kind][0] for kind in kinds if kind in by_kind), None)


def _sort_rank(values: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(values, sort=True)
    return codes.astype(np.int64)


SORTED_NEIGHBOURHOOD = "sorted neighbourhood"


@dataclass(frozen=True)
class Blocking:
    """Every key with how its groups are paired: what candidate pairs are made of, one key at a time.

    A group of up to ``small_group`` records is compared in full; in a larger one each record meets
    its next ``window - 1`` records by ``rank`` (of a name). The plain sorted neighbourhood over all
    records by that name, with a ``neighbourhood`` window, is one more key: it catches pairs whose
    keys all differ.
    """

    keys: list[BlockingKey]
    rank: np.ndarray  # per record, its name's position in sorted order
    window: int
    neighbourhood: int
    small_group: int

    @classmethod
    def of(
        cls,
        keys: list[BlockingKey],
        order: pd.Series,
        order_column: str,
        window: int,
        neighbourhood: int,
        small_group: int,
    ) -> Blocking:
        n = len(order)
        every = [*keys, BlockingKey(SORTED_NEIGHBOURHOOD, np.zeros(n, dtype=np.int64), (order_column,))]
        return cls(every, _sort_rank(order), window, neighbourhood, small_group)

    @property
    def records(self) -> int:
        return len(self.rank)

    def pairs(self, key: BlockingKey) -> np.ndarray:
        """One key's pairs as sorted ``a * n + b`` (a < b), each once."""
        if key.name == SORTED_NEIGHBOURHOOD:
            return _key_pairs(key.codes, self.rank, self.neighbourhood, 0)
        return _key_pairs(key.codes, self.rank, 1 if key.small_groups_only else self.window, self.small_group)

    def candidates(self) -> Candidates:
        """The union of every key's pairs, held in memory at once (``partitioning`` spills them instead)."""
        return union_of({key.name: self.pairs(key) for key in self.keys}, self.records, self.keys)


def union_of(found: dict[str, np.ndarray], n: int, keys: list[BlockingKey]) -> Candidates:
    """The union of keys' pairs (``found``: key name -> its sorted ``a * n + b`` codes, or a share of them),
    remembering which key found which pair."""
    n = max(n, 1)
    union = _distinct(np.concatenate(list(found.values()))) if found else np.zeros(0, dtype=np.int64)
    return Candidates(
        union // n,
        union % n,
        {name: np.searchsorted(union, pairs) for name, pairs in found.items()},
        {k.name: k.columns for k in keys},
        {k.name for k in keys if k.trains},
    )


def candidate_pairs(
    keys: list[BlockingKey], order: pd.Series, order_column: str, window: int, neighbourhood: int, small_group: int
) -> Candidates:
    """The union of all keys' pairs, held in memory at once (see ``Blocking``)."""
    return Blocking.of(keys, order, order_column, window, neighbourhood, small_group).candidates()


def _key_pairs(codes: np.ndarray, rank: np.ndarray, window: int, small_group: int) -> np.ndarray:
    """One key's pairs as sorted ``a * n + b`` (a < b), each once: a group of up to ``small_group`` in full,
    else each record with its next ``window - 1`` by ``rank``.

    Works on the records that still have a partner ``d`` places on, a set that shrinks with ``d``,
    so the cost follows the number of pairs, not groups times the widest reach.
    """
    n = len(codes)
    sorted_idx = np.argsort(codes * n + rank, kind="stable")  # by key, then rank: one int64 sorts faster than lexsort
    k = codes[sorted_idx]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, n])
    reach = np.repeat(starts + sizes, sizes) - np.arange(n) - 1  # later records in the same group
    reach = np.where(np.repeat(sizes, sizes) <= small_group, reach, np.minimum(reach, window - 1))
    reach[k < 0] = 0
    parts = []
    active, d = np.flatnonzero(reach > 0), 1
    while len(active):
        a, b = sorted_idx[active], sorted_idx[active + d]
        parts.append(np.minimum(a, b) * n + np.maximum(a, b))
        d += 1
        active = active[reach[active] >= d]
    return (
        np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    )  # sorted: searchsorted into the union is fast


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values: an in-place sort beats np.unique's hashing on tens of millions of ints."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def blocking_recall(a: np.ndarray, b: np.ndarray, true_a: np.ndarray, true_b: np.ndarray, n: int) -> float:
    """Share of the true pairs (record positions) among the candidates."""
    if len(true_a) == 0:
        return 1.0
    candidates = np.minimum(a, b) * n + np.maximum(a, b)
    truth = np.minimum(true_a, true_b) * n + np.maximum(true_a, true_b)
    return float(np.isin(truth, candidates).mean())
