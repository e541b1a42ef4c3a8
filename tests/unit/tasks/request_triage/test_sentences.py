"""The sentence encoder: the int8 ONNX graph built from the packaged weights computes what BERT
computes (checked against a forward pass written here in plain numpy from the same weights),
puts requests that mean the same near each other, and is the one a stored model was trained with,
to the digest of its graph."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

from opsgate import ConfigurationError, get_settings
from tasks.request_triage.sentences import DIMENSIONS, _weights_dir, encoder
from tasks.request_triage.training import fit
from tasks.request_triage.triaging import Classifier
from tests.unit.tasks.request_triage.helpdesk import history_rows

SENTENCES = [
    "My parcel still has not arrived.",
    "I am still waiting for my package to be delivered.",
    "How do I reset my password?",
    "Refund the second charge on my card, please.",
]


def _numpy_bert(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 by the book, in float64: embeddings, six post-norm layers, mean pooling."""
    model = _weights_dir()
    w = {k: v.astype(np.float64) for k, v in load_file(str(model / "model.safetensors")).items()}
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.enable_padding()
    tokens = tokenizer.encode_batch(texts)
    ids = np.array([t.ids for t in tokens])
    mask = np.array([t.attention_mask for t in tokens], dtype=np.float64)
    n, length = ids.shape

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:length]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = norm(x, "embeddings.LayerNorm")
    for i in range(6):
        p = f"encoder.layer.{i}."
        q, k, v = (
            dense(x, p + f"attention.self.{part}").reshape(n, length, 12, 32).transpose(0, 2, 1, 3)
            for part in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(32) + (1 - mask)[:, None, None, :] * -1e9
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True) @ v).transpose(0, 2, 1, 3).reshape(n, length, 384)
        x = norm(dense(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        inner = dense(x, p + "intermediate.dense")
        x = norm(dense(0.5 * inner * (1 + erf(inner / np.sqrt(2))), p + "output.dense") + x, p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_the_quantised_graph_computes_what_bert_computes() -> None:
    got = encoder().encode(SENTENCES)
    assert got.shape == (len(SENTENCES), DIMENSIONS) and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4)
    cosines = (got * _numpy_bert(SENTENCES)).sum(axis=1)
    assert cosines.min() > 0.97, cosines


def test_a_text_is_encoded_the_same_alone_and_among_others() -> None:
    alone = encoder().encode([SENTENCES[0]])
    batched = encoder().encode(["short", SENTENCES[0], "a much longer request " * 20])
    assert np.array_equal(alone[0], batched[1]), "a request's vector does not depend on its neighbours"


def test_requests_that_mean_the_same_are_nearer_than_those_that_do_not() -> None:
    parcel, package, password, refund = encoder().encode(SENTENCES)
    others = [parcel @ password, parcel @ refund, package @ password, package @ refund, password @ refund]
    assert parcel @ package > 0.5 and parcel @ package > max(others) + 0.2


def test_a_long_request_is_read_by_its_start() -> None:
    (vector,) = encoder().encode(["Where is my parcel? " + "blah " * 5000])
    assert np.isfinite(vector).all()


def test_a_model_trained_with_another_encoder_is_refused() -> None:
    model = fit(*history_rows())
    model.encoder = "minilm-l6-v2.0.0.0"
    with pytest.raises(ConfigurationError, match="trained with the sentence encoder minilm-l6-v2.0.0.0"):
        Classifier(model, "queues.old")


def test_a_graph_changed_in_the_cache_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever can write the cache cannot change how requests are read: the classifier records the
    digest of the graph it was trained with, and a graph with one weight changed is refused."""
    model = fit(*history_rows())
    built = encoder().path
    cache = tmp_path / "cache"
    (cache / "encoders").mkdir(parents=True)
    copy = cache / "encoders" / built.name
    shutil.copyfile(built, copy)
    monkeypatch.setenv("OPSGATE_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    encoder.cache_clear()
    try:
        assert encoder().path == copy and Classifier(model, "queues.new").model is model
        data = bytearray(copy.read_bytes())
        data[len(data) // 2] ^= 0x01  # inside a weight tensor: the graph still loads and runs
        copy.write_bytes(bytes(data))
        encoder.cache_clear()
        with pytest.raises(ConfigurationError, match="is not the one the request classifier queues.new was trained"):
            Classifier(model, "queues.new")
    finally:
        encoder.cache_clear()
        get_settings.cache_clear()
