"""The files generated from the code, committed so that they read without running it:
`siao schema export` (schema/schema.graphql), `siao rights-matrix` (docs/rights-matrix.md)
and `siao lifecycle` (docs/demand-lifecycle.md). Each prints its text, or writes it
(`--write`; `schema export` always writes), or says whether the committed file is
current (`--check`: exit 1 if not). Tests fail on a stale one as well."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from auth.settings import Settings
from models.lifecycle import DOC_PATH as LIFECYCLE_PATH
from models.lifecycle import document
from schema import SDL_PATH, export_sdl
from schema.rights_matrix import DOC_PATH as MATRIX_PATH
from schema.rights_matrix import render


@dataclass(frozen=True)
class Generated:
    command: str  # how to regenerate it
    path: Path
    render: Callable[[Settings], str]


GENERATED = {
    "schema": Generated("siao schema export", SDL_PATH, export_sdl),
    "rights-matrix": Generated("siao rights-matrix --write", MATRIX_PATH, lambda _: render()),
    "lifecycle": Generated("siao lifecycle --write", LIFECYCLE_PATH, lambda _: document()),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = sub.add_parser("schema", help="schema tools")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_sub.add_parser("export", help="write the SDL to schema/schema.graphql")
    _options(export, "schema", writes=True)
    matrix = sub.add_parser(
        "rights-matrix", help="print the rights matrix generated from the schema and the policy"
    )
    _options(matrix, "rights-matrix", writes=False)
    lifecycle = sub.add_parser("lifecycle", help="print the demand lifecycle diagram (Mermaid)")
    _options(lifecycle, "lifecycle", writes=False)


def _options(parser: argparse.ArgumentParser, name: str, *, writes: bool) -> None:
    how = parser.add_mutually_exclusive_group()
    if not writes:
        how.add_argument("--write", action="store_true", help="write the generated file")
    how.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file is not current"
    )
    parser.set_defaults(run=run, generated=name, write=writes)


def run(args: argparse.Namespace, extra: list[str], settings: Settings) -> int:
    return emit(GENERATED[args.generated], settings, write=args.write, check=args.check)


def emit(generated: Generated, settings: Settings, *, write: bool, check: bool) -> int:
    """Print, write or check one generated file."""
    text = generated.render(settings)
    if check:
        current = generated.path.read_text() if generated.path.is_file() else None
        if current != text:
            print(f"{generated.path} is stale: run `{generated.command}`", file=sys.stderr)
            return 1
        print(f"{generated.path} is current")
        return 0
    if write:
        generated.path.parent.mkdir(exist_ok=True)
        generated.path.write_text(text)
        print(f"Wrote {generated.path}")
        return 0
    print(text, end="")
    return 0
