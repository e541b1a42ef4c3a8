"""`opsgate dedupe --dask-address`: the partitions of the candidate pairs compared by the workers of a
real Dask cluster (a scheduler and two workers, each a process of its own), with the very output of
matching in one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dask_cluster import dask_cluster
from tests.support.people import people

pytestmark = pytest.mark.slow

FIELDS = "given:given_name,surname:surname,dob:date,city:city,phone:phone"


def _dedupe(file: Path, *extra: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "opsgate",
            "dedupe",
            str(file),
            "--id-column",
            "id",
            "--fields",
            FIELDS,
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_partitions_compared_on_dask_workers_give_the_same_pairs(tmp_path: Path) -> None:
    from distributed import Client, get_task_stream

    records = people(1500, seed=11)
    records.insert(0, "id", [f"r{i:05d}" for i in range(len(records))])
    file = tmp_path / "people.csv"
    records.to_csv(file, index=False)
    here = _dedupe(file)
    assert here.count('"decision": "duplicate"') > 100 and here.count('"decision": "review"') > 20

    with (
        dask_cluster(dict(os.environ), tmp_path / "dask.log") as address,
        Client(address) as watcher,
        get_task_stream(client=watcher) as stream,
    ):
        there = _dedupe(file, "--dask-address", address, "--partition-records", "200")
        workers = set(watcher.scheduler_info()["workers"])
    assert there == here
    compared = [t for t in stream.data if t["key"].startswith("partition_evidence")]
    assert len(compared) == -(-len(records) // 200)  # one task per partition of 200 records' pairs
    assert {t["worker"] for t in compared} == workers  # both workers took partitions


def test_an_unreachable_cluster_is_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "people.csv"
    records = people(50)
    records.insert(0, "id", [f"r{i}" for i in range(len(records))])
    records.to_csv(file, index=False)
    done = subprocess.run(
        [sys.executable, "-m", "opsgate", "dedupe", str(file), "--id-column", "id", "--fields", FIELDS]
        + ["--dask-address", "tcp://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "no Dask scheduler answers at tcp://127.0.0.1:9" in done.stderr
