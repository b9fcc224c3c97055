"""When the bench data happens (`BASE` to `END`, Paris time, all in the past), and its
instants in the form the generator builds them: whole seconds since 1970, sent to asyncpg
as PostgreSQL's own binary form (`_fast_codecs`), as encoding a `datetime` costs more than
building the row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Final

import asyncpg

from bench.seed.draw import _randint

PARIS: Final = timezone(timedelta(hours=1))
BASE: Final = datetime(2022, 1, 3, tzinfo=PARIS)  # the first instant of bench data
END: Final = datetime(2026, 10, 1, tzinfo=PARIS)  # the last one; all in the past


def _office_time(rnd: Callable[[], float], base_ts: int, lower: int, upper: int) -> int | None:
    """A time in office hours (9:00 to 18:00, Paris) on one of the days after `lower`, before
    `upper`; None when there is none (or the draw fell past `upper`)."""
    days = (upper - lower) // 86400
    if days < 1:
        return None
    day = (lower - base_ts) // 86400 + 1 + int(rnd() * days)
    at = base_ts + day * 86400 + _randint(rnd, 9 * 60, 18 * 60) * 60
    return at if at < upper else None


def _iso(unix: int) -> str:
    """An instant as the change log writes it (ISO 8601), in Paris time."""
    return datetime.fromtimestamp(unix, PARIS).isoformat()


def _pg_ts(unix: int) -> tuple[int]:
    """A timestamptz for the `_fast_codecs`: microseconds since 2000-01-01 UTC."""
    return ((unix - 946_684_800) * 1_000_000,)


def _pg_day(unix: int) -> int:
    """The date in Paris (UTC+1, as the demo data) of a Unix time, in days since 2000-01-01."""
    return (unix + 3600) // 86400 - 10_957


async def _fast_codecs(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """From now on this connection takes timestamptz and date values in PostgreSQL's
    binary form: `(microseconds since 2000-01-01 UTC,)` and `(days since 2000-01-01,)`
    (also inside ranges). `COPY` then encodes a row several times faster."""
    for typename in ("timestamptz", "date"):
        await conn.set_type_codec(
            typename, schema="pg_catalog", encoder=tuple, decoder=tuple, format="tuple"
        )
