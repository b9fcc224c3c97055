"""What one `seed` call reports, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Checks = Literal["sql", "triggers"]
Ids = Literal["ordered", "random"]


@dataclass(frozen=True)
class SeedReport:
    """What one `seed` call inserted, and how fast."""

    rows: dict[str, int]  # rows inserted per table
    seconds: float  # from connecting to COMMIT
    persons_per_second: float
    checks: Checks  # who checked the invariants: the triggers, or set-based SQL
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    references: dict[str, tuple[str, str]] = field(default_factory=dict)  # first, last
    movers: int = 0  # persons who lived in another household before
    ids: Ids = "ordered"

    def summary(self) -> str:
        counts = ", ".join(f"{n:,} {table}" for table, n in self.rows.items() if n)
        phases = ", ".join(f"{name} {s:.1f}s" for name, s in self.phases.items())
        return (
            f"{counts} in {self.seconds:.1f}s: {self.persons_per_second:,.0f} persons/s "
            f"(invariants checked by {self.checks}; {phases})"
        )


class SeedError(RuntimeError):
    """The database cannot take the bench data (not migrated, references exhausted...)."""


class SeedCheckFailed(SeedError):
    """A set-based invariant check found offending rows: nothing was committed."""


def _status_count(status: str) -> int:
    """The row count of an `INSERT 0 n` / `COPY n` command status."""
    return int(status.rsplit(" ", 1)[-1])
