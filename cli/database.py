"""Which database a command works on: the one `siao serve` uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from auth.settings import Settings


def resolve_database(settings: Settings) -> str:
    """DATABASE_URL if set, else the embedded server under the data folder (started now,
    stopped when this process exits: normally, on an error, or on SIGTERM or SIGINT, which
    from now on unwind the process rather than end it on the spot)."""
    if settings.database_url is not None:
        return str(settings.database_url)
    from models.embedded import exit_on_stop_signals, start_embedded

    exit_on_stop_signals()
    return start_embedded(settings.data_dir).url


@contextmanager
def existing_database(settings: Settings) -> Iterator[str | None]:
    """The database `siao serve` uses, if there is one yet: DATABASE_URL, or the embedded
    server of the data folder when its cluster exists (adopted if a `siao serve` runs it,
    else started and stopped again at the end). None: the data folder has no database."""
    if settings.database_url is not None:
        yield str(settings.database_url)
        return
    if not (settings.data_dir / "pgdata" / "PG_VERSION").is_file():
        yield None
        return
    from models.embedded import exit_on_stop_signals, start_embedded

    exit_on_stop_signals()
    server = start_embedded(settings.data_dir)
    try:
        yield server.url
    finally:
        server.stop()
