"""From records to scored candidate pairs: normalise, block, compare, fit, score.

The one entry point the CLI, the flow and the benchmarks share. It needs no labels: the model is
fitted on the records it is asked about.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, model_validator
from pydantic import Field as PydanticField

from tasks.duplicate_flagging.blocking import NAME_KINDS, Blocking, Candidates, blocking_keys
from tasks.duplicate_flagging.clustering import coherent_clusters, pairs_within
from tasks.duplicate_flagging.comparing import (
    COMPARATORS,
    MISSING,
    NAME_SWAPPED,
    Prepared,
    compare,
    mark_swapped,
    prepare,
)
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.normalising import normalise
from tasks.duplicate_flagging.partitioning import Partitions, Spread, in_process
from tasks.duplicate_flagging.scoring import MatchModel, Tally, fit, term_frequency_weights


class MatchSettings(BaseModel):
    """Thresholds and limits; the workflow's policy holds the values people agreed on."""

    duplicate_at: float = PydanticField(
        0.99, gt=0, le=1, description="Match probability from which a pair is a duplicate."
    )
    review_at: float = PydanticField(
        0.5, gt=0, le=1, description="Match probability from which a pair goes to a person."
    )
    window: int | None = PydanticField(
        None,
        ge=2,
        description=(
            "Records compared within a blocking group: all of a group this size, else this many sorted neighbours. "
            "Default: 20, less for millions of records."
        ),
    )
    small_group: int = PydanticField(
        12, ge=2, description="Blocking groups up to this size are compared in full, whatever the window."
    )
    neighbourhood: int = PydanticField(
        3, ge=2, description="Window of the sorted neighbourhood over all records by name."
    )
    random_pairs: int = PydanticField(
        400_000, ge=1000, description="Random record pairs sampled to learn how unrelated records agree by chance."
    )
    cohesion: float = PydanticField(
        0.9,
        gt=0,
        lt=1,
        description="Mean match probability a cluster's records must reach among themselves; weaker clusters are split.",
    )
    partition_records: int = PydanticField(
        250_000,
        ge=1,
        description=(
            "Records per partition of the candidate pairs: a larger file is matched partition by partition, "
            "its pairs spilled to disk, so memory stays bounded whatever the number of records."
        ),
    )
    seed: int = 0

    def window_for(self, n: int) -> int:
        """Wider windows where they are cheap: about a million comparisons per key at most."""
        return self.window or max(3, min(20, 1_000_000 // max(n, 1)))

    @model_validator(mode="after")
    def _ordered(self) -> MatchSettings:
        if self.review_at > self.duplicate_at:
            raise ValueError(f"review_at ({self.review_at}) must not be above duplicate_at ({self.duplicate_at})")
        return self


@dataclass
class ScoredPairs:
    """The candidate pairs (record positions a < b, in ``a * n + b`` order) at or above the review threshold,
    with their evidence and match probability; the rest are only counted: nothing below it is shown or
    clustered, and at millions of records they would not fit in memory."""

    a: np.ndarray
    b: np.ndarray
    similarities: np.ndarray  # pairs x fields, NaN where a side is missing
    levels: np.ndarray  # pairs x fields, -1 where a side is missing
    probability: np.ndarray
    model: MatchModel
    candidates: int  # pairs compared
    pairs_per_key: dict[str, int] = field(default_factory=dict)


# Kinds that tell one person from another living at the same address or sharing a phone.
IDENTITY_KINDS = (Kind.GIVEN_NAME, Kind.NAME, Kind.DATE, Kind.IDENTIFIER)
RELATIVES = 0.5  # the most a pair of "different people" can score: a person looks, nothing is merged


def different_people(levels: np.ndarray, fields: list[Field]) -> np.ndarray:
    """Pairs where at least two identity fields are present and every one of them disagrees outright.

    Relatives and flatmates share a surname, an address and a phone, and Fellegi-Sunter adds
    those correlated agreements up as if they were independent; a different first name together
    with a different date of birth is two people, however much else they share. A birth date only
    within a year or ten of the other disagrees outright here: siblings' do. Names written the
    other way round (the surname at the swap level, the given name then missing) agree.
    """
    columns = [i for i, f in enumerate(fields) if f.kind in IDENTITY_KINDS]
    if len(columns) < 2:
        return np.zeros(len(levels), dtype=bool)
    identity = levels[:, columns]
    present = identity != MISSING
    disagree = np.array([COMPARATORS[fields[i].kind].disagree for i in columns], dtype=np.int8)
    surnames = [i for i, f in enumerate(fields) if f.kind is Kind.SURNAME]
    swapped = (levels[:, surnames] == NAME_SWAPPED).any(axis=1)
    return (present.sum(axis=1) >= 2) & ((identity <= disagree) | ~present).all(axis=1) & ~swapped


def term_frequency_adjustment(prepared: list[Prepared], a: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Per pair, log2 of how much the values it agrees on exactly are rarer (or commoner) than average.

    The frequencies are those of the records being matched, so a value common in this file weighs
    little here whatever it weighs elsewhere.
    """
    adjustment = np.zeros(len(a), dtype=np.float64)
    for f, column in enumerate(prepared):
        if column.frequency is None:
            continue
        exact = np.flatnonzero(levels[:, f] == COMPARATORS[column.kind].levels - 1)
        adjustment[exact] += term_frequency_weights(column.frequency)[column.codes[a[exact]]]
    return adjustment


def match_probability(
    model: MatchModel, levels: np.ndarray, fields: list[Field], adjustment: np.ndarray | None = None
) -> np.ndarray:
    return np.minimum(model.probability(levels, adjustment), np.where(different_people(levels, fields), RELATIVES, 1.0))


def normalised_values(records: pd.DataFrame, fields: list[Field]) -> dict[str, pd.Series]:
    return {f.column: normalise(records[f.column], f.kind).reset_index(drop=True) for f in fields}


def _random_pairs(n: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, size=count)
    b = rng.integers(0, n, size=count)
    keep = a != b
    return a[keep], b[keep]


def compare_pairs(prepared: list[Prepared], a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity and level per pair and field; with a given name and a surname, swapped names too."""
    similarities = np.empty((len(a), len(prepared)), dtype=np.float32)
    levels = np.empty((len(a), len(prepared)), dtype=np.int8)
    for i, column in enumerate(prepared):
        similarities[:, i], levels[:, i] = compare(column, a, b)
    given = next((i for i, p in enumerate(prepared) if p.kind is Kind.GIVEN_NAME), None)
    surname = next((i for i, p in enumerate(prepared) if p.kind is Kind.SURNAME), None)
    if given is not None and surname is not None:
        mark_swapped(prepared[given], prepared[surname], (given, surname), a, b, similarities, levels)
    return similarities, levels


def scored(
    model: MatchModel, prepared: list[Prepared], fields: list[Field], a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Similarities, levels and match probability of the pairs (a[i], b[i]), term frequencies included."""
    similarities, levels = compare_pairs(prepared, a, b)
    return (
        similarities,
        levels,
        match_probability(model, levels, fields, term_frequency_adjustment(prepared, a, levels)),
    )


@dataclass
class Decisions:
    """Every pair at or above the review threshold: within a cluster "duplicate", else "review"."""

    a: np.ndarray
    b: np.ndarray
    probability: np.ndarray
    duplicate: np.ndarray  # bool
    similarities: np.ndarray  # pairs x fields, NaN where a side is missing
    labels: np.ndarray  # cluster label per record
    scored: ScoredPairs


def find_duplicates(
    records: pd.DataFrame,
    fields: list[Field],
    settings: MatchSettings,
    *,
    focus: np.ndarray | None = None,
    model: MatchModel | None = None,
    spread: Spread = in_process,
) -> Decisions:
    """Scored candidates, clustered: the pairs a person should see, and the clusters they form.

    ``spread``: where the partitions' pairs are compared (``partitioning.on_dask`` for a cluster);
    the output is the same wherever.

    An incremental run passes ``focus`` (the new or changed records) and the model an earlier
    full run fitted: only candidate pairs with a focused record are compared, and nothing is fitted.
    """
    if focus is not None and model is None:
        raise ValueError("matching only some records needs the model a full run fitted")
    prepared, partitions = _partitioned(records, fields, settings)
    with partitions:
        pairs = _score(prepared, partitions, fields, settings, focus, model, spread)
    return _decide(len(records), prepared, fields, settings, pairs)


def _partitioned(
    records: pd.DataFrame, fields: list[Field], settings: MatchSettings
) -> tuple[list[Prepared], Partitions]:
    """Each field's values prepared for comparing, and the candidate pairs spilled by partition; the
    normalised text and the blocking keys are let go on return, before anything is compared."""
    series = normalised_values(records, fields)
    prepared = [prepare(series[f.column], f.kind) for f in fields]
    return prepared, Partitions.of(blocking_of(series, fields, settings), settings.partition_records)


def rematch(
    records: pd.DataFrame, fields: list[Field], settings: MatchSettings, model: MatchModel, groups: np.ndarray
) -> Decisions:
    """Small groups of records matched again, every pair within a group, with a model fitted
    earlier: how past cases' records come out under other thresholds (replay; one group per case,
    all cases in one pass). No blocking: a case holds a handful of records, and comparing every
    pair of them cannot miss one that blocking found then."""
    series = normalised_values(records, fields)
    prepared = [prepare(series[f.column], f.kind) for f in fields]
    a, b = pairs_within(groups, int(np.bincount(groups).max(initial=1)))
    similarities, levels, probability = scored(model, prepared, fields, a, b)
    return _decide(
        len(records), prepared, fields, settings, ScoredPairs(a, b, similarities, levels, probability, model, len(a))
    )


def _decide(
    n: int, prepared: list[Prepared], fields: list[Field], settings: MatchSettings, pairs: ScoredPairs
) -> Decisions:
    """Scored pairs into coherent clusters of duplicates and the possible duplicates between them."""

    def evidence(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        similarities, _, probability = scored(pairs.model, prepared, fields, a, b)
        return probability, similarities

    edges = pairs.probability >= settings.duplicate_at
    labels, pa, pb, within_p, similarities = coherent_clusters(
        n, pairs.a[edges], pairs.b[edges], evidence, cohesion=settings.cohesion
    )
    review = (pairs.probability >= settings.review_at) & (labels[pairs.a] != labels[pairs.b])
    return Decisions(
        a=np.concatenate([pa, pairs.a[review]]),
        b=np.concatenate([pb, pairs.b[review]]),
        probability=np.concatenate([within_p, pairs.probability[review]]),
        duplicate=np.concatenate([np.ones(len(pa), dtype=bool), np.zeros(int(review.sum()), dtype=bool)]),
        similarities=np.concatenate([similarities, pairs.similarities[review]]),
        labels=labels,
        scored=pairs,
    )


def blocking_of(series: dict[str, pd.Series], fields: list[Field], settings: MatchSettings) -> Blocking:
    """The blocking keys of normalised records, with records sorted by name within large groups."""
    n = len(next(iter(series.values())))
    names = [f.column for kind in NAME_KINDS for f in fields if f.kind is kind] or [fields[0].column]
    order = series[names[0]]
    for column in names[1:]:  # "smith john": near-duplicates sort next to each other
        order = order + " " + series[column]
    keys = blocking_keys(series, fields)
    return Blocking.of(keys, order, names[0], settings.window_for(n), settings.neighbourhood, settings.small_group)


def blocked_pairs(series: dict[str, pd.Series], fields: list[Field], settings: MatchSettings) -> Candidates:
    """The candidate pairs of normalised records, all in memory: what blocking recall is measured on."""
    return blocking_of(series, fields, settings).candidates()


@dataclass
class Evidence:
    """One partition's pairs compared: their levels and term-frequency adjustment, and where the model
    is still to be fitted the tallies EM needs (of all the pairs, and of each training key's)."""

    a: np.ndarray
    b: np.ndarray
    levels: np.ndarray
    adjustment: np.ndarray
    every: Tally | None = None
    sessions: dict[str, Tally] = field(default_factory=dict)


def partition_evidence(
    prepared: list[Prepared], a: np.ndarray, b: np.ndarray, training: dict[str, np.ndarray] | None
) -> Evidence:
    """What a partition's pairs are scored and fitted on; needs nothing but the prepared values, so it
    runs wherever they are (in this process, or on a Dask worker). ``training``: each training key's
    rows among the pairs, or None where the model is given."""
    _, levels = compare_pairs(prepared, a, b)
    adjustment = term_frequency_adjustment(prepared, a, levels)
    if training is None:
        return Evidence(a, b, levels, adjustment)
    return Evidence(
        a, b, levels, adjustment, Tally.of(levels), {key: Tally.of(levels[rows]) for key, rows in training.items()}
    )


def _score(
    prepared: list[Prepared],
    partitions: Partitions,
    fields: list[Field],
    settings: MatchSettings,
    focus: np.ndarray | None,
    model: MatchModel | None,
    spread: Spread,
) -> ScoredPairs:
    """Every partition's pairs compared (``spread`` says where); the model fitted on all of them where
    none is given; the pairs at or above the review threshold kept.

    Fitting needs every pair's levels before any pair can be scored, so it takes two passes: the
    first compares and tallies (EM needs only the tallies) and sets each partition's levels aside
    on disk; the second scores them. A given model scores in the first pass.
    """

    def work() -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray] | None]]]:
        for p in range(partitions.count):  # one partition's pairs in memory at a time, here
            candidates = partitions.candidates(p)
            a, b = candidates.a, candidates.b
            if focus is not None:
                touching = focus[a] | focus[b]
                a, b = a[touching], b[touching]
            training = None if model is not None else {k: candidates.by_key[k] for k in partitions.training_keys}
            yield p, (a, b, training)

    n = len(prepared[0].codes)
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    every: list[Tally] = []
    sessions: dict[str, list[Tally]] = {key: [] for key in partitions.training_keys}
    compared = 0
    for p, evidence in spread(partition_evidence, prepared, work()):
        compared += len(evidence.a)
        if model is not None:
            kept.append(_reviewable(model, fields, settings, evidence))
            continue
        every.append(cast(Tally, evidence.every))
        for key, tally in evidence.sessions.items():
            sessions[key].append(tally)
        partitions.keep(p, a=evidence.a, b=evidence.b, levels=evidence.levels, adjustment=evidence.adjustment)
    if model is None:
        model = _fitted(prepared, partitions, fields, settings, sessions, every)
        for p in range(partitions.count):
            stored = Evidence(*(partitions.kept(p, name) for name in ("a", "b", "levels", "adjustment")))
            kept.append(_reviewable(model, fields, settings, stored))
    a, b, levels, probability = (np.concatenate(part) for part in zip(*kept))
    order = np.argsort(a * n + b)  # the order of the pairs in memory, whatever the partitions and their finish
    a, b, levels, probability = a[order], b[order], levels[order], probability[order]
    similarities, _ = compare_pairs(prepared, a, b)
    return ScoredPairs(a, b, similarities, levels, probability, model, compared, partitions.pairs_per_key)


