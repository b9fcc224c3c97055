"""Prefetching a whole level of the answer before graphql-core walks it.

graphql-core creates a task for every field that returns an awaitable: with one
dataloader future per object, a 50-household list costs thousands of them. Root
resolvers call `prefetch(...)` with the rows they return; it walks the query's selection
(aliases and fragments included) and, level by level, asks each relation's loader for
all the objects of that level at once. The loaders then hold every answer, so the field
resolvers (`now_or_later`) return plain values and stay synchronous. The SQL is the same
as without prefetching: one statement per (relation, level), scoped by the viewer.

A relation that is not registered here still works: its resolver just returns a future.
`RELATIONS` follows the schema by hand; `tests/test_code_health.py` checks each key
against the exported schema (the field exists, the child is its type, a connection has
its count) and that no field below a prefetching root waits per object unless it says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from models import EvaluationKind
from resolvers import summary
from resolvers.arguments import enum_arg
from resolvers.audit import audit_filter
from resolvers.context import Context
from resolvers.household import current
from resolvers.loader_base import CountKey, Page, PageKey
from resolvers.note import note_filter
from resolvers.pagination import DEFAULT_PAGE, check_first

Rows = list[Row[Any]]
Fetch = Callable[[Context, Rows, dict[str, Any]], Awaitable[Rows]]
Count = Callable[[Context, Rows, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Relation:
    child: str  # GraphQL type of the rows it leads to
    fetch: Fetch  # loads the relation for all rows of a level; returns the child rows
    count: Count | None = None  # connections only


def _flat(results: Iterable[Any]) -> Rows:
    out: Rows = []
    for item in results:
        if item is None:
            continue
        if isinstance(item, list):
            out.extend(item)
        elif isinstance(item, Page):
            out.extend(item.rows)
        else:
            out.append(item)
    return out


def _by(loader_name: str, key: Callable[[Row[Any], dict[str, Any]], Any]) -> Fetch:
    async def fetch(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
        loader = getattr(ctx.loaders, loader_name)
        keys = [k for k in (key(r, args) for r in rows) if k is not None]
        return _flat(await loader.load_many(keys))

    return fetch


def _first(args: dict[str, Any]) -> int:
    # Literal arguments arrive as source text ("5"), variables as values (5); a variable
    # left null, or the literal `null`, means the default, as for the field itself.
    first = args.get("first")
    return DEFAULT_PAGE if first is None or first == "null" else int(first)


def _no_filter(args: dict[str, Any]) -> Hashable:
    return None


def _page(loader_name: str, filter_of: Callable[[dict[str, Any]], Hashable] = _no_filter) -> Fetch:
    """A connection's page for every row of a level: the same `PageKey` as the field's
    resolver builds (`resolvers.household.child_page`), so that it finds it loaded."""

    async def fetch(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
        loader = getattr(ctx.loaders, loader_name)
        first = check_first(_first(args), ctx.settings)
        after = loader.decode_cursor(args.get("after"))
        narrowed = filter_of(args)
        keys = [PageKey(r.id, first, after, narrowed) for r in rows]
        return _flat(await loader.load_many(keys))

    return fetch


def _count(loader_name: str, filter_of: Callable[[dict[str, Any]], Hashable] = _no_filter) -> Count:
    async def count(ctx: Context, rows: Rows, args: dict[str, Any]) -> Any:
        narrowed = filter_of(args)
        keys = [CountKey(r.id, narrowed) for r in rows]
        return await getattr(ctx.loaders, loader_name).load_many(keys)

    return count


def _evaluation_kind(args: dict[str, Any]) -> Hashable:
    return enum_arg(EvaluationKind, args.get("kind"))


def _audit_filter(args: dict[str, Any]) -> Hashable:
    return audit_filter(args.get("filter"))


def _note_filter(args: dict[str, Any]) -> Hashable:
    return note_filter(args.get("filter"))


async def _same_rows(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
    """A nested object of the same row (the household's summary)."""
    return rows


async def _reference_person(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
    lists = await ctx.loaders.memberships_by_household.load_many([r.id for r in rows])
    found = [summary.reference_membership(current(m)) for m in lists]
    people = [(m.person_id, m.household_id) for m in found if m is not None]
    return _flat(await ctx.loaders.person_in_household.load_many(people))


async def _open_demands(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
    await ctx.loaders.demand_counts.load_many([summary.open_key(r.id) for r in rows])
    return []


async def _pinned_notes(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
    return _flat(await ctx.loaders.note_pages.load_many([summary.pinned_key(r.id) for r in rows]))


async def _current_household(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
    memberships = _flat(await ctx.loaders.memberships_by_person.load_many([r.id for r in rows]))
    current = [m.household_id for m in memberships if m.validity.upper is None]
    return _flat(await ctx.loaders.household_by_id.load_many(current))


async def _last_activity(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
    """Each household's last change the viewer may see, when it is not the column's."""
    from resolvers.record_loaders import unseen_entity_types

    if unseen_entity_types(ctx.authenticated):
        await ctx.loaders.last_activity.load_many([r.id for r in rows])
    return []


async def _accompanied_households(ctx: Context, rows: Rows, args: dict[str, Any]) -> Rows:
    """The page of households each organisation of a level accompanies now (the same key
    as `resolvers.accompaniment.accompanied_households` builds)."""
    from resolvers.accompaniment import page_key

    keys = [page_key(ctx, r.id, _first(args), args.get("after")) for r in rows]
    pages = await ctx.loaders.accompanied_household_pages.load_many(keys)
    return [row for page_rows, _ in pages for row in page_rows]


async def _accompanied_counts(ctx: Context, rows: Rows, args: dict[str, Any]) -> Any:
    return await ctx.loaders.accompanied_household_counts.load_many([r.id for r in rows])


RELATIONS: dict[tuple[str, str], Relation] = {
    ("Household", "lastActivityAt"): Relation("DateTime", _last_activity),
    ("HouseholdSummary", "lastSavedAt"): Relation("DateTime", _last_activity),
    ("Household", "members"): Relation(
        "Membership", _by("memberships_by_household", lambda r, a: r.id)
    ),
    ("Household", "memberHistory"): Relation(
        "Membership", _by("memberships_by_household", lambda r, a: r.id)
    ),
    ("Household", "territory"): Relation(
        "Territory", _by("territory_by_code", lambda r, a: r.territory_code)
    ),
    ("Household", "demands"): Relation("Demand", _page("demand_pages"), _count("demand_counts")),
    ("Household", "auditEvents"): Relation(
        "AuditEvent", _page("audit_pages", _audit_filter), _count("audit_counts", _audit_filter)
    ),
    ("Household", "accessLog"): Relation(
        "AccessEvent", _page("access_pages"), _count("access_counts")
    ),
    ("Household", "evaluations"): Relation(
        "Evaluation",
        _page("evaluation_pages", _evaluation_kind),
        _count("evaluation_counts", _evaluation_kind),
    ),
    ("Household", "latestEvaluation"): Relation(
        "Evaluation", _by("latest_evaluation", lambda r, a: (r.id, _evaluation_kind(a)))
    ),
    ("Evaluation", "author"): Relation("User", _by("user_by_id", lambda r, a: r.created_by)),
    ("Evaluation", "household"): Relation(
        "Household", _by("household_by_id", lambda r, a: r.household_id)
    ),
    ("Household", "notes"): Relation(
        "Note", _page("note_pages", _note_filter), _count("note_counts", _note_filter)
    ),
    ("Note", "author"): Relation("User", _by("user_by_id", lambda r, a: r.created_by)),
    ("Note", "concernedPersons"): Relation("Person", _by("concerned_by_note", lambda r, a: r.id)),
    ("Note", "household"): Relation(
        "Household", _by("household_by_id", lambda r, a: r.household_id)
    ),
    ("Household", "summary"): Relation("HouseholdSummary", _same_rows),
    ("HouseholdSummary", "memberCount"): Relation(
        "Membership", _by("memberships_by_household", lambda r, a: r.id)
    ),
    ("HouseholdSummary", "referencePerson"): Relation("Person", _reference_person),
    ("HouseholdSummary", "openDemands"): Relation("Demand", _open_demands),
    ("HouseholdSummary", "latestFlashLevel"): Relation(
        "Evaluation", _by("latest_evaluation", lambda r, a: (r.id, EvaluationKind.FLASH))
    ),
    ("HouseholdSummary", "pinnedNotes"): Relation("Note", _pinned_notes),
    ("Membership", "person"): Relation(
        "Person", _by("person_in_household", lambda r, a: (r.person_id, r.household_id))
    ),
    ("Membership", "household"): Relation(
        "Household", _by("household_by_id", lambda r, a: r.household_id)
    ),
    ("Person", "memberships"): Relation(
        "Membership", _by("memberships_by_person", lambda r, a: r.id)
    ),
    ("Person", "currentHousehold"): Relation("Household", _current_household),
    ("Person", "duplicateCandidates"): Relation(
        "PersonSearchResult", _by("duplicates_by_person", lambda r, a: r.id)
    ),
    ("Demand", "concernedPersons"): Relation("Person", _by("concerned_persons", lambda r, a: r.id)),
    ("Demand", "household"): Relation(
        "Household", _by("household_by_id", lambda r, a: r.household_id)
    ),
    ("Demand", "orientations"): Relation(
        "Orientation", _by("orientations_by_demand", lambda r, a: r.id)
    ),
    ("Demand", "stays"): Relation("Stay", _by("stays_by_demand", lambda r, a: r.id)),
    ("Demand", "vulnerabilityLevel"): Relation(
        "Evaluation", _by("latest_evaluation", lambda r, a: (r.household_id, EvaluationKind.FLASH))
    ),
    ("Demand", "prioritySuggestedBy"): Relation(
        "User", _by("user_by_id", lambda r, a: r.priority_suggested_by)
    ),
    ("Orientation", "place"): Relation("Place", _by("place_by_id", lambda r, a: r.place_id)),
    ("Orientation", "demand"): Relation("Demand", _by("demand_by_id", lambda r, a: r.demand_id)),
    ("Stay", "place"): Relation("Place", _by("place_by_id", lambda r, a: r.place_id)),
    ("Structure", "places"): Relation("Place", _by("places_by_structure", lambda r, a: r.id)),
    ("Place", "structure"): Relation(
        "Structure", _by("structure_by_id", lambda r, a: r.organisation_id)
    ),
    ("AuditEvent", "actor"): Relation("User", _by("user_by_id", lambda r, a: r.actor_id)),
    ("Household", "accompaniments"): Relation(
        "Accompaniment", _by("accompaniments_by_household", lambda r, a: r.id)
    ),
    ("Accompaniment", "organisation"): Relation(
        "Organisation", _by("organisation_by_id", lambda r, a: r.organisation_id)
    ),
    ("Accompaniment", "referent"): Relation("User", _by("user_by_id", lambda r, a: r.user_id)),
    ("Accompaniment", "startedBy"): Relation("User", _by("user_by_id", lambda r, a: r.started_by)),
    ("Accompaniment", "endedBy"): Relation("User", _by("user_by_id", lambda r, a: r.ended_by)),
    ("Accompaniment", "household"): Relation(
        "Household", _by("household_by_id", lambda r, a: r.household_id)
    ),
    ("Organisation", "accompaniedHouseholds"): Relation(
        "Household", _accompanied_households, _accompanied_counts
    ),
    ("User", "organisation"): Relation(
        "Organisation", _by("organisation_by_id", lambda r, a: r.organisation_id)
    ),
}


def fields_of(selections: Iterable[Selection], type_name: str) -> Iterator[SelectedField]:
    """The fields selected on `type_name`, fragments (named or inline) flattened."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, InlineFragment | FragmentSpread) and (
            selection.type_condition in (None, type_name, "Node")
        ):
            yield from fields_of(selection.selections, type_name)


def _connection_nodes(selections: Iterable[Selection], type_name: str) -> Iterator[Selection]:
    for edges in fields_of(selections, f"{type_name}Connection"):
        if edges.name == "edges":
            for node in fields_of(edges.selections, f"{type_name}Edge"):
                if node.name == "node":
                    yield from node.selections


async def prefetch(
    ctx: Context, selections: Iterable[Selection], type_name: str, rows: Rows
) -> None:
    """Load every registered relation selected below `rows` (of GraphQL type `type_name`)."""
    if not rows:
        return
    jobs = [
        _follow(ctx, relation, field, rows)
        for field in fields_of(selections, type_name)
        if (relation := RELATIONS.get((type_name, field.name))) is not None
    ]
    if jobs:
        await asyncio.gather(*jobs)


async def prefetch_connection(
    ctx: Context, selections: Iterable[Selection], type_name: str, rows: Rows
) -> None:
    """Like `prefetch`, for rows shown as the nodes of a connection of `type_name`."""
    await prefetch(ctx, list(_connection_nodes(selections, type_name)), type_name, rows)


async def _follow(ctx: Context, relation: Relation, field: SelectedField, rows: Rows) -> None:
    children = await relation.fetch(ctx, rows, field.arguments)
    if relation.count is None:
        await prefetch(ctx, field.selections, relation.child, children)
        return
    jobs: list[Awaitable[Any]] = [
        prefetch_connection(ctx, field.selections, relation.child, children)
    ]
    if any(
        f.name == "totalCount" for f in fields_of(field.selections, f"{relation.child}Connection")
    ):
        jobs.append(relation.count(ctx, rows, field.arguments))
    await asyncio.gather(*jobs)
