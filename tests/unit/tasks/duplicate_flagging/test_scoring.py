"""Fellegi-Sunter without labels: EM finds the weights that generated the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.duplicate_flagging.comparing import MISSING, prepare
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.matching import compare_pairs, match_probability, term_frequency_adjustment
from tasks.duplicate_flagging.normalising import normalise
from tasks.duplicate_flagging.scoring import MatchModel, Tally, fit, term_frequency_weights


def _draw(rng: np.random.Generator, probabilities: list[list[float]], count: int) -> np.ndarray:
    return np.stack([rng.choice(len(p), size=count, p=p) for p in probabilities], axis=1).astype(np.int8)


TRUE_M = [[0.05, 0.15, 0.8], [0.1, 0.9], [0.02, 0.08, 0.9]]
TRUE_U = [[0.9, 0.08, 0.02], [0.95, 0.05], [0.97, 0.02, 0.01]]


def test_em_recovers_m_and_the_share_of_duplicates() -> None:
    rng = np.random.default_rng(7)
    duplicates, others = _draw(rng, TRUE_M, 3000), _draw(rng, TRUE_U, 7000)
    candidates = np.concatenate([duplicates, others])
    random_pairs = _draw(rng, TRUE_U, 200_000)
    sizes = [3, 2, 3]
    model = fit(["name", "phone", "city"], sizes, random_pairs, [(Tally.of(candidates), [])], Tally.of(candidates))
    assert abs(model.prior - 0.3) < 0.03
    for learnt, truth in zip(model.m, TRUE_M):
        assert np.abs(learnt - np.array(truth)).max() < 0.05
    p = model.probability(candidates)
    assert (p[:3000] > 0.5).mean() > 0.9 and (p[3000:] < 0.5).mean() > 0.9


def test_a_missing_field_is_no_evidence_either_way() -> None:
    model = MatchModel(
        fields=["a", "b"],
        m=[np.array([0.1, 0.9]), np.array([0.2, 0.8])],
        u=[np.array([0.9, 0.1]), np.array([0.9, 0.1])],
        prior=0.5,
    )
    only_a = model.probability(np.array([[1, MISSING]], dtype=np.int8))
    both = model.probability(np.array([[1, 1]], dtype=np.int8))
    against = model.probability(np.array([[1, 0]], dtype=np.int8))
    assert against[0] < only_a[0] < both[0]
    assert np.isclose(only_a[0], 0.9 / (0.9 + 0.1))  # a's Bayes factor alone, from even odds


def test_relatives_sharing_everything_but_name_and_birth_date_are_never_duplicates() -> None:
    from tasks.duplicate_flagging.fields import Field, Kind
    from tasks.duplicate_flagging.matching import RELATIVES, different_people

    fields = [
        Field(column=c, kind=k)
        for c, k in [("given", Kind.GIVEN_NAME), ("dob", Kind.DATE), ("address", Kind.ADDRESS), ("phone", Kind.PHONE)]
    ]
    levels = np.array(
        [
            [0, 0, 4, 2],  # another first name, another birth date, same address and phone: a relative
            [0, MISSING, 4, 2],  # only one identity field to go by: the model decides
            [3, 0, 4, 2],  # same first name, birth date mistyped: may be the same person
        ],
        dtype=np.int8,
    )
    assert different_people(levels, fields).tolist() == [True, False, False]
    assert RELATIVES < 0.99  # capped below any sensible duplicate threshold


def test_many_pairs_score_as_each_pair_alone() -> None:
    rng = np.random.default_rng(3)
    levels = np.where(rng.random((5000, 3)) < 0.1, MISSING, _draw(rng, TRUE_M, 5000)).astype(np.int8)
    model = MatchModel(
        fields=["name", "phone", "city"], m=[np.array(p) for p in TRUE_M], u=[np.array(p) for p in TRUE_U], prior=0.2
    )
    together = model.probability(levels)  # thousands of rows, a few dozen patterns: counted per pattern
    alone = np.array([model.probability(levels[i : i + 1])[0] for i in range(0, 5000, 97)])
    assert np.allclose(together[::97], alone)


def test_term_frequency_weights_of_a_hand_worked_table() -> None:
    # Ten records: smith 5 times, jones 3 times, okafor twice. f = 0.5, 0.3, 0.2; sum(f^2) = 0.25 + 0.09 + 0.04 = 0.38,
    # the chance that two random records agree on some surname. Agreeing on one value moves the odds by sum(f^2) / f:
    # smith log2(0.38 / 0.5) = log2(0.76) = -0.39593; jones log2(0.38 / 0.3) = 0.34104; okafor log2(0.38 / 0.2) = log2(1.9) = 0.92600.
    weights = term_frequency_weights(np.array([0.5, 0.3, 0.2]))
    assert np.allclose(weights, [-0.39593, 0.34104, 0.92600], atol=1e-5)


def test_a_shared_rare_surname_counts_for_more_than_a_common_one_and_an_agency_phone_for_little() -> None:
    surnames = pd.Series(["Smith"] * 5 + ["Jones"] * 3 + ["Okafor"] * 2)
    phones = pd.Series(["030 1234567"] * 6 + ["040 7654321"] * 2 + ["", ""])  # one agency number, one private line
    fields = [Field(column="surname", kind=Kind.SURNAME), Field(column="phone", kind=Kind.PHONE)]
    prepared = [
        prepare(normalise(surnames, Kind.SURNAME), Kind.SURNAME),
        prepare(normalise(phones, Kind.PHONE), Kind.PHONE),
    ]
    a, b = (
        np.array([0, 5, 8, 0, 6]),
        np.array([1, 6, 9, 5, 7]),
    )  # smith-smith, jones-jones, okafor-okafor, smith-jones, jones-jones
    _, levels = compare_pairs(prepared, a, b)
    adjustment = term_frequency_adjustment(prepared, a, levels)
    # Phones: 8 records have one, f = 6/8 and 2/8, sum(f^2) = 0.5625 + 0.0625 = 0.625.
    # smith-smith share the agency number: log2(0.38/0.5) + log2(0.625/0.75) = -0.39593 - 0.26303.
    # jones(5)-jones(6): one has the agency number, the other the private line: the phones disagree, surname only.
    # okafor-okafor: no phone on either side: surname only. smith(0)-jones(5): only the agency number, -0.26303.
    # jones(6)-jones(7): the private line, log2(0.625/0.25) = 1.32193, and jones 0.34104.
    assert np.allclose(adjustment, [-0.39593 - 0.26303, 0.34104, 0.92600, -0.26303, 0.34104 + 1.32193], atol=1e-5)
    model = MatchModel(
        fields=["surname", "phone"],
        m=[np.full(9, 1 / 9), np.array([0.1, 0.1, 0.8])],
        u=[np.full(9, 1 / 9), np.array([0.8, 0.1, 0.1])],
        prior=0.1,
    )
    probability = match_probability(model, levels, fields, adjustment)
    assert list(levels[0]) == list(levels[4]) and probability[4] > probability[0]  # the same levels; rarer values
