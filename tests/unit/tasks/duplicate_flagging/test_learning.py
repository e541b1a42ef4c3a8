"""Approved merges refine m: through the engine's own comparators, weighed against EM's estimate."""

from __future__ import annotations

import numpy as np

from tasks.duplicate_flagging.comparing import COMPARATORS, MISSING
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.learning import confirmed_levels, learn_from_approvals
from tasks.duplicate_flagging.scoring import MatchModel

FIELDS = [Field(column="name", kind=Kind.ORGANISATION), Field(column="phone", kind=Kind.PHONE)]
SIZES = [COMPARATORS[f.kind].levels for f in FIELDS]


def _uniform() -> MatchModel:
    flat = [np.full(size, 1.0 / size) for size in SIZES]
    return MatchModel(fields=[f.column for f in FIELDS], m=flat, u=[u.copy() for u in flat], prior=0.1)


def test_levels_come_from_the_engines_comparators() -> None:
    pairs = [
        (
            {"name": "Acme Widgets Ltd", "phone": "020 7946 0000"},
            {"name": "ACME WIDGETS LIMITED", "phone": "+44 20 7946 0000"},
        ),
        ({"name": "Birch Foods", "phone": ""}, {"name": "Zenith Printing", "phone": "0113 496 0000"}),
    ]
    levels = confirmed_levels(pairs, FIELDS)
    assert levels[0].tolist() == [SIZES[0] - 1, SIZES[1] - 1], "legal form, case and phone layout are not differences"
    assert levels[1, 0] == 0 and levels[1, 1] == MISSING


def test_approved_pairs_move_m_towards_what_they_show_and_u_stays() -> None:
    model = _uniform()
    agree = {"name": "Acme Widgets", "phone": "020 7946 0000"}
    few = learn_from_approvals(model, FIELDS, [(agree, dict(agree))] * 5)
    many = learn_from_approvals(model, FIELDS, [(agree, dict(agree))] * 500)
    top = SIZES[0] - 1
    assert model.m[0][top] < few.m[0][top] < many.m[0][top] < 1
    assert np.isclose(few.m[0].sum(), 1) and np.isclose(many.m[1].sum(), 1)
    assert all(np.array_equal(a, b) for a, b in zip(many.u, model.u))
    assert learn_from_approvals(model, FIELDS, []) is model
