"""The enterprise customers the policy points to (``settings.customers``), and who a request is from.

A request is an enterprise customer's when its sender's address or domain, or a customer id it
names, is on the list. When the sender is one listed customer and the text names another's id,
the two signals conflict: a router must not guess which account the request is about.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from opsgate import ConfigurationError, decode_text, get_settings


@dataclass(frozen=True)
class Customers:
    """Listed customers by e-mail, domain and id; each maps to the customer's id (or the e-mail
    or domain itself when the list gives no id)."""

    by_email: dict[str, str] = field(default_factory=dict)
    by_domain: dict[str, str] = field(default_factory=dict)
    ids: frozenset[str] = frozenset()

    def sender(self, address: str) -> str | None:
        """The listed customer who sent it, by address, then by domain."""
        email = parseaddr(address)[1].strip().lower()
        if not email:
            return None
        return self.by_email.get(email) or self.by_domain.get(email.rpartition("@")[2])

    def named(self, customer_ids: list[object], emails: list[object]) -> list[str]:
        """The listed customers the text itself names, by id or address, in order."""
        found = [str(c).upper() for c in customer_ids if str(c).upper() in self.ids]
        found += [hit for e in emails if (hit := self.by_email.get(str(e).lower()))]
        return list(dict.fromkeys(found))


def policy_customers(listed: Path | None) -> Customers:
    """The list a policy's ``settings.customers`` names; a relative path is beside the policy files."""
    return load_customers(listed if listed is None or listed.is_absolute() else get_settings().policy_dir / listed)


def load_customers(path: Path | None) -> Customers:
    """The list at ``path`` (CSV with any of email, domain, customer_id); none given: nobody is listed."""
    if path is None:
        return Customers()
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"the enterprise customer list {path} cannot be read: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not columns & {"email", "domain", "customer_id"}:
        raise ConfigurationError(f"{path}: the customer list needs an email, domain or customer_id column")
    by_email: dict[str, str] = {}
    by_domain: dict[str, str] = {}
    ids: set[str] = set()
    for row in reader:
        values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        email, domain, customer = (
            values.get("email", "").lower(),
            values.get("domain", "").lower(),
            values.get("customer_id", "").upper(),
        )
        key = customer or email or domain
        if customer:
            ids.add(customer)
        if email:
            by_email[email] = key
        if domain:
            by_domain[domain.lstrip("@")] = key
    return Customers(by_email, by_domain, frozenset(ids))
