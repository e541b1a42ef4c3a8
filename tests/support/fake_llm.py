"""A fake OpenAI-compatible endpoint at the HTTP boundary: the real openai and instructor code
runs, only the network answer is scripted. Each scripted answer is the tool-call arguments
(a dict) or an HTTP status code to fail with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest

from opsgate.proposing.llm import llm_client
from opsgate.settings import get_settings


class FakeLlm:
    def __init__(self, *answers: dict[str, Any] | int) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, int):
            return httpx2.Response(answer, json={"error": {"message": f"scripted failure {answer}"}})
        call = {
            "id": "call-1",
            "type": "function",
            "function": {"name": body["tools"][0]["function"]["name"], "arguments": json.dumps(answer)},
        }
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    def client(self):  # noqa: ANN201 - instructor.Instructor
        return llm_client(http_client=httpx2.Client(transport=httpx2.MockTransport(self._handle)))


@contextmanager
def llm_configured(monkeypatch: pytest.MonkeyPatch, max_retries: int = 1) -> Iterator[None]:
    monkeypatch.setenv("OPSGATE_LLM_MODEL", "test-model")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://llm.test/v1")
    monkeypatch.setenv("OPSGATE_LLM_MAX_RETRIES", str(max_retries))
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()
