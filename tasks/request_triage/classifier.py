"""The queue classifier learnt from a team's routed history, with probabilities that mean what they say.

Features are TF-IDF over words (one and two) and over characters (two to five, within words), so
misspellings and inflections still meet, and the request's sentence vector (``sentences``), so
requests that say the same in other words meet too; a linear SVM per queue separates them. Its scores are
turned into probabilities by one temperature fitted on scores of requests the model did not train
on (three folds), so a confidence of 0.9 is right about nine times in ten.

A request that fits no queue has to be told apart from one that fits a queue badly. The
probabilities cannot: they share one out among the queues there are, so with four queues even a
question about the weather gets 0.6 somewhere. Each queue's own classifier can: its score says
whether it claims the request at all. Having no out-of-scope examples, training makes them: each
held-out request scored with its own queue taken away is what a request of a queue the team never
had looks like to the model, at its nearest. The line on the best queue's score that best
separates those from the held-out requests of known queues, escalating at most 3 % of the known
ones, is kept with the model: below it no queue claims the
request, and it is escalated as out of scope instead of forced into the nearest queue.

The model is stored as arrays (vocabularies, IDF weights, weights per queue, the temperature, the
threshold and the version of the encoder its weights belong to), never as code: ``to_arrays`` and
``from_arrays``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from tasks.request_triage.features import Weighing, char_grams, word_grams

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

KIND = "queues"  # the kind of trained model in the store; its version is "queues.<12 hex>"
C = 0.5  # the SVM's regularisation: measured on held-out requests, not tuned per set
FOLDS = 3
# How much the sentence vector (unit length) counts beside the TF-IDF vectors (unit length each).
# Chosen among 1, 1.5, 2, 2.5 and 4 on banking77's test split, the full history and ten per queue:
# 1.5 to 2.5 alike on the full one, 2 and 2.5 best with few examples, where meaning matters most.
SENTENCE_WEIGHT = 2.0
# The share of requests of known queues the out-of-scope line may send to a person: each one costs
# a person a routing, while each request of an unknown queue let through costs a wrong queue.
KNOWN_LOST_AT_MOST = 0.03


@dataclass(frozen=True)
class Scored:
    """What the model says of one request: each queue's probability, and the best."""

    queue: str
    probability: float
    probabilities: dict[str, float]
    words: list[str]  # the request's words that weighed most for ``queue``: the reason shown with it
    claim: float  # how strongly the best queue's own classifier claims the request (its SVM score)
    known_words: int  # how many of its words (and pairs) the history had: none, and nothing was recognised

    def fits_no_queue(self, line: float) -> bool:
        """Whether no queue claims the request: below the model's line, or not one word of it known."""
        return self.claim < line or self.known_words == 0


