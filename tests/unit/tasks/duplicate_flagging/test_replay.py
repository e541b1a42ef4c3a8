"""Duplicate flagging's replay against merges people decided, on SQLite and PostgreSQL.

The model is set by hand so each pair's match probability can be worked out on paper (log2 odds):

    prior 0.01                                   log2(0.01 / 0.99)      = -6.63
    company name equal (level 3)                 log2(0.80 / 0.001)     = +9.64
    phone equal (level 2)                        log2(0.80 / 0.005)     = +7.32
    phone missing                                                          0

    a1 ~ a2  name and phone equal   +10.33   p = 0.9992   duplicate (duplicate_at 0.99)
    b1 ~ b2  name equal, b2 no phone  +3.01  p = 0.890    possible duplicate (review_at 0.5)

People approved the a-merge, correcting the merged e-mail, and rejected the b-merge. Then:

- the live version (thresholds as shipped) agrees on 5 of the a-merge's 6 fields (kind, survivor,
  duplicates, values.company_name, values.phone; not values.email, which people corrected), and
  would propose the b-merge people rejected: not ready;
- a candidate version with review_at 0.95 leaves b1 and b2 apart (0.890 < 0.95): 5/6 again and
  nothing people rejected: ready at a minimum of 0.8.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import update
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ConfigurationError
from opsgate.governance import executor, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.learning.replay import replay
from opsgate.models import Proposal, Route
from opsgate.policy.loader import workflow_settings
from opsgate.store.db import transaction
from opsgate.store.tables import ProposalRow, RecordRow
from opsgate.workflows import by_name
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.matching import MatchSettings, find_duplicates
from tasks.duplicate_flagging.proposing import Matched, propose_merges
from tasks.duplicate_flagging.scoring import MatchModel
from tasks.duplicate_flagging.store import import_records, live_records, save_model
from tests.unit.platform.conftest import StoreProbe

DEDUPE = "duplicate_flagging"
FIELDS = [Field(column="company_name", kind=Kind.ORGANISATION), Field(column="phone", kind=Kind.PHONE)]
MODEL = MatchModel(
    fields=["company_name", "phone"],
    m=[np.array([0.01, 0.04, 0.15, 0.80]), np.array([0.05, 0.15, 0.80])],
    u=[np.array([0.97, 0.02, 0.009, 0.001]), np.array([0.98, 0.015, 0.005])],
    prior=0.01,
)
RECORDS = pd.DataFrame(
    {
        "id": ["a1", "a2", "b1", "b2", "z1"],
        "company_name": ["Acme Widgets", "Acme Widgets", "Birch Foods", "Birch Foods", "Zenith Travel"],
        "phone": ["020 7946 0001", "020 7946 0001", "0113 496 0000", "", "0161 496 0777"],
        "email": ["sales@acme.example", "", "orders@birch.example", "", ""],
    }
)
runner = CliRunner()


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    return now - timedelta(days=1), now + timedelta(seconds=1)


def _merge_of(proposals: list[Proposal], first: str) -> Proposal:
    return next(
        p
        for p in proposals
        if first in (p.payload or {}).get("survivor", "") + "".join((p.payload or {}).get("duplicates", []))
    )


@pytest.fixture
def store(opsgate_env: str) -> StoreProbe:
    return StoreProbe()


@pytest.fixture
def decided(store: StoreProbe) -> dict[str, Proposal]:
    """A run proposing the a- and b-merges from the records store; a approved with the e-mail corrected, b rejected."""
    import_records("customers", RECORDS, "id", workflow=DEDUPE, run_id=None, actor="test", source="customers.csv")
    run = runs.start_run(governing(DEDUPE), "test")
    stored = live_records("customers")
    settings = workflow_settings(by_name("dedupe"), run.policy)
    decisions = find_duplicates(
        stored.frame,
        FIELDS,
        MatchSettings(duplicate_at=settings.duplicate_at, review_at=settings.review_at),
        model=MODEL,
    )
    model = save_model(DEDUPE, "customers", FIELDS, MODEL, run.id, 0)
    found, _ = propose_merges(
        Matched("customers", stored.frame, stored.updated_at, FIELDS, model.id), decisions, run.policy, settings, []
    )
    proposals = [p.proposal for p in found]
    verdicts = runs.check_policy(run, proposals)
    assert [v.route for v in verdicts] == [Route.APPROVE, Route.APPROVE]
    a, b = _merge_of(proposals, "a1"), _merge_of(proposals, "b1")
    assert (a.case_type, b.case_type) == ("duplicate", "review")
    request = requests.open_request(
        DEDUPE, run.id, "no-flow-run", "test-approval-1", proposals, requests.deadline_in(3600)
    )
    answer = answer_for(
        request,
        "dana",
        rejections={b.id: "two shops, one name"},
        edits={a.id: {"values": {**a.payload["values"], "email": "accounts@acme.example"}}},
    )
    for decision in decide(request.id, answer):
        executor.execute_one(run.policy, decision.proposal_id)
    return {"a": a, "b": b}


def _candidate(tmp_path: Path, **settings: float) -> Path:
    """The shipped policy as the next version of the matching rules, kept outside the policy folder."""
    from tests.support.policies import SHIPPED

    data = yaml.safe_load((SHIPPED / f"{DEDUPE}.yaml").read_text(encoding="utf-8"))
    data["instruction_version"] = "fellegi-sunter-v2"
    data["settings"].update(settings)
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_the_live_version_agrees_but_for_the_correction_and_would_merge_what_people_rejected(
    store: StoreProbe, decided: dict[str, Proposal]
) -> None:
    before = (store.count(ProposalRow), len(store.events()))
    with transaction() as session:  # the operator's next import changes a1: replay matches the records as they were
        session.execute(
            update(RecordRow)
            .where(RecordRow.external_id == "a1")
            .values(data={"company_name": "Zenith Travel", "phone": "0161 496 0777"})
        )

    report = replay(by_name("dedupe"), "fellegi-sunter-v1", *_window())

    assert (store.count(ProposalRow), len(store.events())) == before, "a replay writes nothing"
    assert (report.cases, report.replayed, report.unavailable) == (2, 2, [])
    assert (report.approved_actions, report.fields_compared, report.fields_agreed, report.actions_agreed) == (
        1,
        6,
        5,
        0,
    )
    assert {f.field for f in report.fields} == {
        "kind",
        "survivor",
        "duplicates",
        "values.company_name",
        "values.phone",
        "values.email",
    }
    assert [(c.field, c.final, c.new) for c in report.changed] == [
        ("values.email", "accounts@acme.example", "sales@acme.example")
    ]
    assert [(c.source, c.original, c.new) for c in report.wrong] == [(decided["b"].source, "rejected", "write")]
    assert not report.ready


def test_a_candidate_policy_that_leaves_the_rejected_pair_apart_is_ready(
    store: StoreProbe, decided: dict[str, Proposal], tmp_path: Path
) -> None:
    candidate = _candidate(tmp_path, review_at=0.95)

    report = replay(by_name("dedupe"), "fellegi-sunter-v2", *_window(), min_agreement=0.8, candidate=candidate)

    assert (report.fields_compared, report.fields_agreed, report.wrong, report.missed) == (6, 5, [], [])
    assert report.new_versions == {"fellegi-sunter-v2": 2}
    assert report.ready and str(candidate) in report.policy

    result = runner.invoke(
        app,
        [
            "replay",
            "dedupe",
            "--version",
            "fellegi-sunter-v2",
            "--policy",
            str(candidate),
            "--min-agreement",
            "0.9",
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output  # 5/6 = 83% is below 90%
    assert json.loads(result.stdout)["agreement"] == 0.8333


def test_a_candidate_that_drops_an_approved_merge_misses_it(
    store: StoreProbe, decided: dict[str, Proposal], tmp_path: Path
) -> None:
    """duplicate_at and review_at at 0.9995: a1 ~ a2 (0.9992) is no longer proposed, so nothing of
    what people approved is written; and b, which they rejected, is not proposed either."""
    report = replay(
        by_name("dedupe"),
        "fellegi-sunter-v2",
        *_window(),
        candidate=_candidate(tmp_path, duplicate_at=0.9995, review_at=0.9995),
    )

    assert [(c.source, c.new) for c in report.missed] == [(decided["a"].source, "none")]
    assert (report.fields_agreed, report.wrong, report.agreement) == (0, [], 0.0)


def test_a_version_the_policy_does_not_name_is_refused(store: StoreProbe, decided: dict[str, Proposal]) -> None:
    with pytest.raises(ConfigurationError, match="give the candidate policy file that names it"):
        replay(by_name("dedupe"), "fellegi-sunter-v2", *_window())


def test_a_case_that_kept_no_records_cannot_be_replayed(store: StoreProbe, decided: dict[str, Proposal]) -> None:
    with transaction() as session:
        session.execute(update(ProposalRow).where(ProposalRow.id == decided["b"].id).values(inputs=None))

    report = replay(by_name("dedupe"), "fellegi-sunter-v1", *_window())

    assert [u.source for u in report.unavailable] == [decided["b"].source] and "kept no records" in report.unavailable[
        0
    ].reason
    assert report.replayed == 1 and report.wrong == []


def test_a_case_keeps_its_records_and_the_model_that_scored_them(
    store: StoreProbe, decided: dict[str, Proposal]
) -> None:
    (row,) = store.rows(ProposalRow, ProposalRow.id == decided["a"].id)
    assert row.inputs["kind"] == "customers" and sorted(row.inputs["columns"]) == [
        "company_name",
        "email",
        "phone",
    ]  # JSONB keeps no key order
    assert [(r["id"], r["data"]) for r in row.inputs["records"]] == [
        ("a1", {"company_name": "Acme Widgets", "phone": "020 7946 0001", "email": "sales@acme.example"}),
        ("a2", {"company_name": "Acme Widgets", "phone": "020 7946 0001"}),
    ]
    (proposed,) = [e for e in store.events("proposed") if e.proposal_id == decided["a"].id]
    assert proposed.data["inputs"] == row.inputs
    assert proposed.data["context"] == {"records": 2, "shared_identifier": True}
