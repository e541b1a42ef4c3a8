"""Bad files get one clear error; bad rows are reported and the rest is used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opsgate.errors import InputError
from opsgate.inputs.tabular import read_records


def _write(tmp_path: Path, text: str, name: str = "r.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_malformed_rows_and_bad_ids_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'id,name,city\n1,Acme,Berlin\n2,Beta,Bonn,extra\n3,Gamma,Köln\n3,Gamma2,Köln\n,NoId,X\n4,"Multi\nline",Y\n',
    )
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


def test_a_huge_field_leaves_out_its_row_not_the_file(tmp_path: Path) -> None:
    huge = "x" * (10 * 1024 * 1024)
    path = _write(tmp_path, f'id,name,city\n1,Acme,Berlin\n2,{huge},Bonn\n3,"Gamma",Köln\n')
    records = read_records(path, "id")
    assert records.frame.to_dict("list") == {"id": ["1", "3"], "name": ["Acme", "Gamma"], "city": ["Berlin", "Köln"]}
    (problem,) = records.problems
    assert problem.where.startswith("line 3 '2,xxx") and problem.reason.startswith(
        "field_too_large: a field of 10,485,760 bytes"
    )


def test_a_huge_quoted_multi_line_field_leaves_out_its_row(tmp_path: Path) -> None:
    huge = "y\n" * (2 * 1024 * 1024)
    records = read_records(_write(tmp_path, f'id,name,city\n1,Acme,Berlin\n2,"{huge}",Bonn\n3,Gamma,Köln\n'), "id")
    assert records.frame["id"].tolist() == ["1", "3"]
    assert [p.reason.split(":")[0] for p in records.problems] == ["field_too_large"]


def test_a_quote_that_does_not_close_ends_its_row_and_the_next_rows_are_read(tmp_path: Path) -> None:
    text = (
        'id,name,city\n1,Acme,Berlin\n2,"Beta,Bonn\n3,Gamma,Köln\n4,"Delta",Essen\n5,"Multi\nline",Ulm\n6,Zeta,Jena\n'
    )
    records = read_records(_write(tmp_path, text), "id")
    assert records.frame.to_dict("list") == {
        "id": ["1", "3", "4", "5", "6"],
        "name": ["Acme", "Gamma", "Delta", "Multi\nline", "Zeta"],
        "city": ["Berlin", "Köln", "Essen", "Ulm", "Jena"],
    }
    (problem,) = records.problems
    assert problem.where == "line 3 '2,\"Beta,Bonn'" and problem.reason.startswith("unbalanced_quote")


def test_an_unclosed_quote_on_the_last_row_and_a_quote_mark_inside_a_value(tmp_path: Path) -> None:
    text = 'id;name;size\r\n1;Acme;12" pipe\r\n2;"Beta;3\r\n'
    records = read_records(_write(tmp_path, text), "id")
    assert records.frame.to_dict("list") == {"id": ["1"], "name": ["Acme"], "size": ['12" pipe']}
    assert [p.reason.split(":")[0] for p in records.problems] == ["unbalanced_quote"]


def test_the_field_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opsgate.settings import get_settings

    path = _write(tmp_path, "id,name\n1," + "n" * 2000 + "\n2,Beta\n")
    assert read_records(path, "id").frame["id"].tolist() == ["1", "2"]
    monkeypatch.setenv("OPSGATE_READER_MAX_CSV_FIELD_BYTES", "1000")
    get_settings.cache_clear()
    try:
        assert read_records(path, "id").frame["id"].tolist() == ["2"]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
