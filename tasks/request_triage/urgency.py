"""The priority a team gives its requests, learnt from a history's priority column.

Words of urgency ("fraud", "stolen", "no rush") say how soon a request needs a person anywhere;
what else a team treats as urgent is its own (an outage for a software desk, a missed payroll run
for a bank's business desk). A history that keeps the priority people gave each request teaches
that: the classifier learns it from the same features as the queue (``classifier``), and triage
proposes the learnt level where the request's own words say nothing (``triaging``).

Helpdesks name their levels differently; ``level_of`` reads the common names onto high, normal
and low, and a value it does not know is left out of the learning rather than guessed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVELS = ("high", "normal", "low")
# P2 to P4 and bare numbers are left out: P2 is high in some desks' schemes and medium in others',
# and a 1 is the highest or the lowest of a scale by the helpdesk.
_NAMES = {
    "high": ("high", "urgent", "critical", "highest", "blocker", "emergency", "p1"),
    "normal": ("normal", "medium", "moderate", "standard"),
    "low": ("low", "lowest", "minor", "trivial"),
}
_LEVEL = {name: level for level, names in _NAMES.items() for name in names}
MIN_EXAMPLES = 5  # a level with fewer examples in the history is not learnt: too few to say what it looks like
SURE = 0.5  # a learnt level other than normal is proposed when likelier than the other levels together


def level_of(value: str | None) -> str | None:
    """``value`` as high, normal or low ("Urgent", "P1", "medium"...), or None when it names none."""
    return _LEVEL.get(" ".join(str(value or "").split()).casefold())


@dataclass(frozen=True)
class Urgency:
    """The learnt priority: a weight per feature and level (the queue classifier's features), a
    bias, and the temperature that makes its probabilities calibrated on held-out requests."""

    levels: list[str]
    weights: np.ndarray  # features x levels
    bias: np.ndarray
    temperature: float

    def level(self, scores: np.ndarray) -> tuple[str, float]:
        """The likeliest level for a request's scores, with its probability."""
        shifted = (scores - scores.max()) * self.temperature
        probabilities = np.exp(shifted) / np.exp(shifted).sum()
        best = int(np.argmax(probabilities))
        return self.levels[best], float(probabilities[best])

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "priority_levels": np.array(self.levels, dtype=str),
            "priority_weights": self.weights.astype(np.float16),
            "priority_bias": self.bias.astype(np.float32),
            "priority_temperature": np.array([self.temperature], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Urgency | None:
        """The learnt priority a stored model holds; None for one trained without (or before)."""
        if "priority_levels" not in arrays:
            return None
        return cls(
            levels=[str(level) for level in arrays["priority_levels"]],
            weights=arrays["priority_weights"].astype(np.float32),
            bias=arrays["priority_bias"].astype(np.float32),
            temperature=float(arrays["priority_temperature"][0]),
        )
