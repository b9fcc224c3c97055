"""The names the demo once drew from Faker (`fr_FR`, seeded), replayed from
`models/demo_names.json`, so that the service serves `--demo` without Faker and the demo
stays the same whatever Faker's version (many tests rely on its exact names).

`tools/freeze_demo_names.py` ran the demo builder with a seeded Faker and recorded each
call, in order: which method (`last_name`, `first_name_female`, `first_name_male`) and
what it returned. `FrozenNames` answers the same calls with the same values, and fails
loudly when the builder asks for more names, or in another order, than were recorded
(after a change of the demo's story): then run the tool again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

NAMES_PATH = Path(__file__).with_name("demo_names.json")
FREEZE_COMMAND = "python tools/freeze_demo_names.py (from a clone, with the dev extra)"
METHODS = ("last_name", "first_name_female", "first_name_male")


class NameSource(Protocol):
    """What the demo builder asks of Faker."""

    def last_name(self) -> str: ...

    def first_name_female(self) -> str: ...

    def first_name_male(self) -> str: ...


class FrozenNamesExhausted(RuntimeError):
    """The builder asked for a name that was not recorded (more names, or another order)."""


Call = tuple[str, str]  # (method, value)


def read_calls(path: Path = NAMES_PATH) -> list[Call]:
    calls = json.loads(path.read_text(encoding="utf-8"))["calls"]
    return [(str(method), str(value)) for method, value in calls]


def render_calls(calls: list[Call], *, seed: int, locale: str, faker_version: str) -> str:
    """The file's text: one call per line, so that a change reads well in a diff."""
    head = {
        "about": "Names Faker drew for the demo, replayed by models.demo_names. "
        f"Regenerate: {FREEZE_COMMAND}.",
        "seed": seed,
        "locale": locale,
        "faker": faker_version,
    }
    lines = [json.dumps([method, value], ensure_ascii=False) for method, value in calls]
    header = json.dumps(head, ensure_ascii=False, indent=2)[:-2]  # without the closing brace
    return header + ',\n  "calls": [\n    ' + ",\n    ".join(lines) + "\n  ]\n}\n"


class FrozenNames:
    """A `NameSource` that replays recorded calls, in order."""

    def __init__(self, calls: list[Call]) -> None:
        self._calls = calls
        self._next = 0

    @classmethod
    def load(cls, path: Path = NAMES_PATH) -> FrozenNames:
        return cls(read_calls(path))

    @property
    def used(self) -> int:
        """How many recorded names were replayed so far."""
        return self._next

    def _draw(self, method: str) -> str:
        index = self._next
        if index >= len(self._calls):
            raise FrozenNamesExhausted(
                f"the demo asks for name #{index + 1} ({method}), but {NAMES_PATH.name} "
                f"holds {len(self._calls)}: the demo's story changed; run {FREEZE_COMMAND}"
            )
        recorded, value = self._calls[index]
        if recorded != method:
            raise FrozenNamesExhausted(
                f"the demo asks for name #{index + 1} as {method}, but {NAMES_PATH.name} "
                f"recorded {recorded} there: the demo's story changed; run {FREEZE_COMMAND}"
            )
        self._next += 1
        return value

    def last_name(self) -> str:
        return self._draw("last_name")

    def first_name_female(self) -> str:
        return self._draw("first_name_female")

    def first_name_male(self) -> str:
        return self._draw("first_name_male")
