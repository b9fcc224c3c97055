"""The household record ("fiche ménage"): one query per tab of the screen, each with the
header, answered without error and at a statement count that depends on the query only
(the counts the README shows)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench import scenarios
from models.demo import FIRST_75_REFERENCE
from tests.conftest import Run

Viewer = Callable[[str | None], Run]

# The documents are the bench's (`bench.scenarios.TABS`): one copy, measured there and
# checked here.
DOCUMENTS = scenarios.TABS

# tab -> (query, its statements: one per relation the query reaches, plus the access log's
# one INSERT, as the header's pinned notes are a logged category). A relation with nothing
# to load costs nothing (the notes' authors when the viewer wrote them all, whose row is
# already loaded): a household may cost less, never more.
STATEMENTS: dict[str, int] = {
    "Ménage": 10,
    "Identité": 7,
    "Situation du ménage": 11,
    "Évaluations": 11,
    "Notes": 11,
    "Suivi des modifications": 11,
}
TABS: dict[str, tuple[str, int]] = {tab: (DOCUMENTS[tab], n) for tab, n in STATEMENTS.items()}


@pytest.mark.parametrize("tab", list(TABS))
async def test_each_tab_is_one_query_at_a_fixed_cost(as_user: Viewer, tab: str) -> None:
    query, statements = TABS[tab]
    alpha = as_user("sw.alpha@demo.siao")  # accompanies these households: reads every tab
    costs = []
    for ref in (FIRST_75_REFERENCE, "7500000002", "7500000040"):
        answer = await alpha(query, ref=ref)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        assert answer.data["household"]["summary"]["memberCount"] > 0
        costs.append(answer.extensions["sql"]["statements"])
    print(f"{tab}: {costs} statements")  # noqa: T201
    assert max(costs) == statements
