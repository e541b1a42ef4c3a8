"""Learning from what people decided: merges they approved refine the model's m.

The unsupervised fit is a start; every approved merge is a labelled duplicate pair the engine can
compare exactly as it compares candidates, so the next full run weighs each field by how true
duplicates in this very record set actually differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.duplicate_flagging.comparing import COMPARATORS, prepare
from tasks.duplicate_flagging.fields import Field
from tasks.duplicate_flagging.matching import compare_pairs, normalised_values
from tasks.duplicate_flagging.scoring import MatchModel, refine


def confirmed_levels(pairs: list[tuple[dict[str, str], dict[str, str]]], fields: list[Field]) -> np.ndarray:
    """Agreement levels of record pairs given as their data, through the engine's own comparators."""
    rows = [record for pair in pairs for record in pair]
    frame = pd.DataFrame(
        [{f.column: str(row.get(f.column, "")) for f in fields} for row in rows], columns=[f.column for f in fields]
    )
    series = normalised_values(frame, fields)
    prepared = [prepare(series[f.column], f.kind) for f in fields]
    first = np.arange(len(pairs), dtype=np.int64) * 2
    _, levels = compare_pairs(prepared, first, first + 1)
    return levels


def learn_from_approvals(
    model: MatchModel, fields: list[Field], pairs: list[tuple[dict[str, str], dict[str, str]]]
) -> MatchModel:
    if not pairs:
        return model
    return refine(model, [COMPARATORS[f.kind].levels for f in fields], confirmed_levels(pairs, fields))
