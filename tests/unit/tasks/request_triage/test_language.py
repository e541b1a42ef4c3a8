"""The language of a request, from py3langid's model kept uncompressed in the cache directory: the
cached model answers as the shipped one does, and a cached file that was damaged is made again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from opsgate import get_settings
from tasks.request_triage import language
from tasks.request_triage.language import LANGUAGES, language_of

TEXTS = {
    "Where is my new card? I ordered it two weeks ago": "en",
    "Wo ist meine neue Karte? Ich habe sie vor zwei Wochen bestellt": "de",
    "Où est ma nouvelle carte ? Je l'ai commandée il y a deux semaines": "fr",
    "Waar is mijn nieuwe pas? Ik heb hem twee weken geleden besteld": "nl",
    "¿Dónde está mi tarjeta nueva? La pedí hace dos semanas": "es",
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OPSGATE_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    language._identifier.cache_clear()
    yield tmp_path / "cache"
    language._identifier.cache_clear()
    get_settings.cache_clear()


def _shipped() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def test_the_cached_model_answers_as_the_shipped_one(cache: Path) -> None:
    assert [language_of(t) for t in TEXTS] == list(TEXTS.values())  # made and cached on first use
    (cached,) = (cache / "languages").glob("*.npz")
    language._identifier.cache_clear()
    again = language._identifier()  # read from the cache this time
    shipped = _shipped()
    for text in [*TEXTS, "ok", "Mein Passwort funktioniert nicht mehr, bitte helfen Sie mir"]:
        assert again.classify(text) == shipped.classify(text)
    assert cached.exists()


def test_a_damaged_cached_model_is_made_again(cache: Path) -> None:
    language_of("Where is my new card? I ordered it two weeks ago")
    (cached,) = (cache / "languages").glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:1000])  # cut short, as a full disk would leave it
    language._identifier.cache_clear()
    assert [language_of(t) for t in TEXTS] == list(TEXTS.values())
    language._identifier.cache_clear()
    assert language._identifier().classify("Wo ist meine neue Karte?") == _shipped().classify(
        "Wo ist meine neue Karte?"
    )


def test_a_cached_file_that_would_unpickle_code_is_refused_and_made_again(cache: Path) -> None:
    """Someone who can write the cache swaps in arrays of Python objects (which unpickling would
    run): the file is never unpickled, and the model is made again from the shipped one."""
    language_of("Where is my new card? I ordered it two weeks ago")
    (cached,) = (cache / "languages").glob("*.npz")
    np.savez(cached, ptc=np.array([object()], dtype=object))
    language._identifier.cache_clear()
    assert [language_of(t) for t in TEXTS] == list(TEXTS.values())
    with np.load(cached, allow_pickle=False) as remade:
        assert remade["ptc"].dtype != object
