"""Households and their memberships."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from models import EvaluationKind as _EvaluationKind
from resolvers import evaluation as evaluations
from resolvers import household as resolve
from resolvers import note as notes
from resolvers.arguments import enum_arg
from resolvers.audit import audit_filter
from resolvers.loaders import Later, then
from resolvers.pagination import DEFAULT_PAGE
from schema.enums import EvaluationKind, Relationship, to_schema
from schema.info import Info
from schema.node import After, Connection, First, Node, connection_of, encode_id
from schema.organisation import Territory, territory_from_row
from schema.permissions import SensitivityCategory, sensitive
from schema.summary import HouseholdSummary

if TYPE_CHECKING:
    from schema.accompaniment import Accompaniment
    from schema.audit import AuditEvent, AuditFilter
    from schema.demand import Demand
    from schema.evaluation import Evaluation
    from schema.note import Note, NoteFilter
    from schema.person import Person
    from schema.situation import HouseholdSituation

PersonRef = Annotated["Person", strawberry.lazy("schema.person")]
DemandRef = Annotated["Demand", strawberry.lazy("schema.demand")]
AuditEventRef = Annotated["AuditEvent", strawberry.lazy("schema.audit")]
AuditFilterRef = Annotated["AuditFilter", strawberry.lazy("schema.audit")]
EvaluationRef = Annotated["Evaluation", strawberry.lazy("schema.evaluation")]
NoteRef = Annotated["Note", strawberry.lazy("schema.note")]
NoteFilterRef = Annotated["NoteFilter", strawberry.lazy("schema.note")]
SituationRef = Annotated["HouseholdSituation", strawberry.lazy("schema.situation")]
AccompanimentRef = Annotated["Accompaniment", strawberry.lazy("schema.accompaniment")]


@strawberry.type(
    description=(
        "A household (ménage): the smallest set of people living together. It carries all "
        "demands; its composition is kept over time as memberships."
    )
)
class Household(Node):
    reference: str | None = sensitive(
        Category.IDENTITY_MIN,
        "The 10-digit household reference that professionals quote on the phone.",
    )
    version: int = strawberry.field(
        description="Edit counter; pass it as `expectedVersion` when editing the household."
    )
    created_at: datetime = strawberry.field(description="When the household was created.")
    updated_at: datetime = strawberry.field(description="When the household was last edited.")
    closed_at: datetime | None = strawberry.field(
        description="When the last member left; null while the household is active."
    )
    row_id: strawberry.Private[uuid.UUID]
    territory_code: strawberry.Private[str]
    is_protected_value: strawberry.Private[bool]
    recorded_activity_at: strawberry.Private[datetime]

    @property
    def household_key(self) -> uuid.UUID:
        return self.row_id

    @strawberry.field(
        description="Last change to the record that you may see: a change you are not shown "
        "(a section of a category you may not read, a note) does not move it. Retention and "
        "purges count every change."
    )
    def last_activity_at(self, info: Info) -> Later[datetime]:
        return resolve.last_activity(
            info.context, self.row_id, self.recorded_activity_at, self.created_at
        )

    @sensitive(
        Category.VIOLENCE,
        "Whether the household is protected (violence): it is then absent from searches by "
        "anyone who does not accompany it, and from partner feeds.",
    )
    def is_protected(self) -> bool | None:
        return self.is_protected_value

    @strawberry.field(
        description="The record's header: member count, reference person, open demands, "
        "latest flash level, pinned notes, when it was last saved."
    )
    def summary(self) -> HouseholdSummary:
        return HouseholdSummary(
            row_id=self.row_id,
            recorded_activity_at=self.recorded_activity_at,
            created_at=self.created_at,
        )

    @strawberry.field(
        description="The « Situation du ménage » tab: its sections, each restricted by "
        "its category (housing and activity: SITUATION, budget: BUDGET, papers: "
        "ADMINISTRATIVE, health: HEALTH, violence: VIOLENCE)."
    )
    def situation(self) -> SituationRef:
        from schema.situation import HouseholdSituation

        return HouseholdSituation(household_id=self.row_id, protected=self.is_protected_value)

    @strawberry.field(description="The territory (département) whose SIAO handles the household.")
    def territory(self, info: Info) -> Later[Territory | None]:
        return then(resolve.territory(info.context, self.territory_code), territory_from_row)

    @sensitive(
        Category.IDENTITY_MIN,
        "The members at an instant (default: now), reference person first.",
    )
    def members(
        self,
        info: Info,
        at: Annotated[
            datetime | None,
            strawberry.argument(description="Instant of the composition (ISO 8601); default now."),
        ] = None,
    ) -> Later[list[Membership] | None]:
        return then(resolve.members(info.context, self.row_id, at), memberships_from_rows)

    @sensitive(
        Category.IDENTITY_MIN,
        "Every membership the household ever had, past and present, oldest first.",
    )
    def member_history(self, info: Info) -> Later[list[Membership] | None]:
        return then(resolve.member_history(info.context, self.row_id), memberships_from_rows)

    @sensitive(
        Category.ACCOMPANIMENTS,
        "Who follows the household (référents de parcours, hosting structure, partner "
        "services), current and past, by start, oldest first.",
    )
    def accompaniments(
        self,
        info: Info,
        current: Annotated[
            bool | None,
            strawberry.argument(
                description="Only those lasting now (true), or only the past ones (false); "
                "default both."
            ),
        ] = None,
    ) -> Later[list[AccompanimentRef] | None]:
        from resolvers.accompaniment import of_household
        from schema.accompaniment import accompaniments_from_rows

        return then(of_household(info.context, self.row_id, current), accompaniments_from_rows)

    @sensitive(Category.DEMANDS, "The household's demands, newest first.")
    def demands(
        self,
        info: Info,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Later[Connection[DemandRef] | None]:
        from schema.demand import demand_from_row

        return then(
            resolve.demands(info.context, self.row_id, first, after),
            lambda page: connection_of(page, demand_from_row),
        )

    @sensitive(
        Category.FLASH_EVALUATION,
        "The household's evaluations, newest first: the history of its flash and deep "
        "evaluations. Their content is restricted further by kind and by the category of "
        "each criterion and section (`criteria`: FLASH_EVALUATION, `healthCriteria`: HEALTH, "
        "`health`: HEALTH, `resources`: BUDGET, ...).",
    )
    def evaluations(
        self,
        info: Info,
        kind: Annotated[
            EvaluationKind | None,
            strawberry.argument(description="Only evaluations of this kind; default both."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Later[Connection[EvaluationRef] | None]:
        from schema.evaluation import evaluation_from_row

        return then(
            evaluations.evaluations(
                info.context, self.row_id, enum_arg(_EvaluationKind, kind), first, after
            ),
            lambda page: connection_of(page, evaluation_from_row),
        )

    @sensitive(
        Category.FLASH_EVALUATION,
        "The most recent evaluation of a kind; null if there is none.",
    )
    def latest_evaluation(
        self,
        info: Info,
        kind: Annotated[EvaluationKind, strawberry.argument(description="Flash or deep.")],
    ) -> Later[EvaluationRef | None]:
        from schema.evaluation import evaluation_from_row

        latest_kind = enum_arg(_EvaluationKind, kind)
        assert latest_kind is not None
        return then(evaluations.latest(info.context, self.row_id, latest_kind), evaluation_from_row)

    @sensitive(
        Category.NOTES,
        "The notes about the household: those pinned now first, then newest first. A pin "
        "whose date has passed counts no more (nothing needs to clear it).",
    )
    def notes(
        self,
        info: Info,
        filter: Annotated[
            NoteFilterRef | None, strawberry.argument(description="Narrows the list.")
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Later[Connection[NoteRef] | None]:
        from schema.note import note_from_row

        return then(
            notes.notes(info.context, self.row_id, filter, first, after),
            lambda page: connection_of(page, note_from_row),
        )

    @sensitive(
        Category.AUDIT,
        "The change log (suivi des modifications) of the household, newest first: who "
        "changed what, when, from what to what (values you may not read are masked).",
    )
    def audit_events(
        self,
        info: Info,
        filter: Annotated[
            AuditFilterRef | None, strawberry.argument(description="Narrows the log.")
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Later[Connection[AuditEventRef] | None]:
        from schema.audit import audit_event_from_row

        return then(
            resolve.audit_events(info.context, self.row_id, audit_filter(filter), first, after),
            lambda page: connection_of(page, audit_event_from_row),
        )

    @sensitive(
        Category.AUDIT,
        "Who read the household's sensitive data (health, violence, papers, budget, "
        "evaluations, notes), and when; newest first.",
    )
    def access_log(
        self,
        info: Info,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Later[Connection[AccessEvent] | None]:
        return then(
            resolve.access_log(info.context, self.row_id, first, after),
            lambda page: connection_of(page, access_event_from_row),
        )


@strawberry.type(description="A read of a household's sensitive data.")
class AccessEvent:
    at: datetime = strawberry.field(description="When the data was read.")
    reader: str = strawberry.field(description="Who read it (name of the user or partner).")
    category: SensitivityCategory = strawberry.field(description="What kind of data was read.")


def access_event_from_row(row: Row[Any]) -> AccessEvent:
    return AccessEvent(
        at=row.at,
        reader=row.viewer_label,
        category=to_schema(SensitivityCategory, row.category),
    )


@strawberry.type(description="A person's time-bounded place in a household.")
class Membership(Node):
    relationship: Relationship | None = sensitive(
        Category.IDENTITY_MIN, "Relationship to the household's reference person."
    )
    valid_from: datetime = strawberry.field(description="When the person joined the household.")
    valid_to: datetime | None = strawberry.field(
        description="When the person left the household; null while they are a member."
    )
    person_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @strawberry.field(
        description="The member: their record now if you follow the household they belong to "
        "now (or the last one); otherwise, if they left this household, their identity as it "
        "was when they left (`asOf` says when), nothing written since."
    )
    def person(self, info: Info) -> Later[PersonRef | None]:
        from schema.person import person_from_row

        return then(
            resolve.member(info.context, self.person_id, self.household_id), person_from_row
        )

    @strawberry.field(description="The household.")
    def household(self, info: Info) -> Later[Household | None]:
        return then(resolve.household(info.context, self.household_id), household_from_row)


def household_from_row(row: Row[Any] | None) -> Household | None:
    if row is None:
        return None
    return Household(
        id=encode_id("Household", row.id),
        reference=row.reference,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        recorded_activity_at=row.last_activity_at,
        closed_at=row.closed_at,
        row_id=row.id,
        territory_code=row.territory_code,
        is_protected_value=row.protected,
    )


def membership_from_row(row: Row[Any]) -> Membership:
    return Membership(
        id=encode_id("Membership", row.id),
        relationship=to_schema(Relationship, row.relationship),
        valid_from=row.validity.lower,
        valid_to=row.validity.upper,
        person_id=row.person_id,
        household_id=row.household_id,
    )


def memberships_from_rows(rows: list[Row[Any]]) -> list[Membership]:
    return [membership_from_row(row) for row in rows]
