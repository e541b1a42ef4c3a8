"""The merges people made, from an outcomes file, against the duplicate-flagging shadow cases, pair by pair.

The file (CSV or Parquet) has one row per merge: `survivor`, the record that stayed, and `merged`,
the records folded into it, separated by `;` or `|`; and `kind` (customers, vendors) where ids
repeat across kinds. Merges chain: b into a, then a into c leaves one record, c. A row without a
survivor, with the survivor among its merged records, or folding in a record another row folds in
too is reported and left out.

The file is taken as every merge people made in the period, so a pair the agent proposed that
people did not merge is a wrong merge, not a missing outcome.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from decimal import Decimal
from itertools import combinations
from pathlib import Path

from opsgate import CaseComparison, OutcomeComparison, OutcomeRow, ShadowCase, WrongAction, read_records

Key = tuple[str, str]  # (kind, or "" when the file names none; record id)
Cluster = frozenset[Key]
SEPARATORS = re.compile(r"[;|]")
RULES = [
    "the outcomes file is taken as every merge people made: a proposed pair people did not merge is a wrong merge",
    "records wrongly merged: those the agent would have folded into a survivor people did not merge them with",
    "a pair people merged that no proposal of an instruction version holds is missed once, by the oldest of its proposals holding one of the pair's records",
    "fields: `records` agrees when people merged exactly the proposal's records, `survivor` when the record they kept is the agent's",
]


def read_merges(path: Path) -> tuple[list[tuple[Key, list[Key]]], bool, list[OutcomeRow]]:
    """People's merges (survivor, merged), whether ids are scoped by kind, and the rows not used."""

    records = read_records(path, "merged", required=["survivor"])
    scoped = "kind" in records.frame.columns
    problems = [OutcomeRow(where=p.where, detail=p.reason) for p in records.problems]
    rows = []
    for row in records.frame.to_dict("records"):
        scope = row["kind"].strip() if scoped else ""
        survivor = row["survivor"].strip()
        merged = list(dict.fromkeys(m.strip() for m in SEPARATORS.split(row["merged"]) if m.strip()))
        reasons = [
            reason
            for reason, applies in [
                ("no survivor", not survivor),
                ("no kind", scoped and not scope),
                ("no merged record ids", not merged),
                (f"the survivor {survivor!r} is among the merged records", survivor in merged),
            ]
            if applies
        ]
        rows.append(
            (
                f"the merge of {row['merged']!r} into {survivor!r}",
                (scope, survivor),
                [(scope, m) for m in merged],
                reasons,
            )
        )
    folded = Counter(m for _, _, merged, reasons in rows if not reasons for m in merged)
    merges = []
    for where, survivor, merged, reasons in rows:
        twice = [m[1] for m in merged if folded[m] > 1]
        if twice and not reasons:
            reasons.append(f"{', '.join(map(repr, twice))} merged by another row too; none of them is used")
        if reasons:
            problems.append(OutcomeRow(where=where, detail="; ".join(reasons)))
        else:
            merges.append((survivor, merged))
    return merges, scoped, problems


def clusters(merges: list[tuple[Key, list[Key]]]) -> tuple[dict[Key, Cluster], dict[Cluster, Key | None]]:
    """The records people made one, per record, and the record each cluster kept (None when a
    cycle of merges leaves none)."""
    parent: dict[Key, Key] = {}

    def root(key: Key) -> Key:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for survivor, merged in merges:
        for record in merged:
            parent[root(record)] = root(survivor)
    members: dict[Key, set[Key]] = defaultdict(set)
    for key in list(parent):
        members[root(key)].add(key)
    cluster_of = {key: frozenset(group) for group in members.values() for key in group}
    folded = {record for _, merged in merges for record in merged}
    kept = {}
    for cluster in set(cluster_of.values()):
        standing = [key for key in cluster if key not in folded]
        kept[cluster] = standing[0] if len(standing) == 1 else None
    return cluster_of, kept


def _members(case: ShadowCase, scoped: bool) -> list[Key] | None:
    """The case's records, survivor first; None for a case without a merge."""
    if case.tool != "records.merge" or not case.payload:
        return None
    scope = case.payload["kind"] if scoped else ""
    return [(scope, case.payload["survivor"]), *((scope, d) for d in case.payload["duplicates"])]


def _compare(
    case: ShadowCase, members: list[Key], cluster_of: dict[Key, Cluster], kept: dict[Cluster, Key | None], missed: int
) -> CaseComparison:
    pairs = list(combinations(members, 2))
    agreed = sum(1 for a, b in pairs if a in cluster_of and cluster_of[a] == cluster_of.get(b))
    fields: dict[str, bool] = {}
    if agreed:
        touched = Counter(cluster_of[m] for m in members if m in cluster_of)
        cluster = max(touched, key=lambda c: (touched[c], members[0] in c))
        fields["records"] = cluster == frozenset(members)
        if kept[cluster] is not None:
            fields["survivor"] = kept[cluster] == members[0]
    wrong = None
    if case.would_write and agreed < len(pairs):
        home = cluster_of.get(members[0], frozenset())
        strays = [m[1] for m in members[1:] if m not in home]
        wrong = WrongAction(
            what=f"would merge {', '.join(strays)} into {members[0][1]}; people did not",
            cost=Decimal(len(strays)),
            unit="records",
        )
    return CaseComparison(
        case=case,
        outcome="merged" if agreed else "not merged",
        people_wrote=agreed > 0,
        fields=fields,
        wrong=wrong,
        counts={"pairs_agreed": agreed, "pairs_wrong": len(pairs) - agreed, "pairs_missed": missed},
    )


def _unmatched(cluster: Cluster, survivor: Key | None) -> OutcomeRow:
    ids = ", ".join(sorted(key[1] for key in cluster))
    pairs = len(cluster) * (len(cluster) - 1) // 2
    where = f"the merge into {survivor[1]!r}" if survivor else "merges that form a cycle"
    return OutcomeRow(where=where, detail=f"{ids}: no shadow case holds any of them ({pairs} pairs missed)")


def compare_outcomes(path: Path, cases: list[ShadowCase]) -> OutcomeComparison:
    """Every shadow case (oldest first) against the merges people made of its records."""
    merges, scoped, problems = read_merges(path)
    cluster_of, kept = clusters(merges)
    members = [_members(case, scoped) for case in cases]
    proposed: dict[str, set[frozenset[Key]]] = defaultdict(set)
    first: dict[
        tuple[str, Cluster], int
    ] = {}  # per version and people's cluster, the oldest case holding one of its records
    for i, (case, held) in enumerate(zip(cases, members)):
        for pair in combinations(held or [], 2):
            proposed[case.instruction_version].add(frozenset(pair))
        for key in held or []:
            if key in cluster_of:
                first.setdefault((case.instruction_version, cluster_of[key]), i)
    missed: Counter[int] = Counter()
    for (version, cluster), i in first.items():
        missed[i] += sum(1 for pair in combinations(sorted(cluster), 2) if frozenset(pair) not in proposed[version])
    compared = [
        CaseComparison(case=case) if held is None else _compare(case, held, cluster_of, kept, missed[i])
        for i, (case, held) in enumerate(zip(cases, members))
    ]
    touched = {cluster for _, cluster in first}
    unmatched = [
        _unmatched(cluster, kept[cluster]) for cluster in sorted(set(cluster_of.values()) - touched, key=sorted)
    ]
    return OutcomeComparison(cases=compared, unmatched=unmatched, problems=problems, rules=RULES)
