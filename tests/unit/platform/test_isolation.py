"""The isolated reader pool with real worker processes: whatever one item does to its worker, the
batch goes on, the other items are right, and no worker outlives the pool or its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from opsgate.inputs.isolation import MB, IsolatedPool, Limits
from tests.support.readers import behave

LIMITS = Limits(memory_bytes=256 * MB, cpu_seconds=2, wall_seconds=60, output_bytes=1 * MB, workers=2)
ASLEEP = Limits(memory_bytes=256 * MB, cpu_seconds=60, wall_seconds=4, output_bytes=1 * MB, workers=2)
REPO = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a container's init may be slow to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_gone(pids: list[int], seconds: float = 20) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize(
    ("item", "limits", "reason", "detail"),
    [
        (("kill", 0), LIMITS, "reader_crashed", "killed by SIGKILL"),
        (("abort", 0), LIMITS, "reader_crashed", "killed by SIGABRT"),
        (("allocate", 400 * MB), LIMITS, "too_large_when_expanded", "memory budget (256 MB)"),
        (("spin", 0), LIMITS, "read_timeout", "CPU-time limit (SIGXCPU)"),
        (("sleep", 120), ASLEEP, "read_timeout", "longer than 4 s"),
        (("answer", 2 * MB), LIMITS, "too_large_when_expanded", "over the 1048576-byte limit"),
        (("raise", 7), LIMITS, "reader_failed", "ValueError: cannot read item 7"),
    ],
)
def test_an_item_that_breaks_its_worker_fails_alone_and_the_batch_goes_on(
    item: tuple[str, int], limits: Limits, reason: str, detail: str
) -> None:
    items = [("double", 1), item, ("double", 2), ("double", 3), ("allocate", 64 * MB)]
    with IsolatedPool(behave, limits) as pool:
        results = pool.map(items)

    assert [r.value for r in results] == [2, None, 4, 6, 64 * MB], "the others are read, within the memory budget too"
    failure = results[1].failure
    assert failure is not None and failure.reason == reason and detail in failure.detail, failure
    assert all(r.failure is None for i, r in enumerate(results) if i != 1)


def test_workers_are_kept_across_items_and_results_come_in_input_order() -> None:
    done: list[int] = []
    limits = Limits(memory_bytes=256 * MB, cpu_seconds=5, wall_seconds=10, output_bytes=MB, workers=2)
    with IsolatedPool(behave, limits) as pool:
        slow_first = pool.map([("sleep", 1), ("double", 5), ("double", 6)], progress=done.append)
        readers = {r.value for r in pool.map([("pid", 0)] * 6)}

    assert [r.value for r in slow_first] == [1, 10, 12]
    assert done == [1, 2, 3]
    assert len(readers) <= 2, "at most one process per worker read the six items"


def test_a_replaced_worker_is_a_new_process() -> None:
    with IsolatedPool(behave, Limits(256 * MB, 2, 60, MB, workers=1)) as pool:
        before, _, after = (r.value for r in pool.map([("pid", 0), ("kill", 0), ("pid", 0)]))
    assert isinstance(before, int) and isinstance(after, int) and before != after


def test_no_worker_is_left_after_the_pool_closes_even_a_busy_one() -> None:
    pool = IsolatedPool(behave, LIMITS)
    results = pool.imap([("double", 1), ("sleep", 30), ("double", 2)])
    assert next(results).value == 2
    pids = pool.pids
    assert pids and all(_alive(pid) for pid in pids)
    pool.close()
    assert _wait_gone(pids) == []


def test_no_worker_outlives_a_parent_killed_with_sigkill(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from opsgate.inputs.isolation import MB, IsolatedPool, Limits
        from tests.support.readers import behave

        pool = IsolatedPool(behave, Limits(256 * MB, 60, 120, MB, workers=2))
        results = pool.imap([("pid", 0), ("pid", 0), ("spin", 0), ("sleep", 60)])
        print(next(results).value, flush=True)
        print(" ".join(map(str, pool.pids)), flush=True)
        for _ in results:
            pass
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        parent.stdout.readline()
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids), "both workers busy: one spinning, one asleep"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert _wait_gone(pids) == [], "the workers died with their parent"


def test_the_memory_budget_is_over_the_workers_own_size() -> None:
    """Within the budget a worker can allocate almost all of it: the cap is not its size after imports."""
    with IsolatedPool(behave, Limits(512 * MB, 5, 20, MB, workers=1)) as pool:
        within, over = pool.map([("allocate", 400 * MB), ("allocate", 600 * MB)])
    assert within.value == 400 * MB
    assert over.failure is not None and over.failure.reason == "too_large_when_expanded"


def test_ctrl_c_at_the_terminal_reaches_the_parent_not_its_workers() -> None:
    """A terminal sends SIGINT to the whole foreground process group; the parent decides what to do
    (here: nothing), and no worker, not even one still starting, is interrupted."""
    script = textwrap.dedent(
        """
        import signal
        from opsgate.inputs.isolation import MB, IsolatedPool, Limits
        from tests.support.readers import behave

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with IsolatedPool(behave, Limits(256 * MB, 60, 120, MB, workers=2)) as pool:
            results = pool.imap([("double", 1), ("sleep", 2), ("double", 4)])
            print(next(results).value, flush=True)
            input()
            print([r.value for r in results], flush=True)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdin is not None and parent.stdout is not None
    assert parent.stdout.readline().strip() == "2"
    os.killpg(parent.pid, signal.SIGINT)  # what Ctrl-C does to the job's process group
    out, _ = parent.communicate("\n", timeout=60)
    assert out.strip() == "[2, 8]" and parent.returncode == 0


def test_a_worker_that_died_while_idle_is_replaced_before_it_gets_an_item() -> None:
    with IsolatedPool(behave, Limits(256 * MB, 2, 60, MB, workers=1)) as pool:
        (first,) = pool.map([("pid", 0)])
        os.kill(first.value, signal.SIGKILL)
        assert _wait_gone([first.value]) == []
        (second,) = pool.map([("pid", 0)])
    assert isinstance(second.value, int) and second.value != first.value


def test_a_batch_left_unread_does_not_leak_its_answers_into_the_next() -> None:
    with IsolatedPool(behave, LIMITS) as pool:
        abandoned = pool.imap([("double", 1), ("sleep", 1), ("double", 50)])
        assert next(abandoned).value == 2
        assert [r.value for r in pool.map([("double", 3), ("double", 4)])] == [6, 8]
