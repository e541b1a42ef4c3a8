"""Module loggers into Prefect run logs, without Prefect's warnings when no run is active."""

from __future__ import annotations

import logging

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

LOGGERS = ("opsgate", "tasks", "flows")


class RunLogHandler(APILogHandler):
    """Ships a record to the API only inside a flow or task run; CLI-only logs stay local."""

    def emit(self, record: logging.LogRecord) -> None:
        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        super().emit(record)


def surface_logs() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        if not any(isinstance(handler, RunLogHandler) for handler in logger.handlers):
            logger.addHandler(RunLogHandler())
