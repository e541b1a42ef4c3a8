"""Invented people with planted duplicates and relatives, for matching tests that need substance:
strangers who share names, cities and birth years, copies with typos, and relatives who share
a household but not a first name or a birth date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.duplicate_flagging.fields import Field, Kind

FIELDS = [
    Field(column="given", kind=Kind.GIVEN_NAME),
    Field(column="surname", kind=Kind.SURNAME),
    Field(column="dob", kind=Kind.DATE),
    Field(column="city", kind=Kind.CITY),
    Field(column="phone", kind=Kind.PHONE),
]

GIVEN = "anna ben carla david emma frank greta hugo ida jonas karl lena max nina otto paula".split()
SURNAMES = "smith jones miller brown davis wilson moore taylor thomas white harris martin garcia clark lewis".split()
CITIES = "berlin hamburg munich cologne leipzig dresden bremen essen".split()


def _typo(rng: np.random.Generator, word: str) -> str:
    i = int(rng.integers(0, len(word)))
    return word[:i] + word[i + 1 :] if len(word) > 3 else word + "e"


def people(count: int, seed: int = 5) -> pd.DataFrame:
    """People from small vocabularies (so strangers share names, cities and birth years), a third of
    them written again with a typo, a missing phone or another birth day, and a tenth with a relative
    (same surname, city and phone; another given name and birth date): pairs for a person to look at."""
    rng = np.random.default_rng(seed)
    rows = [
        {
            "given": str(rng.choice(GIVEN)),
            "surname": str(rng.choice(SURNAMES)),
            "dob": f"{rng.integers(1940, 2000)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}",
            "city": str(rng.choice(CITIES)),
            "phone": f"555{rng.integers(0, 10_000_000):07d}",
        }
        for _ in range(count)
    ]
    for original in list(rows[: count // 3]):
        copy = dict(original)
        change = int(rng.integers(0, 3))
        if change == 0:
            copy["surname"] = _typo(rng, copy["surname"])
        elif change == 1:
            copy["phone"] = ""
        else:
            copy["dob"] = copy["dob"][:6] + f"{rng.integers(1, 29):02d}"
        rows.append(copy)
    for original in list(rows[: count // 10]):
        relative = dict(original, given=str(rng.choice(GIVEN)), dob=f"{rng.integers(1940, 2000)}0101")
        rows.append(relative)
    order = rng.permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order])
