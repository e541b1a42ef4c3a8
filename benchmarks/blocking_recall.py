"""Duplicate flagging: how many true duplicate pairs blocking lets through, and at what cost.

    python3 -m uv run python benchmarks/blocking_recall.py FILE --id-column ID --truth PAIRS.csv [--by-key]

A true pair that no blocking key puts into the candidates is never compared, so blocking recall
caps the recall of the whole engine; the share of all pairs that are candidates is what the
comparison stage pays for. Both are measured on the candidates `find_duplicates` itself would
score (`matching.blocked_pairs`), against a truth file of id pairs (header `a,b`, as
record_generator.py writes it). Prints one line

    records=N true_pairs=T candidate_pairs=P pair_share=S blocking_recall=R missed=M seconds=X

and with ``--by-key`` one line per key: its pairs, the true pairs it finds alone, and the true
pairs no other key finds (a key that finds none of its own only costs time).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere in the repo

from opsgate.inputs.tabular import read_records  # noqa: E402
from tasks.duplicate_flagging.blocking import Candidates  # noqa: E402
from tasks.duplicate_flagging.fields import infer_fields  # noqa: E402
from tasks.duplicate_flagging.matching import MatchSettings, blocked_pairs, normalised_values  # noqa: E402


def pair_codes(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """One int64 per unordered pair of record positions."""
    return np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)


def truth_positions(ids: pd.Series, truth: Path) -> tuple[np.ndarray, np.ndarray]:
    """The true pairs as record positions; pairs naming an id the reader dropped are left out."""
    pairs = pd.read_csv(truth, dtype=str, keep_default_na=False)
    position = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    known = pairs.iloc[:, 0].isin(position.index) & pairs.iloc[:, 1].isin(position.index)
    return position[pairs.iloc[:, 0][known]].to_numpy(), position[pairs.iloc[:, 1][known]].to_numpy()


def found_by_key(candidates: Candidates, truth: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per key, which true pairs (by position in ``truth``) it produced."""
    codes = pair_codes(candidates.a, candidates.b, n)
    return {key: np.isin(truth, codes[rows]) for key, rows in candidates.by_key.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--id-column", required=True)
    parser.add_argument("--truth", type=Path, required=True, help="CSV of true id pairs, header a,b")
    parser.add_argument("--by-key", action="store_true", help="also one line per blocking key")
    args = parser.parse_args()
    started = time.perf_counter()
    records = read_records(args.file, args.id_column)
    fields, _ = infer_fields(list(records.frame.columns), args.id_column)
    n = len(records.frame)
    candidates = blocked_pairs(normalised_values(records.frame, fields), fields, MatchSettings())
    true_a, true_b = truth_positions(records.frame[args.id_column], args.truth)
    truth = pair_codes(true_a, true_b, n)
    by_key = found_by_key(candidates, truth, n)
    found = np.logical_or.reduce(list(by_key.values())) if by_key else np.zeros(len(truth), dtype=bool)
    recall = float(found.mean()) if len(truth) else 1.0
    share = len(candidates.a) / max(n * (n - 1) // 2, 1)
    print(
        f"records={n} true_pairs={len(truth)} candidate_pairs={len(candidates.a)} pair_share={share:.6f} "
        f"blocking_recall={recall:.4f} missed={int((~found).sum())} seconds={time.perf_counter() - started:.1f}"
    )
    if args.by_key:
        for key, mine in by_key.items():
            others = (
                np.logical_or.reduce([v for k, v in by_key.items() if k != key])
                if len(by_key) > 1
                else np.zeros_like(mine)
            )
            print(
                f"  key={key!r} pairs={len(candidates.by_key[key])} finds={int(mine.sum())} only_this={int((mine & ~others).sum())}"
            )


if __name__ == "__main__":
    main()
