"""Whether the process running a run is still there.

Prefect cannot tell: a run whose process was killed while paused stays Paused, and one killed
between two writes stays Running, forever. So each run's process records where it runs and shows
life in the store while the run is open; ``opsgate recover`` takes a run as dead when its process
is gone from this machine, or when it has not shown life for ``OPSGATE_HEARTBEAT_GRACE`` seconds.
The machine is named by host, boot and process namespace, so a process id is only ever checked
where it means the same process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import update

from opsgate.settings import get_settings
from opsgate.store.db import transaction
from opsgate.store.tables import RunRow, as_utc

logger = logging.getLogger(__name__)

GONE = datetime(1970, 1, 1, tzinfo=timezone.utc)  # a run whose process stopped beating without finishing it


@lru_cache
def machine() -> str:
    """This host, this boot, this process namespace: where a process id names one process."""

    def read(path: str) -> str:
        try:
            return Path(path).read_text().strip()[:12]
        except OSError:
            return "-"

    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()[:200]}/{read('/proc/sys/kernel/random/boot_id')}/{namespace}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def is_dead(run: RunRow, now: datetime | None = None) -> bool:
    """Whether an open run's process is gone: not on this machine any more, or silent too long."""
    now = now or datetime.now(timezone.utc)
    if run.host == machine() and run.pid is not None and not _process_exists(run.pid):
        return True
    if run.pid == os.getpid() and run.host == machine():
        return run.heartbeat_at is not None and as_utc(run.heartbeat_at) == GONE
    last = as_utc(run.heartbeat_at) if run.heartbeat_at else None
    return last is None or now - last > timedelta(seconds=get_settings().heartbeat_grace)


def _beat(run_id: str, at: datetime) -> bool:
    """Record a sign of life; False once the run is no longer open (finished, or recovered)."""
    with transaction() as session:
        result = session.execute(
            update(RunRow).where(RunRow.id == run_id, RunRow.status == "running").values(heartbeat_at=at)
        )
        return bool(result.rowcount)


def keep_alive(run_id: str, owner: threading.Thread | None = None) -> threading.Thread:
    """Show life for the run while ``owner`` (the thread running the flow) lives and the run is
    open. When the owner ends with the run still open (the flow failed), say so at once, so recovery
    need not wait out the grace period."""
    owner = owner or threading.current_thread()
    interval = get_settings().heartbeat_interval
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                if not owner.is_alive():
                    _beat(run_id, GONE)
                    return
                if not _beat(run_id, datetime.now(timezone.utc)):
                    return
            except Exception:  # a store that does not answer now may answer at the next beat
                logger.warning("could not record that run %s is alive", run_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"opsgate-heartbeat-{run_id[:8]}", daemon=True)
    thread.start()
    return thread
