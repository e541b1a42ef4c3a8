"""Fellegi-Sunter match scores with weights learnt from the data itself, no labels needed.

For each field and agreement level, m is how often true duplicates show that level and u how
often unrelated records do. u comes from random record pairs (almost all of them unrelated); m
and the share of duplicates among the candidate pairs come from expectation-maximisation over
the candidate pairs. EM runs over the distinct agreement patterns with their counts, a few
hundred rows however many pairs there are. Approved and rejected pairs can later refine m.

Term frequencies: where a field agrees exactly, u of the exact level is an average over all
values; for the value itself it is the value's share of the records. Two records sharing a
surname one in a thousand people have are likelier the same person than two sharing one a tenth
of them have, and a phone number every record of an agency gives counts for little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.duplicate_flagging.comparing import MISSING

FLOOR = 1e-6  # no level is impossible: one unseen pattern must not decide a pair alone


@dataclass
class MatchModel:
    fields: list[str]
    m: list[np.ndarray]  # per field: P(level | duplicate)
    u: list[np.ndarray]  # per field: P(level | different records)
    prior: float  # share of duplicates among the candidate pairs
    iterations: int = 0

    def log2_bayes_factors(self, levels: np.ndarray) -> np.ndarray:
        """Per pair and field, how much the field's level moves the odds (0 when missing)."""
        factors = np.zeros(levels.shape, dtype=np.float64)
        for f in range(levels.shape[1]):
            table = np.log2(self.m[f]) - np.log2(self.u[f])
            column = levels[:, f]
            present = column != MISSING
            factors[present, f] = table[column[present]]
        return factors

    def probability(self, levels: np.ndarray, adjustment: np.ndarray | None = None) -> np.ndarray:
        """Per pair; worked out once per distinct agreement pattern, of which millions of pairs show a few thousand.

        ``adjustment``: per pair, log2 added to the odds (the term frequencies of the values it agrees on).
        """
        patterns, _, position = _patterns(levels)
        per_pattern = self.log2_bayes_factors(patterns).sum(axis=1) + np.log2(self.prior / (1 - self.prior))
        if adjustment is None:
            return (1.0 / (1.0 + np.exp2(-np.clip(per_pattern, -60, 60))))[position]
        odds = per_pattern[position]  # per pair from here: in place, as there may be tens of millions
        odds += adjustment
        np.clip(odds, -60, 60, out=odds)
        np.exp2(-odds, out=odds)
        odds += 1.0
        return np.reciprocal(odds, out=odds)


def term_frequency_weights(frequency: np.ndarray) -> np.ndarray:
    """Per distinct value, log2 of how much more (or less) agreeing on it says than agreeing on an average value.

    ``frequency`` is each value's share of the records that have a value (summing to 1). Two random
    records agree on value v with probability f(v) given that one has it, and on some value with
    probability sum(f^2), the exact level's u. The exact level's Bayes factor m/u becomes m/f(v):
    its log2 moves by log2(sum(f^2) / f(v)), positive for rare values, negative for common ones.
    """
    chance = float(np.sum(frequency**2))
    with np.errstate(divide="ignore"):
        return np.where(frequency > 0, np.log2(chance / np.maximum(frequency, 1e-300)), 0.0)


def level_frequencies(levels: np.ndarray, sizes: list[int], weights: np.ndarray | None = None) -> list[np.ndarray]:
    """Per field, the (weighted) share of each level among the pairs where the field is present."""
    found = []
    for f, size in enumerate(sizes):
        column = levels[:, f]
        present = column != MISSING
        counts = np.bincount(
            column[present], weights=None if weights is None else weights[present], minlength=size
        ).astype(np.float64)
        total = counts.sum()
        share = counts / total if total > 0 else np.full(size, 1.0 / size)
        found.append(np.maximum(share, FLOOR) / np.maximum(share, FLOOR).sum())
    return found


