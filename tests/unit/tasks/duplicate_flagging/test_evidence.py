"""The side-by-side artifact shows the imported records as they are: ids, column names and values
from the file are text in their own cells, never links, images or HTML on the reviewer's page."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from opsgate.policy.loader import load_policy
from tasks.duplicate_flagging.evidence import review_markdown
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.matching import Decisions
from tasks.duplicate_flagging.policy import DedupePolicy
from tasks.duplicate_flagging.proposing import Matched, propose_merges
from tasks.duplicate_flagging.store import ID_COLUMN
from tests.support.markdown import render

NAME = "Acme <img src=x onerror=alert(1)> | [pay](https://evil.example)"
COLUMN = "company|name"


def test_records_from_the_file_are_shown_as_text_in_their_cells() -> None:
    frame = pd.DataFrame(
        {ID_COLUMN: ["`r1`", "r\u202e2"], COLUMN: [NAME, NAME], "note": ["**VIP**", "line one\nline two"]}
    )
    decisions = Decisions(
        a=np.array([0]),
        b=np.array([1]),
        probability=np.array([0.999]),
        duplicate=np.array([True]),
        similarities=np.ones((1, 1), dtype=np.float32),
        labels=np.array([0, 0]),
        scored=None,  # type: ignore[arg-type]  # not read when forming cases
    )
    fields = [Field(column=COLUMN, kind=Kind.ORGANISATION)]
    policy = load_policy("duplicate_flagging")
    proposed, _ = propose_merges(
        Matched("customers", frame, [datetime(2026, 1, 1, tzinfo=UTC)] * 2, fields, model_id=1),
        decisions,
        policy,
        DedupePolicy.model_validate(policy.settings),
        [],
    )

    rendered = render(review_markdown("customers", proposed, frame, fields, 0))
    assert proposed[0].survivor == "`r1`"  # both complete: the first loaded
    assert rendered.tables == [
        [
            ["column", "`r1` (keeps)", "r⟨U+202E⟩2", "merged", "similarity"],
            [COLUMN, NAME, NAME, NAME, "1.00"],
            ["note", "**VIP**", "line one line two", "**VIP**", "-"],
        ]
    ]
    assert "keep `r1`, merge 1" in rendered.text
    assert rendered.acting() == []
