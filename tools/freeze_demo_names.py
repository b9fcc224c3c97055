"""Records the names a seeded Faker gives the demo into `models/demo_names.json`, which
the demo replays (`models.demo_names`): the service then needs no Faker.

Run it after a change of the demo's story that draws more names, or in another order (the
demo then fails with a message naming this tool):

    python tools/freeze_demo_names.py           # rewrite models/demo_names.json
    python tools/freeze_demo_names.py --check   # exit 1 if the file is not what it records

It needs Faker (`pip install -e ".[dev]"`). Another Faker version may draw other names: the
demo then changes, and tests that name demo persons may need updating.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository's packages first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from importlib.metadata import version

from faker import Faker

from models.demo import SEED
from models.demo_builder import DemoBuilder
from models.demo_names import NAMES_PATH, Call, read_calls, render_calls

LOCALE = "fr_FR"


class RecordingFaker:
    """A `NameSource` that asks a seeded Faker and keeps each call and its answer."""

    def __init__(self) -> None:
        self.faker = Faker(LOCALE)
        self.faker.seed_instance(SEED)
        self.calls: list[Call] = []

    def _record(self, method: str) -> str:
        value = str(getattr(self.faker, method)())
        self.calls.append((method, value))
        return value

    def last_name(self) -> str:
        return self._record("last_name")

    def first_name_female(self) -> str:
        return self._record("first_name_female")

    def first_name_male(self) -> str:
        return self._record("first_name_male")


def recorded_calls() -> list[Call]:
    """The calls of the demo as the builder tells it now."""
    recorder = RecordingFaker()
    DemoBuilder(names=recorder).build()
    return recorder.calls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    calls, faker_version = recorded_calls(), version("faker")
    if args.check:
        if not NAMES_PATH.exists() or read_calls(NAMES_PATH) != calls:
            print(f"{NAMES_PATH} is not what Faker {faker_version} draws: run without --check")
            return 1
        print(f"{NAMES_PATH} is up to date")
        return 0
    text = render_calls(calls, seed=SEED, locale=LOCALE, faker_version=faker_version)
    NAMES_PATH.write_text(text, encoding="utf-8")
    print(f"Wrote {NAMES_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
