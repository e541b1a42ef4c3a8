"""The words and letter groups a request is read by, and their TF-IDF weights.

Training fits the weights with scikit-learn (``TfidfVectorizer`` over these same analysers), but
triaging computes them here, with numpy alone: a request classified needs neither scikit-learn's
import time nor a pickled vectoriser, only the terms and IDF weights the store keeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

_TOKEN = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
CHAR_SIZES = range(2, 6)


def word_grams(text: str) -> list[str]:
    """Lower-cased words, and each pair of neighbouring words."""
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def char_grams(text: str) -> list[str]:
    """Groups of two to five letters within each word, the word padded with a space either side
    (a misspelt or inflected word still shares most of its groups with the right one)."""
    grams = []
    for word in _SPACE.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in CHAR_SIZES:
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


ANALYSERS: dict[str, Callable[[str], list[str]]] = {"words": word_grams, "chars": char_grams}


class Weighing:
    """One analyser's terms and IDF weights: texts as a sparse matrix, sublinear TF times IDF, each
    row of unit length, as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` gives it."""

    def __init__(self, analyser: Callable[[str], list[str]], terms: Sequence[str], idf: np.ndarray) -> None:
        self.analyser = analyser
        self.columns = {term: i for i, term in enumerate(terms)}
        self.idf = idf.astype(np.float64)

    def weigh(self, texts: Sequence[str]) -> Weighed:
        """All texts at once: only finding their terms is Python's work; counting, weighing and
        norming them is numpy's, over every text together (a loop per text cost as much again)."""
        known = self.columns.get
        found: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.int64)
        for n, text in enumerate(texts):
            mine = [c for c in map(known, self.analyser(text)) if c is not None]
            found.extend(mine)
            lengths[n] = len(mine)
        width = len(self.idf)
        owners = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        cells, counts = np.unique(owners * width + np.array(found, dtype=np.int64), return_counts=True)
        rows, columns = np.divmod(cells, width)  # sorted by text, then column
        values = (1.0 + np.log(counts)) * self.idf[columns]
        values /= np.sqrt(np.bincount(rows, values * values, minlength=len(texts)))[rows]
        return Weighed(np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(texts)))]), columns, values)


@dataclass(frozen=True)
class Weighed:
    """Texts' weights as a compressed sparse row matrix: text ``n``'s columns and values are
    ``columns[starts[n]:starts[n + 1]]`` and the same slice of ``values``."""

    starts: np.ndarray
    columns: np.ndarray
    values: np.ndarray

    def times(self, weights: np.ndarray, block: int = 512) -> np.ndarray:
        """This matrix times ``weights`` (one row per column), a block of texts at a time: each
        block as a dense matrix over the columns it uses, one matrix product (gathering a weight
        row per term instead moves hundreds of megabytes)."""
        texts = len(self.starts) - 1
        out = np.zeros((texts, weights.shape[1]))
        for first in range(0, texts, block):
            starts = self.starts[first : first + block + 1]
            lo, hi = starts[0], starts[-1]
            used, place = np.unique(self.columns[lo:hi], return_inverse=True)
            dense = np.zeros((len(starts) - 1, len(used)))
            dense[np.repeat(np.arange(len(starts) - 1), np.diff(starts)), place] = self.values[lo:hi]
            out[first : first + len(starts) - 1] = dense @ weights[used]
        return out
