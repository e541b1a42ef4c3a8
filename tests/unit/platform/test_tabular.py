"""Bad files get one clear error; bad rows are reported and the rest is used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opsgate.errors import InputError
from opsgate.tabular import read_records


def _write(tmp_path: Path, text: str, name: str = "r.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_malformed_rows_and_bad_ids_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, 'id,name,city\n1,Acme,Berlin\n2,Beta,Bonn,extra\n3,Gamma,Köln\n3,Gamma2,Köln\n,NoId,X\n4,"Multi\nline",Y\n')
    records = read_records(path, "id")
    assert records.frame["id"].tolist() == ["1", "4"]
    assert records.frame["name"].tolist() == ["Acme", "Multi\nline"]
    reasons = [p.reason for p in records.problems]
    assert any("4 fields where the header has 3" in r for r in reasons)
    assert sum("'3' is used by more than one record" in r for r in reasons) == 2
    assert any("no value in the id column" in r for r in reasons)
    assert any("2,Beta,Bonn,extra" in p.where for p in records.problems)


def test_semicolon_and_tab_files_are_detected(tmp_path: Path) -> None:
    for delimiter in (";", "\t", "|"):
        path = _write(tmp_path, f"id{delimiter}name\n1{delimiter}Acme\n2{delimiter}Beta\n")
        assert read_records(path, "id").frame["name"].tolist() == ["Acme", "Beta"]


def test_a_missing_id_column_names_the_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no id column 'customer_id'; the columns are 'id', 'name'"):
        read_records(_write(tmp_path, "id,name\n1,Acme\n"), "customer_id")


def test_the_wrong_encoding_says_how_to_fix_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,name\n1,Müller\n", encoding="cp1252")
    with pytest.raises(InputError, match="not utf-8 text.*--encoding"):
        read_records(path, "id")
    assert read_records(path, "id", encoding="cp1252").frame["name"].tolist() == ["Müller"]


def test_an_undecidable_delimiter_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--delimiter"):
        read_records(_write(tmp_path, "just one column\nvalue\n"), "id")
    with pytest.raises(InputError, match="no such file"):
        read_records(tmp_path / "absent.csv", "id")


def test_parquet_is_read_by_content_with_every_value_as_text(tmp_path: Path) -> None:
    path = tmp_path / "records.data"
    pd.DataFrame({"id": [1, 2, 2], "name": ["Acme", None, "Beta"], "since": [2001, 2002, 2003]}).to_parquet(path)
    records = read_records(path, "id")
    assert records.frame.to_dict("list") == {"id": ["1"], "name": ["Acme"], "since": ["2001"]}
    assert len(records.problems) == 2
