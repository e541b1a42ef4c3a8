"""The LLM client: instructor over any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp).

One place builds it, so retries stay at one layer each: the OpenAI client never retries
(``max_retries=0``), instructor re-asks only when an answer fails validation (the validator's
message becomes the next prompt), and a workflow decides what an unreachable endpoint means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from opsgate.errors import ConfigurationError, OpsgateError
from opsgate.settings import get_settings

if TYPE_CHECKING:  # openai and instructor take a second to import: only LLM runs pay for it
    import httpx2
    import instructor
    import openai

T = TypeVar("T", bound=BaseModel)


class LlmUnavailable(OpsgateError):
    """The endpoint did not answer (connection, timeout, server error): another try may work."""

    retryable = True


class LlmRequestRefused(OpsgateError):
    """The endpoint refused the request itself (too long for the model's context, unknown model,
    bad key): the same request will fail again."""


class LlmInvalidAnswer(OpsgateError):
    """Every answer failed validation, re-asks included: a person must look."""


def llm_client(http_client: httpx2.Client | None = None) -> instructor.Instructor:
    """The configured client; ``http_client`` lets tests put a fake endpoint at the HTTP boundary."""
    import instructor
    import openai

    settings = get_settings()
    if not settings.llm_model:
        raise ConfigurationError(
            "no LLM is configured: set OPSGATE_LLM_MODEL and OPENAI_BASE_URL (and OPENAI_API_KEY if the endpoint needs one)"
        )
    client = openai.OpenAI(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or "not-needed",
        max_retries=0,
        timeout=settings.llm_timeout,
        http_client=http_client,
    )
    return instructor.from_openai(client, mode=instructor.Mode.TOOLS)


def _as_written(message: dict[str, Any]) -> dict[str, Any]:
    """A message instructor passes through Jinja unchanged. instructor renders every message as a
    template when it is given ``context``; a document's ``{{ text }}`` would be filled in and its
    ``{% if %}`` would fail. Each text goes in a raw block, and every ``{%`` in it is written as an
    expression outside the block, so no text can close the block early."""
    content = message.get("content")
    if not isinstance(content, str):
        return message
    return {
        **message,
        "content": "{% raw %}" + content.replace("{%", "{% endraw %}{{ '{%' }}{% raw %}") + "{% endraw %}",
    }


def ask(
    client: instructor.Instructor, response_model: type[T], messages: list[dict[str, Any]], context: dict[str, Any]
) -> T:
    """One structured answer, validated with ``context`` (e.g. the source text to check copies against).
    The messages reach the model as written: their text is data, never a template."""
    import openai
    from instructor.core.exceptions import InstructorRetryException

    settings = get_settings()
    try:
        return client.chat.completions.create(
            model=settings.llm_model,
            response_model=response_model,
            messages=[_as_written(m) for m in messages],  # type: ignore[arg-type]
            max_retries=settings.llm_max_retries,
            context=context,
            temperature=0,
            max_tokens=settings.llm_max_tokens,
        )
    except InstructorRetryException as exc:
        if isinstance(exc.__cause__, openai.APIError):
            raise _endpoint_error(exc.__cause__) from exc
        last = str(exc).split("Last error:")[-1].strip()[:300]
        raise LlmInvalidAnswer(f"no valid answer after {exc.n_attempts} attempts; last error: {last}") from exc
    except openai.APIError as exc:
        raise _endpoint_error(exc) from exc


def _endpoint_error(exc: openai.APIError) -> OpsgateError:
    """Connection trouble, timeouts, rate limits and server errors may pass; other refusals will not."""
    status = getattr(exc, "status_code", None)
    if status is None or status in (408, 409, 429) or status >= 500:
        return LlmUnavailable(f"the LLM endpoint failed: {exc}")
    return LlmRequestRefused(f"the LLM endpoint refused the request: {exc}")
