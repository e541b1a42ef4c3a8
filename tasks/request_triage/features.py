"""The words and letter groups a request is read by, and their TF-IDF weights.

Training fits the weights with scikit-learn (``TfidfVectorizer`` over these same analysers), but
triaging computes them here, with numpy alone: a request classified needs neither scikit-learn's
import time nor a pickled vectoriser, only the terms and IDF weights the store keeps.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

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
    """One analyser's terms and IDF weights: a text as (columns, weights), sublinear TF times IDF,
    of unit length, as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` gives it."""

    def __init__(self, analyser: Callable[[str], list[str]], terms: Sequence[str], idf: np.ndarray) -> None:
        self.analyser = analyser
        self.columns = {term: i for i, term in enumerate(terms)}
        self.idf = idf.astype(np.float64)

    def weigh(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(c for c in map(self.columns.get, self.analyser(text)) if c is not None)
        if not counts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
        values = np.fromiter((1.0 + math.log(n) for n in counts.values()), dtype=np.float64, count=len(counts))
        values *= self.idf[columns]
        return columns, values / np.linalg.norm(values)
