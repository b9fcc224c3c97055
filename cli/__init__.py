"""The `siao` command line, one module per command group:

- `cli.serve`: `siao serve`, `siao migrate` (and `app_factory`, uvicorn's for workers);
- `cli.token`: `siao token` (dev tokens, checked against the server's users and folder);
- `cli.generated`: `siao schema export`, `siao rights-matrix`, `siao lifecycle`, the files
  generated from the code (printed, `--write`, or `--check`);
- `cli.bench`: `siao bench seed|run` and `siao fuzz`, which run from a clone only.

Each module adds its parsers with `register(subparsers)`; a parser's `run` default is the
function that runs it, given the parsed arguments, the ones passed through untouched (for
`--passes-through` commands) and the settings of the environment."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from auth.settings import Settings
from cli.bench import register as bench_commands
from cli.generated import register as generated_commands
from cli.serve import app_factory
from cli.serve import register as serve_commands
from cli.token import register as token_commands
from schema.middleware import configure_logging

__all__ = ["app_factory", "main"]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="siao", description="SI SIAO household graph API.")
    sub = root.add_subparsers(dest="command", required=True)
    for register in (serve_commands, token_commands, generated_commands, bench_commands):
        register(sub)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    root = parser()
    args, extra = root.parse_known_args(argv)
    if extra and not getattr(args, "passes_through", False):
        root.error(f"unrecognized arguments: {' '.join(extra)}")
    configure_logging()
    code: int = args.run(args, extra, Settings.from_env())
    return code
