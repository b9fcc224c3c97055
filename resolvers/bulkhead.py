"""The process's bulkhead between the two vital functions at the evening rush: person
searches, many and costly, and demand creations, few and urgent.

- Searches run their statements in one of `slots` search slots (`Settings.
  search_concurrency`): with every slot taken, a search waits for its turn without using
  the CPU, and requests that are not searches go through.
- A demand being created goes first: while one is in flight in this process, a search
  that has not started yet waits for it to finish (at most `vital_wait` seconds, so that
  a stream of creations cannot starve the operators' searches); a search already running
  carries on.

One instance per worker process (`app.state.bulkhead`), shared by its requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

# How long a search waits for the demand creations in flight before it goes anyway. A
# creation takes 15-30 ms alone, more under load.
VITAL_WAIT: Final = 0.25


class Bulkhead:
    def __init__(self, slots: int, vital_wait: float = VITAL_WAIT) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.vital_wait = vital_wait
        self.vital_in_flight = 0
        self._no_vital = asyncio.Event()
        self._no_vital.set()

    @contextlib.asynccontextmanager
    async def search(self) -> AsyncIterator[None]:
        """Held while a search runs its statements."""
        if self.vital_in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_vital.wait(), self.vital_wait)
        async with self.slots:
            yield

    @contextlib.asynccontextmanager
    async def vital(self) -> AsyncIterator[None]:
        """Held while a demand is being created: searches not started yet wait."""
        self.vital_in_flight += 1
        self._no_vital.clear()
        try:
            yield
        finally:
            self.vital_in_flight -= 1
            if not self.vital_in_flight:
                self._no_vital.set()
