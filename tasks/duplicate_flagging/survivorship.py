"""Which record survives a merge, and which value of each column the merged record keeps.

Both follow the policy's survivorship rules. Every choice ends in one total order of the
records (the survivor rules, then the order the records were loaded), so the same cluster
always gives the same merged record, and a blank value never replaces a real one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tasks.duplicate_flagging.policy import SurvivorRule, Survivorship, ValueRule


@dataclass(frozen=True)
class Candidate:
    """One record of a cluster as survivorship sees it."""

    external_id: str
    values: dict[str, str]  # column -> text, "" when empty
    recency: float  # larger is more recent
    source_rank: int  # 0 is the most trusted source


def source_rank(source: str, priority: Sequence[str]) -> int:
    """Position in the priority list, case-insensitive; an unlisted source ranks after all listed."""
    ranks = {name.strip().casefold(): i for i, name in enumerate(priority)}
    return ranks.get(source.strip().casefold(), len(priority))


def _completeness(candidate: Candidate) -> int:
    return sum(1 for value in candidate.values.values() if value.strip())


_SURVIVOR_KEYS: dict[SurvivorRule, Callable[[Candidate], float]] = {
    SurvivorRule.SOURCE_PRIORITY: lambda c: c.source_rank,
    SurvivorRule.MOST_COMPLETE: lambda c: -_completeness(c),
    SurvivorRule.MOST_RECENT: lambda c: -c.recency,
}


def ranked(candidates: Sequence[Candidate], rules: Sequence[SurvivorRule]) -> list[Candidate]:
    """The cluster's records best first; the first is the survivor. Python's sort is stable, so a
    full tie keeps the load order."""
    return sorted(candidates, key=lambda c: tuple(_SURVIVOR_KEYS[rule](c) for rule in rules))


def _pick(rule: ValueRule, column: str, order: list[Candidate]) -> str:
    """The value of ``column`` by ``rule`` among the records that have one; ties go to the better-ranked record."""
    having = [(position, c, c.values.get(column, "").strip()) for position, c in enumerate(order)]
    having = [(position, c, value) for position, c, value in having if value]
    if not having:
        return ""
    if rule is ValueRule.MOST_COMMON:
        counts = Counter(value for _, _, value in having)
        return min(having, key=lambda h: (-counts[h[2]], h[0]))[2]
    keys: dict[ValueRule, Callable[[Candidate, str], float]] = {
        ValueRule.SURVIVOR: lambda c, v: 0,
        ValueRule.MOST_RECENT: lambda c, v: -c.recency,
        ValueRule.MOST_COMPLETE: lambda c, v: -len(v),
        ValueRule.SOURCE_PRIORITY: lambda c, v: c.source_rank,
    }
    return min(having, key=lambda h: (keys[rule](h[1], h[2]), h[0]))[2]


def merge_values(candidates: Sequence[Candidate], rules: Survivorship) -> tuple[Candidate, dict[str, str]]:
    """The survivor and the merged record's non-empty values, column by column."""
    order = ranked(candidates, rules.survivor)
    columns = list(dict.fromkeys(column for c in order for column in c.values))
    merged = {column: _pick(rules.values.get(column, rules.default), column, order) for column in columns}
    return order[0], {column: value for column, value in merged.items() if value}
