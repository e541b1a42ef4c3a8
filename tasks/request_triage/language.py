"""The language a request is written in, for the queue that answers in it; None when the text is
too short to tell.

py3langid ships its model compressed: decompressing it took 0.65 s of every `opsgate triage`, a
tenth of triaging three thousand requests. So the model, narrowed to ``LANGUAGES``, is kept
uncompressed in the cache directory the first time it is asked for, and read from there (0.1 s);
a cached file that cannot be read is made again."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from array import array
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from zipfile import BadZipFile

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from opsgate import get_settings

logger = logging.getLogger(__name__)

# The languages back offices most often receive; a wider set makes short requests guess worse.
LANGUAGES = ("en", "de", "fr", "nl", "it", "es", "pt", "pl", "sv", "da", "no", "fi", "cs", "ms", "id", "tr")
SURE = 0.8
MIN_LETTERS = 12


def _cached() -> Path:
    languages = hashlib.sha256(",".join(LANGUAGES).encode()).hexdigest()[:12]
    return get_settings().cache_dir / "languages" / f"py3langid-{metadata.version('py3langid')}-{languages}.npz"


def _save(identifier: LanguageIdentifier, path: Path) -> None:
    """Written whole or not at all: a crash half-way leaves no file that looks cached."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        part = Path(scratch) / path.name
        np.savez(
            part,
            ptc=identifier.nb_ptc,
            pc=identifier.nb_pc,
            classes=np.array(identifier.nb_classes),
            nextmove=np.frombuffer(identifier.tk_nextmove, dtype=f"u{identifier.tk_nextmove.itemsize}"),
            row=np.frombuffer(identifier.tk_row, dtype=f"u{identifier.tk_row.itemsize}"),
            output=np.array(identifier.tk_output, dtype=np.int64),
        )
        os.replace(part, path)


def _load(path: Path) -> LanguageIdentifier:
    typecodes = {array(code).itemsize: code for code in "HIL"}  # the unsigned arrays py3langid walks
    with np.load(path, allow_pickle=False) as model:
        return LanguageIdentifier(
            model["ptc"],
            model["pc"],
            model["classes"].tolist(),
            array(typecodes[model["nextmove"].itemsize], model["nextmove"].tobytes()),
            model["output"].tolist(),
            norm_probs=True,
            tk_row=array(typecodes[model["row"].itemsize], model["row"].tobytes()),
        )


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    path = _cached()
    if path.exists():
        try:
            return _load(path)
        except (OSError, ValueError, KeyError, EOFError, BadZipFile) as error:
            logger.warning("the cached language model %s cannot be read (%s): making it again", path, error)
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    _save(identifier, path)
    return identifier


def language_of(text: str) -> str | None:
    if sum(c.isalpha() for c in text) < MIN_LETTERS:
        return None
    code, probability = _identifier().classify(text)
    return str(code) if probability >= SURE else None
