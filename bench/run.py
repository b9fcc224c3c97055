"""`siao bench run`: the scenarios of issue #6 against the real server (being built: for
now it forwards to bench.throughput's work-list load)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from bench.throughput import main as throughput

    return throughput(argv)
