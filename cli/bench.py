"""`siao bench seed|run` and `siao fuzz`: measurements and the long fuzz run. The bench is
not installed with the service (`pip install .` leaves it out, with its dependencies):
these commands run from a clone, where `bench/` lies next to this package, with the
`bench` extra installed (`pip install -e ".[bench]"`, which `.[dev]` includes)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from auth.settings import Settings
from cli.database import resolve_database
from migrations import upgrade

CLONE = Path(__file__).resolve().parents[1]
FROM_A_CLONE = (
    'the bench runs from a clone of the repository, with `pip install -e ".[bench]"`: '
    "it is not part of the installed service"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser("bench", help="reproducible measurements (see bench/README.md)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    seed = bench_sub.add_parser(
        "seed", help="generate a realistic dataset with COPY (DATABASE_URL or embedded)"
    )
    seed.add_argument("--persons", type=int, required=True, help="how many persons")
    seed.add_argument("--seed", type=int, default=1, help="random seed (deterministic)")
    seed.set_defaults(run=run_seed)
    run = bench_sub.add_parser(
        "run",
        add_help=False,
        help="serve and load-test the scenarios: household record, work queue, person "
        "search, create demand (arguments: see python -m bench.run -h)",
    )
    run.set_defaults(run=run_scenarios, passes_through=True)
    fuzz = sub.add_parser(
        "fuzz",
        add_help=False,
        help="send schema-generated documents and malformed HTTP requests, as every role, "
        "and report any 5xx or INTERNAL_SERVER_ERROR (arguments: python -m bench.fuzz -h)",
    )
    fuzz.set_defaults(run=run_fuzz, passes_through=True)


@contextlib.contextmanager
def from_the_clone() -> Iterator[None]:
    """Makes `bench` importable from the clone this package belongs to (an editable install
    maps the installed packages only, and bench is not one of them); a dependency of the
    bench extra that is missing is said plainly."""
    if not (CLONE / "bench" / "__init__.py").is_file():
        raise SystemExit(f"siao: {FROM_A_CLONE}")
    if str(CLONE) not in sys.path:
        sys.path.insert(0, str(CLONE))
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] in ("bench", "cli"):
            raise
        raise SystemExit(
            f'siao: the bench needs {exc.name}: pip install -e ".[bench]" in the clone'
        ) from exc


def run_seed(args: argparse.Namespace, extra: list[str], settings: Settings) -> int:
    with from_the_clone():
        from bench.seed import seed, vacuum

    url = resolve_database(settings)
    upgrade(url)
    report = asyncio.run(seed(url, args.persons, seed=args.seed))
    print(report.summary(), flush=True)
    print(f"then VACUUM (ANALYZE) of these tables in {asyncio.run(vacuum(url)):.1f}s")
    return 0


def run_scenarios(args: argparse.Namespace, extra: list[str], settings: Settings) -> int:
    with from_the_clone():
        from bench.run import main

    return main(extra)


def run_fuzz(args: argparse.Namespace, extra: list[str], settings: Settings) -> int:
    with from_the_clone():
        from bench.fuzz.command import main

    return main(extra)
