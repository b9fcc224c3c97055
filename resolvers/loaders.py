"""Per-request dataloaders: one SQL statement per (loader, batch), filtered by the row scope
inside the SQL. Created fresh for every request on the Context (never module-level: a
shared cache would serve one viewer's rows to another).

`now_or_later(loader, key)` returns an already-loaded value synchronously and a future
otherwise, so field resolvers stay synchronous whenever a level was prefetched.

The loaders themselves live by domain (`resolvers.household_loaders`, `demand_loaders`,
`organisation_loaders`, `record_loaders`, and the attachment, situation and duplicates
modules), built from the kinds in `resolvers.loader_base`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from functools import cached_property
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from resolvers import record_loaders as record
from resolvers.demand_loaders import (
    ConcernedPersonsByDemandIdLoader,
    DemandByIdLoader,
    DemandCountByHouseholdLoader,
    DemandPagesByHouseholdLoader,
    OrientationByIdLoader,
    OrientationsByDemandLoader,
    StayByIdLoader,
    StaysByDemandLoader,
)
from resolvers.household_loaders import (
    HouseholdByIdLoader,
    HouseholdByReferenceLoader,
    MembershipByIdLoader,
    MembershipsByHouseholdIdLoader,
    MembershipsByPersonIdLoader,
    PersonByIdLoader,
    PersonInHouseholdLoader,
)
from resolvers.organisation_loaders import (
    OrganisationByIdLoader,
    PlaceByIdLoader,
    PlacesByStructureLoader,
    StructureByIdLoader,
    TerritoryByCodeLoader,
    UserByIdLoader,
)

if TYPE_CHECKING:
    from resolvers.accompaniment import (
        AccompaniedHouseholdCountsLoader,
        AccompaniedHouseholdPagesLoader,
        AccompanimentByIdLoader,
        AccompanimentsByHouseholdLoader,
    )
    from resolvers.attachment import AttachmentByIdLoader, AttachmentsByHouseholdLoader
    from resolvers.context import Context
    from resolvers.duplicates import DuplicatesByPersonLoader
    from resolvers.loader_base import SqlLoader
    from resolvers.situation import SectionsByHouseholdLoader, SectionsByPersonLoader

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# `Later[X]`: an X, or an awaitable of one (a dataloader's future, `then`'s coroutine).
# What a field resolver returns, graphql-core awaiting an awaitable result. At run time
# `Later[X]` is X itself: strawberry reads a resolver's return annotation as its GraphQL
# type, and must see X.
if TYPE_CHECKING:
    Later: TypeAlias = T | Awaitable[T]
else:

    class Later:
        def __class_getitem__(cls, item: Any) -> Any:
            return item


def now_or_later(loader: SqlLoader[K, V], key: K) -> Later[V]:
    """The loaded value if this key's future is already resolved, else the future."""
    future = loader.futures.get(key)
    if (
        future is not None
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    ):
        return future.result()
    return loader.load(key)


def then(value: Later[T], fn: Callable[[T], Later[U]]) -> Later[U]:
    """Apply `fn` now if `value` is already there, or once it is (keeps resolvers sync
    whenever a dataloader already holds the answer)."""
    if isawaitable(value):
        pending = value

        async def later() -> U:
            result = fn(await pending)
            return await result if isawaitable(result) else result

        return later()
    return fn(value)


