"""The generator's cheap draws from a seeded `random.Random` (its bound `random`)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence


class Picker:
    """Draws one of `names`: with the given `weights`, or else with Zipf-like weights
    (rank ** -skew, the first names the most common; skew 0: uniform)."""

    def __init__(
        self, names: Sequence[str], skew: float = 0.0, weights: Sequence[float] | None = None
    ) -> None:
        self.names = tuple(names)
        if weights is None:
            weights = [(rank + 1) ** -skew for rank in range(len(self.names))]
        total, cum = 0.0, []
        for w in weights:
            total += w
            cum.append(total)
        self.cum, self.total, self.last = cum, total, len(self.names) - 1

    def __call__(self, rnd: Callable[[], float]) -> str:
        return self.names[bisect_right(self.cum, rnd() * self.total, 0, self.last)]


def _randint(rnd: Callable[[], float], low: int, high: int) -> int:
    """`random.randint`, a few times cheaper."""
    return low + int(rnd() * (high - low + 1))
