"""The weekly reports people published by hand, from an outcomes file, against the summary's shadow drafts.

The file (CSV or Parquet) has one row per week: `week` (an ISO week: `2026-W47`, `2026W47` or
`2026-w47`), `action` (`published` or `skipped`) and `text`, the report as people published it
(Markdown or plain text; empty for a skipped week). A row whose week does not exist, whose action
is another, or whose week another row gives too is reported and left out.

A report is compared by the facts it states, not word for word: people and a draft phrase a week
differently, but each figure either is one of the week's stored facts or is not. Every figure of
people's text (found as the figure check finds them, ``opsgate.reports.figures``: rounding to the stated
digit, percentages, weeks and dates not figures) is looked up among the facts of the fact sheet
the shadow case drafted from. One field per fact people stated says whether the draft states it
too (cites it, or states a figure of it): how well the draft covers what people chose to report.
The counts add what the draft states that people left out, and the figures of people's that no
fact holds (people computed another number, or the facts lack one they need).

A figure can match several facts (7 SLA breaches and 7 incidents; "about 400" is 412 opened and
398 closed). The words of its sentence decide: the facts most of whose key words (compared by their
first five letters) the sentence holds; when it holds none of them, the figure stands for all.

Nothing here is a wrong action: a draft cannot state a figure the facts do not hold (the figure
check refuses it), and a week people skipped that the draft would have published is already
counted by the platform as one that should have escalated.

Only ``opsgate.reports.figures`` (standard library only) is imported here: the workflow's spec imports this
module, and the CLI loads every spec at start-up; the store and pandas load when an evaluation runs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsgate import (
    CaseComparison,
    Facts,
    Figure,
    InputError,
    OutcomeComparison,
    OutcomeRow,
    figures_in,
    matches,
    numeric_facts,
    read_records,
    stored_sheets,
)
from tasks.weekly_summary.weeks import parse_week

if TYPE_CHECKING:
    from opsgate import ShadowCase


PUBLISHED = "published"
ACTIONS = (PUBLISHED, "skipped")
RULES = [
    "an outcome matches the shadow cases whose source (the fact sheet's subject, `2026-W47 (Europe/Berlin)`) starts with its week",
    "people wrote when they published the week's report; the draft would have when its case was shadowed (escalated and failed cases were left to people)",
    "figures as the figure check finds them, in people's text and in the draft's headline, highlights, risks and actions; each looked up among "
    "the facts of the fact sheet the case drafted from, rounded to the digit the text states; a figure matching several facts stands for those "
    "most of whose key words its sentence holds",
    "fields: one per fact people's text states, agreeing when the draft cites that fact or states a figure of it; "
    "compared only for a published week with a draft and a text",
    "counts: people_figures in people's text, in_facts those matching a fact, draft_too those of them the draft states too, "
    "not_in_facts those matching none; draft_only the draft's figures of facts people did not state",
    "no wrong actions: a draft states only figures its facts hold, and a draft for a week people skipped counts as should have escalated",
]

_WEEK_OF_SOURCE = re.compile(r"^\s*(\d{4})-?[Ww](\d{2})\b")
_REPEATED = re.compile(
    r"^id '(?P<id>[^']*)' is used by more than one record"
)  # ``opsgate.inputs.tabular``'s reason for a week written alike twice
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)|\n")
_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)  # a link's digits are an address, not a figure
_WORD = re.compile(r"[^\W_]+")
STEM = 5  # "breaches" is "breached", "closed" is "close"; "open" is not "opened" (the backlog is not what was opened)


@dataclass(frozen=True)
class PeopleReport:
    """One week as people handled it: the action and the text they published."""

    week: str
    action: str
    text: str


def read_reports(path: Path) -> tuple[dict[str, PeopleReport], list[OutcomeRow]]:
    """People's report per week label (`2026-W47`), and the rows that were not used."""

    records = read_records(path, "week", required=["action", "text"])
    problems = [OutcomeRow(where=p.where, detail=p.reason) for p in records.problems]
    read: list[tuple[dict[str, Any], str | None, list[str]]] = []
    for row in records.frame.to_dict("records"):
        reasons, label = [], None
        try:
            label = parse_week(row["week"]).label
        except InputError as exc:
            reasons.append(str(exc))
        if row["action"].strip().casefold() not in ACTIONS:
            reasons.append(f"action {row['action']!r} is not one of {', '.join(ACTIONS)}")
        read.append((row, label, reasons))
    weeks = Counter(label for _, label, _ in read if label)
    for (
        problem
    ) in records.problems:  # rows the reader left out already: "2026-W47" twice leaves out both, then "2026w47" too
        if repeated := _REPEATED.match(problem.reason):
            try:
                weeks[parse_week(repeated["id"]).label] += 1
            except InputError:
                pass
    found: dict[str, PeopleReport] = {}
    for row, label, reasons in read:
        if label and weeks[label] > 1:
            reasons.append(f"another row gives the week {label} too; none of them is used")
        if reasons:
            problems.append(OutcomeRow(where=f"week {row['week']!r}", detail="; ".join(reasons)))
        elif label:
            found[label] = PeopleReport(label, row["action"].strip().casefold(), row["text"])
    return found, problems


