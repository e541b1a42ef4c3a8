"""The one place where errors become messages and exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from opsgate.display import terminal_text
from opsgate.errors import OpsgateError

F = TypeVar("F", bound=Callable[..., Any])
stderr = Console(stderr=True, soft_wrap=True)  # messages stay one line each, for grep and logs


def exits_cleanly(command: F) -> F:
    """Show an opsgate error as one clear message and exit with its code, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OpsgateError as exc:
            stderr.print(
                Text.assemble(terminal_text("error:", "bold red"), " ", terminal_text(str(exc)))
            )  # a message may quote documents and files
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]
