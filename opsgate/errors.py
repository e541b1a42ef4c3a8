"""The errors opsgate raises on purpose.

One base class with a ``retryable`` flag so the task layer can decide whether a retry can help
(a dropped connection can; a refused approval cannot). The CLI turns these into exit codes in
one place; everything else lets them travel.
"""

from __future__ import annotations


class OpsgateError(Exception):
    """Base for every error opsgate raises deliberately."""

    retryable: bool = False
    exit_code: int = 1

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ConfigurationError(OpsgateError):
    """Settings, policy or environment are not usable as given."""

    exit_code = 2


class PolicyError(ConfigurationError):
    """A policy file failed to load; the message names the file, the key and the problem."""


class ExtractionError(OpsgateError):
    """A document could not be read or parsed; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, retryable=False)
        self.reason = reason


class InputError(OpsgateError):
    """An input file as a whole cannot be read (missing, wrong encoding, no id column).

    Problems with single rows are not errors: those rows are reported and the rest is processed.
    """

    exit_code = 2


class PolicyDenied(OpsgateError):
    """The executor refused an action: no approval, a stale approval, or a forbidden tool."""

    exit_code = 3


class ApprovalRejected(OpsgateError):
    """An approval was refused when it was given (wrong digest, unknown proposals)."""

    exit_code = 3


class ExecutionError(OpsgateError):
    """A write to a system of record failed."""

    retryable = True


class DuplicateWrite(ExecutionError):
    """The system of record already holds what this write would add (an invoice posted, a request
    routed), by another case: never retried, and the case goes to a person as a possible duplicate,
    as it would have had the other write come first."""

    retryable = False


class AuditIntegrityError(OpsgateError):
    """The audit chain does not verify: a row was changed, inserted or removed."""

    exit_code = 4
