"""A summary written from facts: headline, highlights, risks and actions, each figure checked.

Whoever writes it (a model, a template, or a person editing it at the gate), a ``Summary``
validated with ``context={"facts": facts}`` states only figures the facts hold, and every
highlight and risk cites the fact keys it uses. The reports writer checks an approved summary
again against the facts stored with the run, so an edit cannot slip a figure in either.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from opsgate.reports.figures import Facts, UnsupportedFigure, unsupported


class Highlight(BaseModel):
    text: str = Field(min_length=1, max_length=300)
    facts: list[str] = Field(min_length=1, description="The keys of the facts this sentence states.")


class Summary(BaseModel):
    """The summary as the model returns it. Validated with ``context={"facts": facts}``: every
    citation must be a fact key and every figure a fact value (see ``numbers``). Without facts in
    the context only the shape is checked, which is what code building a summary itself needs."""

    headline: str = Field(min_length=1, max_length=200)
    highlights: list[Highlight] = Field(default_factory=list, max_length=8)
    risks: list[Highlight] = Field(default_factory=list, max_length=6)
    actions: list[str] = Field(default_factory=list, max_length=6, description="Next steps, without new figures.")

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> Self:
        facts = (info.context or {}).get("facts")
        if facts is None:
            return self
        problems = [
            f"{where} cites {sorted(unknown)}, which are not keys of the facts; cite only keys given"
            for where, item in self.cited_items()
            if (unknown := set(item.facts) - set(facts))
        ]
        problems += [p.message for p in check_figures(self, facts)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cited_items(self) -> list[tuple[str, Highlight]]:
        return [(f"highlights[{i}]", h) for i, h in enumerate(self.highlights)] + [
            (f"risks[{i}]", r) for i, r in enumerate(self.risks)
        ]


def check_figures(summary: Summary, facts: Facts) -> list[UnsupportedFigure]:
    """Every figure in the summary that no fact backs, with where it is. A highlight's or risk's
    figures must come from the facts it cites; the headline and actions may use any fact."""
    problems = unsupported(summary.headline, "headline", facts)
    for where, item in summary.cited_items():
        problems += unsupported(item.text, f"{where}.text", facts, cited=item.facts)
    for i, action in enumerate(summary.actions):
        problems += unsupported(action, f"actions[{i}]", facts)
    return problems
