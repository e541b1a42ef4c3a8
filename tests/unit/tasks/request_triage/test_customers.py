"""The enterprise customer list: who a request is from, by address or domain, and which listed
customers its text names; a list that names nobody in a column opsgate knows is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate import ConfigurationError
from tasks.request_triage.customers import load_customers

LIST = (
    "customer_id,email,domain,name\nC-1,,bigcorp.example,Big Corp\n,cfo@other.example,,Other\nc-3,x@third.example,,\n"
)


def test_a_sender_is_found_by_address_then_domain(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(LIST, encoding="utf-8")
    customers = load_customers(path)
    assert customers.sender('"IT desk" <IT@BigCorp.example>') == "C-1"
    assert customers.sender("cfo@other.example") == "cfo@other.example"
    assert customers.sender("ceo@other.example") is None and customers.sender("") is None
    assert customers.named(["c-3", "C-9"], ["cfo@other.example", "nobody@x.example"]) == ["C-3", "cfo@other.example"]


def test_no_list_lists_nobody_and_a_list_without_a_known_column_is_refused(tmp_path: Path) -> None:
    assert load_customers(None).sender("it@bigcorp.example") is None
    path = tmp_path / "customers.csv"
    path.write_text("name,phone\nBig Corp,123\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="needs an email, domain or customer_id column"):
        load_customers(path)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_customers(tmp_path / "missing.csv")