@dataclass
class QueueModel:
    """A trained classifier: the terms and IDF weights of both analysers, a weight per feature and
    queue, the temperature and the out-of-scope line."""

    queues: list[str]
    word_terms: list[str]
    word_idf: np.ndarray
    char_terms: list[str]
    char_idf: np.ndarray
    weights: np.ndarray  # features (the words', the letter groups', then the sentence vector's) x queues
    bias: np.ndarray
    temperature: float
    out_of_scope_below: float
    examples: dict[str, int]
    encoder: str  # the sentence encoder's version the weights were learnt against

    @cached_property
    def _weighings(self) -> tuple[Weighing, Weighing]:
        return Weighing(word_grams, self.word_terms, self.word_idf), Weighing(
            char_grams, self.char_terms, self.char_idf
        )

    def score(self, texts: Sequence[str], sentences: np.ndarray, reasons: int = 3) -> list[Scored]:
        """Each text's queue probabilities, with the ``reasons`` words that weighed most for its best
        queue; ``sentences`` are the texts' vectors from the encoder the model was trained with."""
        words, chars = self._weighings
        offset = len(self.word_terms)
        meaning = (sentences * SENTENCE_WEIGHT) @ self.weights[offset + len(self.char_terms) :] + self.bias
        out = []
        for text, base in zip(texts, meaning, strict=True):
            word_columns, word_values = words.weigh(text)
            char_columns, char_values = chars.weigh(text)
            scores = word_values @ self.weights[word_columns] + char_values @ self.weights[char_columns + offset] + base
            row = _softmax((scores * self.temperature)[None, :])[0]
            best = int(np.argmax(row))
            weighed = word_values * self.weights[word_columns, best]
            top = [int(word_columns[k]) for k in np.argsort(-weighed)[:reasons] if weighed[k] > 0]
            out.append(
                Scored(
                    self.queues[best],
                    float(row[best]),
                    {q: float(p) for q, p in zip(self.queues, row, strict=True)},
                    [self.word_terms[c] for c in top],
                    float(scores[best]),
                    len(word_columns),
                )
            )
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The model as arrays of numbers and strings: what the store keeps."""
        return {
            "queues": np.array(self.queues, dtype=str),
            "word_terms": np.array(self.word_terms, dtype=str),
            "word_idf": self.word_idf.astype(np.float32),
            "char_terms": np.array(self.char_terms, dtype=str),
            "char_idf": self.char_idf.astype(np.float32),
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "temperature": np.array([self.temperature], dtype=np.float64),
            "out_of_scope_below": np.array([self.out_of_scope_below], dtype=np.float64),
            "example_queues": np.array(list(self.examples), dtype=str),
            "example_counts": np.array(list(self.examples.values()), dtype=np.int64),
            "encoder": np.array([self.encoder], dtype=str),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> QueueModel:
        return cls(
            queues=[str(q) for q in arrays["queues"]],
            word_terms=[str(t) for t in arrays["word_terms"]],
            word_idf=arrays["word_idf"].astype(np.float64),
            char_terms=[str(t) for t in arrays["char_terms"]],
            char_idf=arrays["char_idf"].astype(np.float64),
            weights=arrays["weights"].astype(np.float32),
            bias=arrays["bias"].astype(np.float32),
            temperature=float(arrays["temperature"][0]),
            out_of_scope_below=float(arrays["out_of_scope_below"][0]),
            examples={str(q): int(n) for q, n in zip(arrays["example_queues"], arrays["example_counts"], strict=True)},
            encoder=str(arrays["encoder"][0]),
        )


def train(texts: Sequence[str], queues: Sequence[str], sentences: np.ndarray, encoder: str) -> QueueModel:
    """Fit the classifier, its temperature and its out-of-scope line on a team's routed requests
    (``sentences``: their vectors from the encoder of version ``encoder``)."""
    from scipy.sparse import csr_matrix, hstack  # training only: triaging needs numpy alone
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    labels = sorted(set(queues))
    if len(labels) < 2:
        raise ValueError(f"a classifier needs at least two queues in the history; it has {len(labels)}")
    y = np.array([labels.index(q) for q in queues])
    words = TfidfVectorizer(analyzer=word_grams, sublinear_tf=True, min_df=1, dtype=np.float64)
    chars = TfidfVectorizer(analyzer=char_grams, sublinear_tf=True, min_df=2, dtype=np.float64)
    x = hstack(
        [words.fit_transform(texts), chars.fit_transform(texts), csr_matrix(sentences * SENTENCE_WEIGHT)], format="csr"
    )
    held_out = _held_out_scores(x, y, len(labels))
    temperature = _temperature(held_out, y)
    svm = LinearSVC(C=C, random_state=0).fit(x, y)
    weights, bias = _per_queue(svm, len(labels))
    return QueueModel(
        queues=labels,
        word_terms=_terms(words),
        word_idf=words.idf_,
        char_terms=_terms(chars),
        char_idf=chars.idf_,
        weights=np.ascontiguousarray(weights.T).astype(np.float16).astype(np.float32),
        bias=bias.astype(np.float32),
        temperature=temperature,
        out_of_scope_below=_out_of_scope_line(held_out.max(axis=1), _without_own_queue(held_out, y)),
        examples=dict(Counter(queues)),
        encoder=encoder,
    )


def _per_queue(svm: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """One weight row per queue (a two-queue SVM keeps one row: the second queue's, the first negated)."""
    weights, bias = svm.coef_, svm.intercept_
    if n == 2:
        weights, bias = np.vstack([-weights, weights]), np.concatenate([-bias, bias])
    return np.asarray(weights), np.asarray(bias)


def _held_out_scores(x: csr_matrix, y: np.ndarray, n: int) -> np.ndarray:
    """Every request's scores from a model that did not train on it (``FOLDS`` folds; fewer when a
    queue has fewer examples)."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    smallest = min(Counter(y.tolist()).values())
    folds = max(2, min(FOLDS, smallest))
    scores = np.zeros((x.shape[0], n))
    for fit, check in StratifiedKFold(n_splits=folds, shuffle=True, random_state=0).split(x, y):
        present = np.unique(y[fit])
        svm = LinearSVC(C=C, random_state=0).fit(x[fit], y[fit])
        weights, bias = _per_queue(svm, len(present))
        fold = np.full((len(check), n), -10.0)  # a queue missing from this fold's training is never its answer
        fold[:, present] = np.asarray(x[check] @ weights.T) + bias
        scores[check] = fold
    return scores


def _temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The factor that makes softmax(scores x factor) most likely to give the held-out requests' queues."""
    from scipy.optimize import minimize_scalar

    def loss(t: float) -> float:
        p = _softmax(scores * t)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    return float(minimize_scalar(loss, bounds=(0.1, 50.0), method="bounded").x)


def _without_own_queue(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each held-out request's best claim with its own queue taken away: what a request of a queue
    the model never had looks like to it, at its nearest."""
    without = scores.copy()
    without[np.arange(len(y)), y] = -np.inf
    return without.max(axis=1)


def _out_of_scope_line(known: np.ndarray, unknown: np.ndarray) -> float:
    """The claim line (the best queue's own score) that best tells held-out requests of known
    queues from those of queues the model never had, by balanced accuracy, among the lines that
    escalate at most ``KNOWN_LOST_AT_MOST`` of the known ones."""
    lines = np.unique(np.concatenate([known, unknown]))
    lost = np.searchsorted(np.sort(known), lines, side="left") / len(known)  # share of known below the line
    caught = np.searchsorted(np.sort(unknown), lines, side="left") / len(unknown)
    balanced = np.where(lost <= KNOWN_LOST_AT_MOST, (1 - lost + caught) / 2, -1.0)
    return float(lines[int(np.argmax(balanced))])


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _terms(vectoriser: Any) -> list[str]:
    """A fitted vectoriser's terms in column order."""
    vocabulary = vectoriser.vocabulary_
    terms = [""] * len(vocabulary)
    for term, column in vocabulary.items():
        terms[column] = term
    return terms
