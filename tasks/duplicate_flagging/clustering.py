"""Pairs into clusters of one real-world entity each, without chaining unrelated records.

Connected components over the duplicate pairs would let A~B and B~C put A and C together even
when A and C share nothing. So every cluster's records are scored against each other, all pairs,
and a cluster whose members do not hold together on average is split by average linkage, which
needs a record to match a group as a whole, not just one member of it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# (a, b) record positions -> (match probability, per-field similarities)
PairScorer = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A cluster label per record; records with no edge are their own cluster."""
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def pairs_within(labels: np.ndarray, max_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of records sharing a label, for clusters up to ``max_size`` records."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    sizes = np.bincount(labels)
    small = sizes[sorted_labels] <= max_size
    found_a, found_b = [], []
    for d in range(1, int(min(sizes.max(initial=1), max_size))):
        same = (sorted_labels[:-d] == sorted_labels[d:]) & small[:-d]
        found_a.append(order[:-d][same])
        found_b.append(order[d:][same])
    if not found_a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    a, b = np.concatenate(found_a), np.concatenate(found_b)
    return np.minimum(a, b), np.maximum(a, b)


def _split(
    members: np.ndarray, a: np.ndarray, b: np.ndarray, probability: np.ndarray, cohesion: float
) -> list[np.ndarray]:
    """Average-linkage clusters of one component whose members must match at ``cohesion`` on average.

    Clusters are small (a handful of records), so a direct loop over a k x k matrix is cheaper than
    a library call per cluster.
    """
    position = np.searchsorted(members, a), np.searchsorted(members, b)  # members are sorted
    k = len(members)
    total = np.zeros((k, k))  # sum of pair probabilities between two groups
    total[position] = probability
    total += total.T
    size = np.ones(k)
    alive = np.ones(k, dtype=bool)
    groups = [[i] for i in range(k)]
    while alive.sum() > 1:
        average = total / np.outer(size, size)
        average[~alive, :] = -1.0
        average[:, ~alive] = -1.0
        np.fill_diagonal(average, -1.0)
        i, j = np.unravel_index(np.argmax(average), average.shape)
        if average[i, j] < cohesion:
            break
        total[i, :] += total[j, :]
        total[:, i] += total[:, j]
        total[i, i] = 0.0
        size[i] += size[j]
        alive[j] = False
        groups[i] += groups[j]
    return [members[np.array(groups[i])] for i in np.flatnonzero(alive)]


def coherent_clusters(
    n: int, a: np.ndarray, b: np.ndarray, score: PairScorer, *, cohesion: float, max_size: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cluster labels for the duplicate edges (a, b), and all within-cluster pairs with their evidence.

    Components larger than ``max_size`` (a sign of chaining through a very common value) are
    split by the stronger half of their edges first.
    """
    labels = components(n, a, b)
    sizes = np.bincount(labels)
    while sizes.max(initial=0) > max_size:  # keep only the stronger half of the giant's edges
        giant = sizes[labels[a]] > max_size
        if not giant.any():
            break
        p, _ = score(a[giant], b[giant])
        keep = ~giant
        keep[np.flatnonzero(giant)[p >= np.median(p)]] = True
        if keep.all():
            break
        a, b = a[keep], b[keep]
        labels = components(n, a, b)
        sizes = np.bincount(labels)
    pa, pb = pairs_within(labels, max_size)
    probability, similarities = score(pa, pb)
    weak = probability < cohesion
    if weak.any():
        next_label = int(labels.max()) + 1
        sizes = np.bincount(labels)
        cluster_of_pair = labels[pa]
        alone = weak & (sizes[cluster_of_pair] == 2)  # a weak pair on its own: simply two records
        labels[pb[alone]] = np.arange(next_label, next_label + int(alone.sum()))
        next_label += int(alone.sum())
        larger = weak & ~alone
        by_pair = np.argsort(cluster_of_pair, kind="stable")  # each cluster's pairs, and members, as one slice
        by_record = np.argsort(labels, kind="stable")
        sorted_pairs, sorted_records = cluster_of_pair[by_pair], labels[by_record]
        for cluster in np.unique(cluster_of_pair[larger]):
            inside = by_pair[
                np.searchsorted(sorted_pairs, cluster) : np.searchsorted(sorted_pairs, cluster, side="right")
            ]
            members = by_record[
                np.searchsorted(sorted_records, cluster) : np.searchsorted(sorted_records, cluster, side="right")
            ]
            parts = _split(members, pa[inside], pb[inside], probability[inside], cohesion)
            for part in parts[1:]:
                labels[part] = next_label
                next_label += 1
        same = labels[pa] == labels[pb]
        pa, pb, probability, similarities = pa[same], pb[same], probability[same], similarities[same]
    return labels, pa, pb, probability, similarities
