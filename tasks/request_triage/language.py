"""The language a request is written in, for the queue that answers in it; None when the text is
too short to tell."""

from __future__ import annotations

from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# The languages back offices most often receive; a wider set makes short requests guess worse.
LANGUAGES = ("en", "de", "fr", "nl", "it", "es", "pt", "pl", "sv", "da", "no", "fi", "cs", "ms", "id", "tr")
SURE = 0.8
MIN_LETTERS = 12


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def language_of(text: str) -> str | None:
    if sum(c.isalpha() for c in text) < MIN_LETTERS:
        return None
    code, probability = _identifier().classify(text)
    return str(code) if probability >= SURE else None
