"""The TF-IDF weights triaging computes with numpy are the ones scikit-learn fitted them with."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from tasks.request_triage.features import Weighing, char_grams, word_grams
from tests.unit.tasks.request_triage.helpdesk import history_rows


def test_word_and_letter_groups() -> None:
    assert word_grams("Refund my Order!") == ["refund", "my", "order", "refund my", "my order"]
    assert char_grams("ab Cat") == [
        *(" a", "ab", "b ", " ab", "ab ", " ab "),  # a word shorter than five letters once whole, padded
        *(" c", "ca", "at", "t ", " ca", "cat", "at ", " cat", "cat ", " cat "),
    ]


@pytest.mark.parametrize("analyser", [word_grams, char_grams])
def test_weights_match_scikit_learn(analyser) -> None:  # type: ignore[no-untyped-def]
    texts, _ = history_rows()
    fitted = TfidfVectorizer(analyzer=analyser, sublinear_tf=True, dtype=np.float64).fit(texts)
    terms = [""] * len(fitted.vocabulary_)
    for term, column in fitted.vocabulary_.items():
        terms[column] = term
    weighing = Weighing(analyser, terms, fitted.idf_)
    unseen = ["my refund refund never arrived, charged twice!", "zzz qqq", "Password reset for my account"]
    expected = fitted.transform(unseen).toarray()
    weighed = weighing.weigh(unseen)
    for n, row in enumerate(expected):
        mine = slice(weighed.starts[n], weighed.starts[n + 1])
        got = np.zeros(len(terms))
        got[weighed.columns[mine]] = weighed.values[mine]
        assert np.allclose(got, row)
    some = np.random.default_rng(0).normal(size=(len(terms), 3))
    assert np.allclose(weighed.times(some, block=2), expected @ some), "a block boundary and an empty row"
