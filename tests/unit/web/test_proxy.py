"""Which peers are the trusted proxies, and what a proxy's header may name."""

from __future__ import annotations

import pytest

from opsgate.errors import ConfigurationError
from opsgate.settings import Settings
from opsgate.web import sessions
from opsgate.web.app import create_app
from opsgate.web.proxy import is_trusted, trusted_networks


def test_addresses_and_networks_of_both_families_are_read() -> None:
    networks = trusted_networks(["127.0.0.1", " 10.8.0.0/16 ", "fd00:1::/64", "::1"])
    assert [str(n) for n in networks] == ["127.0.0.1/32", "10.8.0.0/16", "fd00:1::/64", "::1/128"]


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", False),
        ("10.8.255.254", True),
        ("10.9.0.1", False),
        ("fd00:1::abcd", True),
        ("fd00:2::1", False),
        ("::1", True),
        ("::ffff:10.8.0.7", True),  # an IPv4 peer on a dual-stack socket
        ("::ffff:10.9.0.7", False),
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_only_a_peer_inside_a_trusted_network_is_trusted(peer: str | None, trusted: bool) -> None:
    assert is_trusted(peer, trusted_networks(["127.0.0.1/32", "10.8.0.0/16", "fd00:1::/64", "::1"])) is trusted


def test_no_setting_trusts_nobody() -> None:
    assert trusted_networks([]) == ()
    assert not is_trusted("127.0.0.1", ())


def test_every_malformed_entry_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as refused:
        trusted_networks(["127.0.0.1", "10.0.0.5/24", "proxy.internal", "300.1.1.1", "::1/129"])
    message = str(refused.value)
    assert "OPSGATE_REVIEW_TRUSTED_PROXIES" in message
    for bad in ("'10.0.0.5/24' (10.0.0.5/24 has host bits set)", "'proxy.internal'", "'300.1.1.1'", "'::1/129'"):
        assert bad in message
    assert "'127.0.0.1'" not in message


def test_the_app_does_not_start_with_a_malformed_trusted_proxy(opsgate_env: str) -> None:
    with pytest.raises(ConfigurationError, match="10.0.0.5/24"):
        create_app(Settings(review_trusted_proxies=["10.0.0.5/24"]))


def test_a_proxys_groups_are_cleaned_and_bounded() -> None:
    assert sessions.vouched(" ann ", [" finance-ap", "", "staff ", "finance-ap"]) == ("ann", ("finance-ap", "staff"))
    with pytest.raises(ValueError, match="at most 32 groups"):
        sessions.vouched("ann", [f"g{i}" for i in range(sessions.MAX_GROUPS + 1)])
    with pytest.raises(ValueError, match="at most 32 groups"):
        sessions.vouched("ann", ["x" * (sessions.GROUP_CHARS + 1)])
    with pytest.raises(ValueError, match="not a list"):
        sessions.vouched("ann", "finance-ap")
    with pytest.raises(ValueError, match="1 to 100 characters"):
        sessions.vouched("  ", [])
    with pytest.raises(ValueError, match="cannot be shown"):
        sessions.vouched("ann\u202eolga", [])


def test_trusted_proxies_are_written_comma_separated_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGATE_REVIEW_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16,")
    assert Settings().review_trusted_proxies == ["10.0.0.5", "10.1.0.0/16"]
