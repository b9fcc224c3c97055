"""The load a benchmark sends: keep-alive request loops (streams) with a warm-up and a
measured window, each request timed and its answer checked, and the CPU at both ends of
the window. Used by bench.throughput and bench.run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bench.machine import CpuSnapshot, cpu_snapshot
from bench.serve import RunningServer

REQUEST_TIMEOUT = 30.0
STAGGER = 0.05  # seconds between the first requests of two loops (within the warm-up)


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when it ended (perf_counter), how long it took, and what came back."""

    ended: float
    latency: float
    status: int  # HTTP status; 0 when the request itself failed (connection, timeout)
    size: int
    error: str | None
    sql_statements: int | None
    sql_ms: float | None
    label: str = ""  # what was sent (a document's name)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One response: its error (None if it is a success), its `data`, and the SQL cost
    that the server reports in dev (`extensions.sql`)."""

    error: str | None
    data: Any
    sql_statements: int | None
    sql_ms: float | None


Check = Callable[[Any], str | None]  # a response's `data` -> what is wrong with it, or None
Request = tuple[bytes, Check | None, str]  # a JSON body, the check of its answer, a label


def parse_response(status: int, content: bytes) -> Parsed:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return Parsed(f"HTTP {status}: not JSON", None, None, None)
    if not isinstance(body, dict):
        return Parsed(f"HTTP {status}: unexpected body", None, None, None)
    sql = (body.get("extensions") or {}).get("sql") or {}
    statements = sql.get("statements")
    ms = sql.get("ms")
    error: str | None = None
    if status != 200:
        error = f"HTTP {status}"
    if body.get("errors"):
        first_error = body["errors"][0]
        code = (first_error.get("extensions") or {}).get("code")
        error = f"{error or 'GraphQL'}: {code}: {first_error.get('message')}"
    elif body.get("data") is None:
        error = f"{error or 'GraphQL'}: no data"
    return Parsed(
        error,
        body.get("data"),
        statements if isinstance(statements, int) else None,
        float(ms) if isinstance(ms, int | float) else None,
    )


async def send(client: httpx.AsyncClient, request: Request) -> Sample:
    body, check, label = request
    started = time.perf_counter()
    try:
        response = await client.post("/graphql", content=body)
        content = response.content
    except httpx.HTTPError as exc:
        ended = time.perf_counter()
        return Sample(ended, ended - started, 0, 0, type(exc).__name__, None, None, label)
    ended = time.perf_counter()
    parsed = parse_response(response.status_code, content)
    error = parsed.error
    if error is None and check is not None:
        error = check(parsed.data)
    return Sample(
        ended,
        ended - started,
        response.status_code,
        len(content),
        error,
        parsed.sql_statements,
        parsed.sql_ms,
        label,
    )


def client(base: str, token: str, concurrency: int) -> httpx.AsyncClient:
    """Keep-alive connections, one per loop, authenticated as the token's viewer."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT)


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of traffic: C loops, each sending `next_request()` as soon as its previous
    answer comes back (or, with `think` seconds, after a pause drawn around that mean: an
    operator reading the answer), over keep-alive connections of its own."""

    name: str
    concurrency: int
    next_request: Callable[[], Request]
    think: float = 0.0

    def pauses(self, loop: int) -> Callable[[], float]:
        """The pauses of loop number `loop` after each answer: none without `think`, else
        exponentially distributed around it (arrivals that do not fall in step), the same
        draws for the same loop from one run to the next."""
        if self.think <= 0:
            return lambda: 0.0
        draw = random.Random(f"think:{self.name}:{loop}")
        return lambda: draw.expovariate(1 / self.think)


@dataclass(frozen=True, slots=True)
class Window:
    """What a measured window saw: the samples of each stream that ended inside it, the
    CPU at both ends, its length, and what the `at_start`/`at_end` hooks returned."""

    samples: dict[str, list[Sample]]
    cpu_from: CpuSnapshot
    cpu_to: CpuSnapshot
    seconds: float
    started: Any = None
    ended: Any = None


async def play(
    running: RunningServer,
    token: str,
    streams: Sequence[Stream],
    warmup: float,
    seconds: float,
    *,
    at_start: Callable[[], Awaitable[Any]] | None = None,
    at_end: Callable[[], Awaitable[Any]] | None = None,
) -> Window:
    """Every stream at once: `warmup` seconds not counted, then `seconds` measured. The
    loops start `STAGGER` apart (within the warm-up); only requests that end inside the
    window count. The hooks run at the window's two ends (e.g. database counters)."""
    measure_from = time.perf_counter() + warmup
    measure_to = measure_from + seconds
    loops = sum(s.concurrency for s in streams)
    stagger = min(STAGGER, warmup / 2 / loops) if loops else 0.0
    clients = [client(running.base, token, s.concurrency) for s in streams]

    async def loop(http: httpx.AsyncClient, stream: Stream, index: int) -> list[Sample]:
        # connections open one after the other during the warm-up, not as one burst
        # that a single uvicorn worker would accept whole
        await asyncio.sleep(index * stagger)
        pause = stream.pauses(index)
        samples: list[Sample] = []
        while time.perf_counter() < measure_to:
            samples.append(await send(http, stream.next_request()))
            if wait := min(pause(), measure_to - time.perf_counter()):
                await asyncio.sleep(max(0.0, wait))
        return samples

    async def snapshots() -> tuple[CpuSnapshot, CpuSnapshot, float, Any, Any]:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        started_hook = await at_start() if at_start is not None else None
        started, first = time.perf_counter(), cpu_snapshot(running)
        await asyncio.sleep(max(0.0, measure_to - time.perf_counter()))
        last, length = cpu_snapshot(running), time.perf_counter() - started
        ended_hook = await at_end() if at_end is not None else None
        return first, last, length, started_hook, ended_hook

    try:
        watch = asyncio.create_task(snapshots())
        index = 0
        tasks: list[tuple[str, asyncio.Task[list[Sample]]]] = []
        for http, stream in zip(clients, streams, strict=True):
            for _ in range(stream.concurrency):
                tasks.append((stream.name, asyncio.create_task(loop(http, stream, index))))
                index += 1
        await asyncio.gather(*(task for _, task in tasks))
        cpu_from, cpu_to, length, started_hook, ended_hook = await watch
    finally:
        for http in clients:
            await http.aclose()
    samples: dict[str, list[Sample]] = {s.name: [] for s in streams}
    for name, task in tasks:
        samples[name] += [s for s in task.result() if measure_from <= s.ended < measure_to]
    return Window(samples, cpu_from, cpu_to, length, started_hook, ended_hook)