def _reviewable(
    model: MatchModel, fields: list[Field], settings: MatchSettings, evidence: Evidence
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    probability = match_probability(model, evidence.levels, fields, evidence.adjustment)
    keep = probability >= settings.review_at
    return evidence.a[keep], evidence.b[keep], evidence.levels[keep], probability[keep]


def _fitted(
    prepared: list[Prepared],
    partitions: Partitions,
    fields: list[Field],
    settings: MatchSettings,
    sessions: dict[str, list[Tally]],
    every: list[Tally],
) -> MatchModel:
    """u from random record pairs, m and the prior by EM over the tallies of all partitions' pairs."""
    n = len(prepared[0].codes)
    ra, rb = (
        _random_pairs(n, min(settings.random_pairs, max(n * (n - 1) // 2, 1)), settings.seed)
        if n > 1
        else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    )
    _, random_levels = compare_pairs(prepared, ra, rb)
    position = {f.column: i for i, f in enumerate(fields)}
    blocked = {
        key: [position[c] for c in columns if c in position] for key, columns in partitions.columns_by_key.items()
    }
    return fit(
        [f.column for f in fields],
        [COMPARATORS[f.kind].levels for f in fields],
        random_levels,
        [(Tally.merged(tallies, len(fields)), blocked[key]) for key, tallies in sessions.items()],
        Tally.merged(every, len(fields)),
    )