def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of ``levels`` (in lexicographic order), how often each occurs, and each row's position among them.

    Each row is packed into one integer first. Where there are more rows than possible patterns
    (millions of pairs, a few fields of a few levels each) they are counted in an array; else
    sorted, as a 1-D unique is still far faster than a row-wise one.
    """
    if len(levels) == 0:
        return levels, np.zeros(0), np.zeros(0, dtype=np.int64)
    base = int(levels.max()) + 2  # MISSING (-1) becomes 0
    code = np.zeros(len(levels), dtype=np.int64)
    for f in range(levels.shape[1]):
        code = code * base + (levels[:, f].astype(np.int64) + 1)
    if base ** levels.shape[1] <= len(levels):
        counts = np.bincount(code, minlength=base ** levels.shape[1])
        unique = np.flatnonzero(counts)
        index = np.zeros(len(counts), dtype=np.int64)
        index[unique] = np.arange(len(unique))
        position, counts = index[code], counts[unique]
    else:
        unique, position, counts = np.unique(code, return_inverse=True, return_counts=True)
    digits = (unique[:, None] // base ** np.arange(levels.shape[1] - 1, -1, -1)) % base
    return (digits - 1).astype(levels.dtype), counts.astype(np.float64), position


@dataclass(frozen=True)
class Tally:
    """Distinct agreement patterns (lexicographic) with how many pairs show each: all EM needs of the pairs.

    Tallies of parts of the pairs merge into exactly the tally of the whole, so the model can be fitted
    on candidate pairs that never are in memory together.
    """

    patterns: np.ndarray  # distinct rows of levels
    counts: np.ndarray  # float64, whole numbers

    @classmethod
    def of(cls, levels: np.ndarray) -> Tally:
        patterns, counts, _ = _patterns(levels)
        return cls(patterns, counts)

    @classmethod
    def merged(cls, tallies: list[Tally], width: int) -> Tally:
        if not tallies:
            return cls(np.zeros((0, width), dtype=np.int8), np.zeros(0))
        return cls._weighted(np.concatenate([t.patterns for t in tallies]), np.concatenate([t.counts for t in tallies]))

    def project(self, columns: list[int]) -> Tally:
        """The tally of the same pairs' levels in ``columns`` only."""
        return self._weighted(self.patterns[:, columns], self.counts)

    @classmethod
    def _weighted(cls, rows: np.ndarray, counts: np.ndarray) -> Tally:
        patterns, _, position = _patterns(rows)
        return cls(patterns, np.bincount(position, weights=counts, minlength=len(patterns)).astype(np.float64))


def _em(
    model: MatchModel,
    patterns: np.ndarray,
    counts: np.ndarray,
    sizes: list[int],
    free: list[int],
    max_iterations: int,
    *,
    learn_u: bool = False,
) -> MatchModel:
    """EM over agreement patterns: m of the ``free`` fields and the prior move; u too if ``learn_u``."""
    for _ in range(max_iterations):
        p = model.probability(patterns)
        weights = counts * p
        prior = float(np.clip(weights.sum() / counts.sum(), 1e-6, 1 - 1e-6))
        fitted = level_frequencies(patterns, sizes, weights)
        m = [fitted[f] if f in free else model.m[f] for f in range(len(sizes))]
        u = level_frequencies(patterns, sizes, counts * (1 - p)) if learn_u else model.u
        change = max(abs(prior - model.prior), *(float(np.abs(a - b).max()) for a, b in zip(m, model.m)))
        model = MatchModel(fields=model.fields, m=m, u=u, prior=prior, iterations=model.iterations + 1)
        if change < 1e-5:
            break
    return model


def fit(
    fields: list[str],
    sizes: list[int],
    random_levels: np.ndarray,
    sessions: list[tuple[Tally, list[int]]],
    candidates: Tally,
    *,
    max_iterations: int = 100,
) -> MatchModel:
    """u from random pairs; m by EM, one session per blocking key (the tally of its pairs, and the fields
    it blocks on); then the prior over all ``candidates``.

    Pairs found by a key agree on the key's fields because of the key, not because they are
    duplicates, so each session learns m only for the other fields (as splink does) and a field's
    m is the mean over the sessions that could learn it.
    """
    u = level_frequencies(random_levels, sizes)
    start = [
        np.geomspace(0.02, 1.0, size) / np.geomspace(0.02, 1.0, size).sum() for size in sizes
    ]  # duplicates mostly agree
    learnt: list[list[np.ndarray]] = [[] for _ in sizes]
    for tally, blocked in sessions:
        free = [f for f in range(len(sizes)) if f not in blocked]
        if len(tally.counts) == 0 or not free:
            continue
        projected = tally.project(free)
        session = MatchModel(
            fields=[fields[f] for f in free], m=[start[f] for f in free], u=[u[f] for f in free], prior=0.1
        )
        session = _em(
            session,
            projected.patterns,
            projected.counts,
            [sizes[f] for f in free],
            list(range(len(free))),
            max_iterations,
            learn_u=True,
        )
        for i, f in enumerate(free):
            learnt[f].append(session.m[i])
    m = [np.mean(found, axis=0) if found else start[f] for f, found in enumerate(learnt)]
    model = MatchModel(fields=fields, m=m, u=u, prior=0.1)
    if len(candidates.counts) == 0:
        return model
    return _em(model, candidates.patterns, candidates.counts, sizes, [], max_iterations)


def refine(model: MatchModel, sizes: list[int], confirmed: np.ndarray, weight: float = 20.0) -> MatchModel:
    """m moved towards the agreement levels of pairs people approved as duplicates.

    EM's m counts as ``weight`` pairs' worth of evidence per field and each approved pair as one,
    so a few approvals nudge the model and hundreds take it over. u stays: it describes random
    pairs, and rejected pairs are hard cases, not a sample of unrelated records.
    """
    m = []
    for f, size in enumerate(sizes):
        column = confirmed[:, f]
        counts = np.bincount(column[column != MISSING], minlength=size).astype(np.float64)
        blended = np.maximum((weight * model.m[f] + counts) / (weight + counts.sum()), FLOOR)
        m.append(blended / blended.sum())
    return MatchModel(fields=model.fields, m=m, u=model.u, prior=model.prior, iterations=model.iterations)