class Loaders:
    """Every loader of one request, created on first use."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    @cached_property
    def household_by_id(self) -> HouseholdByIdLoader:
        return HouseholdByIdLoader(self._ctx)

    @cached_property
    def household_by_reference(self) -> HouseholdByReferenceLoader:
        return HouseholdByReferenceLoader(self._ctx)

    @cached_property
    def person_by_id(self) -> PersonByIdLoader:
        return PersonByIdLoader(self._ctx)

    @cached_property
    def person_in_household(self) -> PersonInHouseholdLoader:
        return PersonInHouseholdLoader(self._ctx)

    @cached_property
    def memberships_by_household(self) -> MembershipsByHouseholdIdLoader:
        return MembershipsByHouseholdIdLoader(self._ctx)

    @cached_property
    def memberships_by_person(self) -> MembershipsByPersonIdLoader:
        return MembershipsByPersonIdLoader(self._ctx)

    @cached_property
    def membership_by_id(self) -> MembershipByIdLoader:
        return MembershipByIdLoader(self._ctx)

    @cached_property
    def demand_by_id(self) -> DemandByIdLoader:
        return DemandByIdLoader(self._ctx)

    @cached_property
    def concerned_persons(self) -> ConcernedPersonsByDemandIdLoader:
        return ConcernedPersonsByDemandIdLoader(self._ctx)

    @cached_property
    def demand_pages(self) -> DemandPagesByHouseholdLoader:
        return DemandPagesByHouseholdLoader(self._ctx)

    @cached_property
    def demand_counts(self) -> DemandCountByHouseholdLoader:
        return DemandCountByHouseholdLoader(self._ctx)

    @cached_property
    def audit_pages(self) -> record.AuditPagesByHouseholdLoader:
        return record.AuditPagesByHouseholdLoader(self._ctx)

    @cached_property
    def audit_counts(self) -> record.AuditCountByHouseholdLoader:
        return record.AuditCountByHouseholdLoader(self._ctx)

    @cached_property
    def last_activity(self) -> record.LastActivityLoader:
        return record.LastActivityLoader(self._ctx)

    @cached_property
    def access_pages(self) -> record.AccessPagesByHouseholdLoader:
        return record.AccessPagesByHouseholdLoader(self._ctx)

    @cached_property
    def access_counts(self) -> record.AccessCountByHouseholdLoader:
        return record.AccessCountByHouseholdLoader(self._ctx)

    @cached_property
    def audit_event_by_id(self) -> record.AuditEventByIdLoader:
        return record.AuditEventByIdLoader(self._ctx)

    @cached_property
    def user_by_id(self) -> UserByIdLoader:
        return UserByIdLoader(self._ctx)

    @cached_property
    def organisation_by_id(self) -> OrganisationByIdLoader:
        return OrganisationByIdLoader(self._ctx)

    @cached_property
    def territory_by_code(self) -> TerritoryByCodeLoader:
        return TerritoryByCodeLoader(self._ctx)

    @cached_property
    def duplicates_by_person(self) -> DuplicatesByPersonLoader:
        from resolvers.duplicates import DuplicatesByPersonLoader

        return DuplicatesByPersonLoader(self._ctx)

    @cached_property
    def structure_by_id(self) -> StructureByIdLoader:
        return StructureByIdLoader(self._ctx)

    @cached_property
    def place_by_id(self) -> PlaceByIdLoader:
        return PlaceByIdLoader(self._ctx)

    @cached_property
    def places_by_structure(self) -> PlacesByStructureLoader:
        return PlacesByStructureLoader(self._ctx)

    @cached_property
    def orientations_by_demand(self) -> OrientationsByDemandLoader:
        return OrientationsByDemandLoader(self._ctx)

    @cached_property
    def stays_by_demand(self) -> StaysByDemandLoader:
        return StaysByDemandLoader(self._ctx)

    @cached_property
    def orientation_by_id(self) -> OrientationByIdLoader:
        return OrientationByIdLoader(self._ctx)

    @cached_property
    def stay_by_id(self) -> StayByIdLoader:
        return StayByIdLoader(self._ctx)

    # --- the household record (resolvers.record_loaders) ---

    @cached_property
    def evaluation_pages(self) -> record.EvaluationPagesByHouseholdLoader:
        return record.EvaluationPagesByHouseholdLoader(self._ctx)

    @cached_property
    def evaluation_counts(self) -> record.EvaluationCountByHouseholdLoader:
        return record.EvaluationCountByHouseholdLoader(self._ctx)

    @cached_property
    def evaluation_by_id(self) -> record.EvaluationByIdLoader:
        return record.EvaluationByIdLoader(self._ctx)

    @cached_property
    def latest_evaluation(self) -> record.LatestEvaluationLoader:
        return record.LatestEvaluationLoader(self._ctx)

    @cached_property
    def note_pages(self) -> record.NotePagesByHouseholdLoader:
        return record.NotePagesByHouseholdLoader(self._ctx)

    @cached_property
    def note_counts(self) -> record.NoteCountByHouseholdLoader:
        return record.NoteCountByHouseholdLoader(self._ctx)

    @cached_property
    def note_by_id(self) -> record.NoteByIdLoader:
        return record.NoteByIdLoader(self._ctx)

    @cached_property
    def concerned_by_note(self) -> record.ConcernedPersonsByNoteIdLoader:
        return record.ConcernedPersonsByNoteIdLoader(self._ctx)

    @cached_property
    def attachments_by_household(self) -> AttachmentsByHouseholdLoader:
        from resolvers.attachment import AttachmentsByHouseholdLoader

        return AttachmentsByHouseholdLoader(self._ctx)

    @cached_property
    def attachment_by_id(self) -> AttachmentByIdLoader:
        from resolvers.attachment import AttachmentByIdLoader

        return AttachmentByIdLoader(self._ctx)

    @cached_property
    def situation_by_household(self) -> SectionsByHouseholdLoader:
        from resolvers.situation import SectionsByHouseholdLoader

        return SectionsByHouseholdLoader(self._ctx)

    @cached_property
    def situation_by_person(self) -> SectionsByPersonLoader:
        from resolvers.situation import SectionsByPersonLoader

        return SectionsByPersonLoader(self._ctx)

    # --- accompaniments (resolvers.accompaniment) ---

    @cached_property
    def accompaniment_by_id(self) -> AccompanimentByIdLoader:
        from resolvers.accompaniment import AccompanimentByIdLoader

        return AccompanimentByIdLoader(self._ctx)

    @cached_property
    def accompaniments_by_household(self) -> AccompanimentsByHouseholdLoader:
        from resolvers.accompaniment import AccompanimentsByHouseholdLoader

        return AccompanimentsByHouseholdLoader(self._ctx)

    @cached_property
    def accompanied_household_pages(self) -> AccompaniedHouseholdPagesLoader:
        from resolvers.accompaniment import AccompaniedHouseholdPagesLoader

        return AccompaniedHouseholdPagesLoader(self._ctx)

    @cached_property
    def accompanied_household_counts(self) -> AccompaniedHouseholdCountsLoader:
        from resolvers.accompaniment import AccompaniedHouseholdCountsLoader

        return AccompaniedHouseholdCountsLoader(self._ctx)
