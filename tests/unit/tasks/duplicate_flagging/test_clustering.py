"""Clusters: connected pairs, but no chaining of records that do not match each other."""

from __future__ import annotations

import numpy as np

from tasks.duplicate_flagging.clustering import coherent_clusters, components, pairs_within


def _scorer(table: dict[tuple[int, int], float]):  # type: ignore[no-untyped-def]
    def score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        p = np.array([table.get((min(x, y), max(x, y)), 0.0) for x, y in zip(a.tolist(), b.tolist())])
        return p, p[:, None]

    return score


def test_components_and_their_pairs() -> None:
    labels = components(6, np.array([0, 1, 4]), np.array([1, 2, 5]))
    assert labels[0] == labels[1] == labels[2] != labels[3] and labels[4] == labels[5]
    a, b = pairs_within(labels, max_size=10)
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 1), (0, 2), (1, 2), (4, 5)]


def test_a_chain_through_one_record_is_split() -> None:
    # 0-1-2 match strongly; 3 matches only 2, and nothing else in the cluster
    table = {(0, 1): 0.99, (0, 2): 0.98, (1, 2): 0.99, (2, 3): 0.95, (0, 3): 0.01, (1, 3): 0.02}
    labels, a, b, p, _ = coherent_clusters(4, np.array([0, 1, 2]), np.array([1, 2, 3]), _scorer(table), cohesion=0.9)
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 1), (0, 2), (1, 2)]
    assert (p >= 0.9).all()


def test_a_coherent_cluster_keeps_every_pair_even_those_never_compared() -> None:
    table = {(0, 1): 0.99, (1, 2): 0.99, (0, 2): 0.95}
    labels, a, b, p, _ = coherent_clusters(3, np.array([0, 1]), np.array([1, 2]), _scorer(table), cohesion=0.9)
    assert len(set(labels.tolist())) == 1
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 1), (0, 2), (1, 2)]
