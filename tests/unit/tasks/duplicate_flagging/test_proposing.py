"""From scored pairs to merge cases: a cluster per group of duplicates, and a possible duplicate
that links two clusters proposes merging both, so approving it leaves nothing half merged."""

from __future__ import annotations

import numpy as np

from tasks.duplicate_flagging.matching import Decisions
from tasks.duplicate_flagging.proposing import DUPLICATE, REVIEW, merge_cases


def _decisions(pairs: list[tuple[int, int, float, bool]], labels: list[int]) -> Decisions:
    a, b, p, dup = (np.array(column) for column in zip(*pairs))
    return Decisions(
        a=a, b=b, probability=p.astype(float), duplicate=dup.astype(bool), similarities=np.ones((len(pairs), 1), dtype=np.float32),
        labels=np.array(labels), scored=None,  # type: ignore[arg-type]  # not read when forming cases
    )


def test_clusters_and_review_pairs_become_cases() -> None:
    # records 0-1-2 are one cluster, 3-4 another, 5 alone; 2~3 and 4~5 are possible duplicates (twice 4~5)
    decisions = _decisions(
        [(0, 1, 0.999, True), (1, 2, 0.995, True), (3, 4, 0.998, True), (2, 3, 0.7, False), (4, 5, 0.6, False), (3, 5, 0.8, False)],
        labels=[0, 0, 0, 1, 1, 2],
    )
    cases = merge_cases(decisions)
    found = {(c.case_type, tuple(sorted(c.members.tolist()))): sorted(c.pairs.tolist()) for c in cases}
    assert found == {
        (DUPLICATE, (0, 1, 2)): [0, 1],
        (DUPLICATE, (3, 4)): [2],
        (REVIEW, (0, 1, 2, 3, 4)): [3],  # joining the two clusters merges all five
        (REVIEW, (3, 4, 5)): [5],  # the stronger of the two links between cluster 1 and record 5
    }
