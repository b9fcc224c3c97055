"""Configuration, read once from the environment at start.

Every value has a safe default for a newcomer's machine (`SIAO_ENV=dev`, embedded
database under a per-user data folder). Values that must never reach a traceback or a
log (the database URL may carry a password) are wrapped in starlette's `Secret`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import platformdirs
from starlette.datastructures import Secret


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class Introspection(StrEnum):
    """Who may read the schema: introspection (`__schema`, `__type`) and the "Did you
    mean ...?" suggestions of error messages (both tell the names of fields and types)."""

    OPEN = "open"  # anyone, with or without a token (dev)
    AUTHENTICATED = "authenticated"  # a valid token; anonymous requests learn nothing
    OFF = "off"  # nobody


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc


# A live session (WebSocket) ends at most this long after its rights do: the period of the
# check is bounded by it.
MAX_SESSION_CHECK_SECONDS = 60.0
MIN_VITAL_SECRET_LENGTH = 16


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("si-siao-graph", appauthor=False))


@dataclass(frozen=True)
class Settings:
    env: Environment = Environment.DEV
    database_url: Secret | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    jwt_issuer: str = "siao-dev"
    jwt_audience: str = "si-siao-graph"
    jwks_url: str | None = None
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_page_size: int = 100
    # Attachments: the largest file accepted, and how long a download link lasts.
    max_upload_bytes: int = 10 * 1024 * 1024
    link_ttl_seconds: int = 300
    # Person searches run at most this many at a time per server process; the others wait
    # their turn without using the CPU, so that a demand being created at the 115's evening
    # rush is not queued behind every search (a bulkhead).
    search_concurrency: int = 1
    # None: `open` in dev, `authenticated` in prod.
    introspection: Introspection | None = None
    # The on-call check (/health/vital) also opens to a request whose
    # `X-Siao-Vital-Secret` header carries this value (a probe without a user token).
    vital_secret: Secret | None = None
    # How often each server process re-checks its open WebSocket sessions (token expiry,
    # account still active) between events; every event is checked anyway.
    session_check_seconds: float = 30.0
    # The edge (schema/endpoint.py): the largest JSON body read (uploads keep their own limit), and
    # how deeply a JSON body may nest.
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    # The cost limit (schema/cost.py): the most objects a document could return, counted
    # before execution from its page sizes. 20,000: 16x the heaviest README or screen
    # document, and a full answer at the limit is about 6 MiB (docs/cost-limit.md).
    max_nodes: int = 20_000
    # Towards the database: opening a connection, waiting for one of the pool, and one
    # statement (seconds). A paused or unreachable database gives a 503 within these.
    db_connect_timeout: float = 5.0
    db_pool_timeout: float = 5.0
    db_statement_timeout: float = 5.0
    # The `Retry-After` of a 503 while the database is unavailable (seconds).
    retry_after_seconds: int = 5

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV

    @property
    def introspection_mode(self) -> Introspection:
        if self.introspection is not None:
            return self.introspection
        return Introspection.OPEN if self.is_dev else Introspection.AUTHENTICATED

    @property
    def dev_key_path(self) -> Path:
        return self.data_dir / "dev-signing-key.pem"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def link_secret_path(self) -> Path:
        return self.data_dir / "link-secret"

    @classmethod
    def from_env(cls) -> Settings:
        raw_env = os.environ.get("SIAO_ENV", "dev").strip().lower()
        try:
            env = Environment(raw_env)
        except ValueError as exc:
            raise SystemExit(f"SIAO_ENV must be 'dev' or 'prod', got {raw_env!r}") from exc
        url = os.environ.get("DATABASE_URL") or None
        data_dir = os.environ.get("SIAO_DATA_DIR") or None
        raw_introspection = os.environ.get("SIAO_INTROSPECTION", "").strip().lower()
        try:
            introspection = Introspection(raw_introspection) if raw_introspection else None
        except ValueError as exc:
            raise SystemExit(
                "SIAO_INTROSPECTION must be 'open', 'authenticated' or 'off', "
                f"got {raw_introspection!r}"
            ) from exc
        vital_secret = os.environ.get("SIAO_VITAL_SECRET") or None
        if vital_secret is not None and len(vital_secret) < MIN_VITAL_SECRET_LENGTH:
            raise SystemExit(
                f"SIAO_VITAL_SECRET must have at least {MIN_VITAL_SECRET_LENGTH} characters"
            )
        session_check = _float("SIAO_SESSION_CHECK_SECONDS", cls.session_check_seconds)
        if not 0 < session_check <= MAX_SESSION_CHECK_SECONDS:
            raise SystemExit(
                f"SIAO_SESSION_CHECK_SECONDS must be above 0 and at most "
                f"{MAX_SESSION_CHECK_SECONDS:g}, got {session_check:g}"
            )
        return cls(
            env=env,
            database_url=Secret(url) if url else None,
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
            jwt_issuer=os.environ.get("SIAO_JWT_ISSUER", cls.jwt_issuer),
            jwt_audience=os.environ.get("SIAO_JWT_AUDIENCE", cls.jwt_audience),
            jwks_url=os.environ.get("SIAO_JWKS_URL") or None,
            max_depth=_int("SIAO_MAX_DEPTH", cls.max_depth),
            max_aliases=_int("SIAO_MAX_ALIASES", cls.max_aliases),
            max_tokens=_int("SIAO_MAX_TOKENS", cls.max_tokens),
            max_page_size=_int("SIAO_MAX_PAGE_SIZE", cls.max_page_size),
            max_upload_bytes=_int("SIAO_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            link_ttl_seconds=_int("SIAO_LINK_TTL_SECONDS", cls.link_ttl_seconds),
            search_concurrency=_int("SIAO_SEARCH_CONCURRENCY", cls.search_concurrency),
            introspection=introspection,
            vital_secret=Secret(vital_secret) if vital_secret else None,
            session_check_seconds=session_check,
            max_body_bytes=_int("SIAO_MAX_BODY_BYTES", cls.max_body_bytes),
            max_json_depth=_int("SIAO_MAX_JSON_DEPTH", cls.max_json_depth),
            max_nodes=_int("SIAO_MAX_NODES", cls.max_nodes),
            db_connect_timeout=_float("SIAO_DB_CONNECT_TIMEOUT", cls.db_connect_timeout),
            db_pool_timeout=_float("SIAO_DB_POOL_TIMEOUT", cls.db_pool_timeout),
            db_statement_timeout=_float("SIAO_DB_STATEMENT_TIMEOUT", cls.db_statement_timeout),
            retry_after_seconds=_int("SIAO_RETRY_AFTER_SECONDS", cls.retry_after_seconds),
        )