def week_of(case: ShadowCase) -> str | None:
    """The week a case reports on, from its source (the fact sheet's subject); None for a case about
    something else, such as an events row that could not be used."""
    match = _WEEK_OF_SOURCE.match(case.source)
    return f"{match[1]}-W{match[2]}" if match else None


def _key_words(key: str) -> set[str]:
    return {word[:STEM] for word in key.casefold().split("_") if word}


def _sentence(text: str, figure: Figure) -> set[str]:
    """The words (by their first letters) of the sentence or line that states ``figure``."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, figure.start)]
    start = ends[-1] if ends else 0
    after = _SENTENCE_END.search(text, figure.start + len(figure.written))
    return {word[:STEM] for word in _WORD.findall(text[start : after.start() if after else len(text)].casefold())}


def facts_of(
    figure: Figure, text: str, values: dict[str, Decimal], allowed: Collection[str] | None = None
) -> list[str]:
    """The fact keys ``figure`` states: those among ``allowed`` (every fact when None, or when none
    of them match) whose value it matches, narrowed by the words of its sentence when it matches
    several (see the module docstring). Empty for a figure no fact holds."""
    keys = [key for key, value in values.items() if (allowed is None or key in allowed) and matches(figure, [value])]
    if not keys and allowed is not None:
        return facts_of(figure, text, values)
    if len(keys) < 2:
        return keys
    words = _sentence(text, figure)
    shares = {key: len(_key_words(key) & words) / max(len(_key_words(key)), 1) for key in keys}
    best = max(shares.values())
    return [key for key in keys if shares[key] == best] if best else keys


def _draft_parts(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    """The draft's text as a report renders it, each part with the facts it cites (None: uncited)."""
    cited = [
        (item["text"], list(item["facts"])) for name in ("highlights", "risks") for item in payload.get(name) or []
    ]
    return [(payload.get("headline") or "", None), *cited, *((action, None) for action in payload.get("actions") or [])]


def stated_facts(text: str, facts: Facts) -> list[list[str]]:
    """Per figure of people's text, the fact keys it states (empty when it matches none)."""
    values = numeric_facts(facts)
    text = _URL.sub(lambda m: " " * len(m.group()), text)
    return [facts_of(figure, text, values) for figure in figures_in(text, facts)]


def draft_facts(payload: dict[str, Any], facts: Facts) -> tuple[set[str], list[list[str]]]:
    """The facts the draft states (cited, or stated by a figure) and, per figure of the draft, its facts."""
    values = numeric_facts(facts)
    stated: set[str] = set()
    per_figure: list[list[str]] = []
    for text, cited in _draft_parts(payload):
        stated.update(cited or [])
        for figure in figures_in(text, facts):
            keys = facts_of(figure, text, values, cited)
            stated.update(keys)
            per_figure.append(keys)
    return stated, per_figure


def compare_report(text: str, payload: dict[str, Any], facts: Facts) -> tuple[dict[str, bool], dict[str, int]]:
    """People's text against the draft over the week's facts: agreement per fact people stated, and the counts."""
    people = stated_facts(text, facts)
    draft, draft_figures = draft_facts(payload, facts)
    chosen = {key: None for keys in people for key in keys}  # people's facts, in the order they state them
    fields = {key: key in draft for key in chosen}
    backed = [keys for keys in people if keys]
    counts = {
        "people_figures": len(people),
        "in_facts": len(backed),
        "draft_too": sum(1 for keys in backed if draft.intersection(keys)),
        "draft_only": sum(1 for keys in draft_figures if not chosen.keys() & set(keys)),
        "not_in_facts": len(people) - len(backed),
    }
    return fields, counts


def _sheets(cases: list[ShadowCase]) -> dict[int, Facts]:
    """The facts of the fact sheets ``cases`` drafted from, read in one transaction."""

    ids = {int(case.payload["fact_sheet"]) for case in cases if case.payload and "fact_sheet" in case.payload}
    if not ids:
        return {}
    return {sheet_id: stored.sheet.facts for sheet_id, stored in stored_sheets(ids).items()}


def _compare(case: ShadowCase, report: PeopleReport, sheets: dict[int, Facts]) -> CaseComparison:

    people_wrote = report.action == PUBLISHED
    fields: dict[str, bool] = {}
    counts: dict[str, int] = {}
    if people_wrote and report.text.strip() and case.payload and "fact_sheet" in case.payload:
        fields, counts = compare_report(report.text, case.payload, sheets[int(case.payload["fact_sheet"])])
    return CaseComparison(case=case, outcome=report.action, people_wrote=people_wrote, fields=fields, counts=counts)


def compare_outcomes(path: Path, cases: list[ShadowCase]) -> OutcomeComparison:
    """Every shadow case against the report people published, or skipped, for the same week."""

    reports, problems = read_reports(path)
    weeks = [week_of(case) for case in cases]
    matched = [(case, reports.get(week) if week else None) for case, week in zip(cases, weeks)]
    sheets = _sheets([case for case, report in matched if report is not None and report.action == PUBLISHED])
    compared = [
        _compare(case, report, sheets) if report is not None else CaseComparison(case=case) for case, report in matched
    ]
    unmatched = [
        OutcomeRow(
            where=f"week {week}", detail=f"people {report.action} its report; no shadow case drafted one for this week"
        )
        for week, report in reports.items()
        if week not in weeks
    ]
    return OutcomeComparison(cases=compared, unmatched=unmatched, problems=problems, rules=RULES)
