"""Settings, read once from the environment (``OPSGATE_`` prefix) or a ``.env`` file.

Defaults are the embedded set-up: a SQLite store under the data directory, the policies shipped
with the project, the offline ``rules`` backend, a local Prefect server on port 4200.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_PAGE = 10_000  # proposals one approval request (and one answer) may hold: bounds what an answer may carry


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPSGATE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path.home() / ".opsgate", description="Where the embedded store and server logs live."
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "opsgate",
        description="What opsgate derives from installed files and may rebuild at will (a workflow's compiled model).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the store; a SQLite file in data_dir when unset."
    )
    policy_dir: Path = Field(
        default=PROJECT_ROOT / "policies", description="Directory of <workflow>.yaml policy files."
    )

    llm_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPSGATE_LLM_BASE_URL", "OPENAI_BASE_URL")
    )
    llm_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPSGATE_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_model: str | None = Field(
        default=None, description="Model name on the OpenAI-compatible endpoint; no LLM when unset."
    )
    llm_timeout: float = Field(default=60, gt=0, description="Seconds one LLM request may take.")
    llm_max_retries: int = Field(
        default=2, ge=0, description="Re-asks after an answer fails validation (the error becomes the next prompt)."
    )
    llm_max_tokens: int = Field(
        default=512, gt=0, description="Longest answer accepted: bounds a model that runs away."
    )
    backend: Literal["rules", "llm", "auto"] = Field(
        default="rules",
        description="Who proposes: deterministic rules (offline), the LLM, or rules first and the LLM for what they miss.",
    )

    approval_timeout: int = Field(
        default=3600, gt=0, description="Seconds a run waits at the gate before its proposals expire."
    )
    approval_page_size: int = Field(
        default=25,
        gt=0,
        le=MAX_PAGE,
        description="Proposals per approval form; a larger batch is decided page by page.",
    )
    approval_suspend_after: int = Field(
        default=600,
        ge=0,
        description="A deployment's run that may wait longer than this many seconds for a decision is "
        "suspended: its process ends, and a worker starts it again once it is answered.",
    )
    execute_batch_size: int = Field(
        default=500,
        gt=0,
        le=10_000,
        description="Approved actions the executor writes per Prefect task and per commit; each keeps its own key, undo record and audit event.",
    )
    approval_poll_interval: int = Field(
        default=10, gt=0, description="Seconds between the paused run's checks for a decision."
    )

    audit_key: SecretStr | None = Field(
        default=None,
        description="The secret that keys action digests and audit hashes (HMAC-SHA256); kept outside the database. At least 32 characters.",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="A file holding the audit key, when OPSGATE_AUDIT_KEY is unset; else audit.key in data_dir, made on first use.",
    )
    heartbeat_interval: float = Field(
        default=15, gt=0, description="Seconds between a running run's signs of life in the store."
    )
    heartbeat_grace: float = Field(
        default=120,
        gt=0,
        description="A run whose process has not shown life for this many seconds counts as dead (sooner on the same machine: its process is gone).",
    )

    prefect_port: int = Field(
        default=4200, description="Port of the local Prefect server opsgate starts when PREFECT_API_URL is unset."
    )
    max_document_bytes: int = Field(
        default=25 * 1024 * 1024, gt=0, description="Larger input documents fail instead of being read."
    )
    max_message_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Larger e-mails fail instead of being read (attachments count: a 20 MB PDF is 27 MB encoded).",
    )
    reader_memory_mb: int = Field(
        default=1024, gt=0, description="Memory a reader process may use for one input, over its size after imports."
    )
    reader_cpu_seconds: int = Field(
        default=60, gt=0, description="CPU seconds a reader process may spend on one input."
    )
    reader_wall_seconds: int = Field(
        default=120, gt=0, description="Seconds one input may take to read before its reader process is killed."
    )
    reader_max_output_mb: int = Field(
        default=64, gt=0, description="Largest result a reader process may send back for one input."
    )
    reader_workers: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), gt=0, description="Reader processes at once."
    )
    read_runner: Literal["local", "dask"] = Field(
        default="local",
        description="Where a run's documents are read: `local`, in this process's reader processes; `dask`, in "
        "chunks of `read_chunk`, one Prefect task each, on a Dask cluster (`dask_address`), each worker reading "
        "its chunk in reader processes of its own.",
    )
    read_chunk: int = Field(
        default=250, gt=0, le=10_000, description="Documents per Prefect task when reading is fanned out."
    )
    dask_address: str | None = Field(
        default=None,
        description="The scheduler of a running Dask cluster (`tcp://host:8786`) for `read_runner: dask`; unset, "
        "each run starts a local cluster of `dask_workers` processes.",
    )
    dask_workers: int = Field(default=2, gt=0, description="Worker processes of the local Dask cluster a run starts.")
    reader_max_expanded_mb: int = Field(
        default=256,
        gt=0,
        description="What a PDF's compressed streams (images aside) may expand to, in total, before it is refused unread.",
    )
    reader_max_image_pixels: int = Field(
        default=60_000_000,
        gt=0,
        description="A larger image (or TIFF page) is refused undecoded; a larger PDF page is rendered smaller for OCR.",
    )
    ocr_languages: str = Field(
        default="eng+deu+fra",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract's languages for scans, joined by '+'.",
    )
    ocr_dpi: int = Field(
        default=300, ge=72, le=600, description="Resolution PDF pages without a text layer are rendered at for OCR."
    )
    reader_max_csv_field_bytes: int = Field(
        default=1024 * 1024, gt=0, description="A CSV row with a larger field is left out with its reason."
    )

    review_url: str = Field(
        default="http://127.0.0.1:8400",
        description="Where approvers reach the review screen (`opsgate review serve`): links on Prefect runs and "
        "in notifications point there. https turns on secure cookies.",
    )
    take_up_deployment: str = Field(
        default="take-up/take-up",
        description="The deployment (FLOW/DEPLOYMENT, from prefect.yaml) the review screen starts a take-up run of; a worker runs it.",
    )
    review_secret: SecretStr | None = Field(
        default=None,
        description="Signs the review screen's session cookies; derived from the audit key when unset. Changing it signs everyone out.",
    )
    review_session_seconds: int = Field(
        default=8 * 3600, gt=0, description="A review-screen session ends this long after sign-in, whatever happens."
    )
    review_idle_seconds: int = Field(
        default=30 * 60, gt=0, description="A review-screen session unused this long ends."
    )
    review_login_attempts: int = Field(
        default=5,
        gt=0,
        description="Failed sign-ins per name, and per client address, allowed in review_login_window_seconds before sign-in is refused for a while.",
    )
    review_login_window_seconds: int = Field(default=15 * 60, gt=0)
    review_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the authenticating reverse proxies whose user header the "
        "review screen believes, comma-separated; empty: none.",
    )
    review_proxy_user_header: str = Field(
        default="X-Forwarded-User", description="The header a trusted proxy names the signed-in person in."
    )
    review_proxy_groups_header: str = Field(
        default="X-Forwarded-Groups",
        description="The header a trusted proxy lists the person's groups in (comma-separated).",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The team's OpenID Connect provider (its issuer URL); sign-in through it is offered when set.",
    )
    oidc_client_id: str | None = Field(default=None, description="The review screen's client id at the provider.")
    oidc_client_secret: SecretStr | None = Field(default=None, description="Its client secret.")
    oidc_name_claim: str = Field(
        default="preferred_username", description="The ID token claim that names the approver."
    )
    oidc_groups_claim: str = Field(
        default="groups", description="The claim listing the person's groups (matched to policy `directory_groups`)."
    )

    @field_validator("review_trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``10.0.0.5, 10.1.0.0/16`` as people write it in an environment variable."""
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("data_dir", "cache_dir", "policy_dir", "audit_key_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def store_url(self) -> str:
        """The store's URL: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'opsgate.db'}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return Settings()
