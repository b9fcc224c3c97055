"""Mutations: one input object, one payload with the changed objects and `userErrors`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import strawberry

from auth.policy import Category
from models import DemandKind as _DemandKind
from models import PlaceType as _PlaceType
from models import Relationship as _Relationship
from models import Sex as _Sex
from resolvers import demand_write, household_write, member_write, person_write
from resolvers.demand import demand as load_demand
from resolvers.household import household as load_household
from resolvers.loaders import Later, then
from resolvers.person import person as load_person
from schema.demand import Demand, demand_from_row
from schema.enums import DemandKind, PlaceType, Relationship, Sex
from schema.errors import DemandUserError, HouseholdUserError, PersonUserError, user_errors
from schema.household import Household, household_from_row
from schema.info import Info
from schema.node import decode_uuid
from schema.permissions import writes
from schema.person import Person, person_from_row
from schema.search import DuplicateWarning, duplicate_warnings


@strawberry.input(description="A person to create, with their place in the household.")
class NewPersonInput:
    first_name: str = strawberry.field(description="First name(s).")
    last_name: str = strawberry.field(description="Birth name.")
    relationship: Relationship = strawberry.field(
        description="Relationship to the household's reference person."
    )
    usage_name: str | None = strawberry.field(default=None, description="Name in use, if other.")
    birth_date: date | None = strawberry.field(
        default=None, description="Date of birth (1900-01-01 to today), if known."
    )
    sex: Sex = strawberry.field(default=Sex.UNSPECIFIED, description="Sex as declared.")

    def to_new_person(self) -> household_write.NewPerson:
        return household_write.NewPerson(
            first_name=self.first_name,
            last_name=self.last_name,
            usage_name=self.usage_name,
            birth_date=self.birth_date,
            sex=_Sex(_value(self.sex)),
            relationship=_Relationship(_value(self.relationship)),
        )


def _value(member: Any) -> str:
    """The string value of a GraphQL enum member (generated enums wrap their values)."""
    value = member.value
    return str(getattr(value, "value", value))


def _household(info: Info, household_id: uuid.UUID | None) -> Later[Household | None]:
    if household_id is None:
        return None
    return then(load_household(info.context, household_id), household_from_row)


@strawberry.input(description="A new household and its members, created together.")
class CreateHouseholdInput:
    territory: str = strawberry.field(description="Code of the household's territory, e.g. `75`.")
    members: list[NewPersonInput] = strawberry.field(
        description="The members; exactly one is the REFERENCE_PERSON."
    )


@strawberry.type(description="Result of `createHousehold`.")
class CreateHouseholdPayload:
    user_errors: list[HouseholdUserError] = strawberry.field(
        description="Why nothing was created; empty on success."
    )
    household_id: strawberry.Private[uuid.UUID | None]
    person_ids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="Likely duplicates of the persons created (non-blocking).")
    def warnings(self, info: Info) -> Later[list[DuplicateWarning]]:
        return duplicate_warnings(info, self.person_ids)

    @strawberry.field(description="The new household; null if refused.")
    def household(self, info: Info) -> Later[Household | None]:
        return _household(info, self.household_id)


@strawberry.input(description="A member to add to a household: a new person.")
class AddHouseholdMemberInput:
    household_id: strawberry.ID = strawberry.field(description="The household.")
    expected_version: int = strawberry.field(
        description="The household's `version` as you read it (stale: STALE_VERSION)."
    )
    person: NewPersonInput | None = strawberry.field(
        default=None, description="The new person to create in the household."
    )
    person_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "An existing person. Everyone already belongs to a household, so this answers "
            "ALREADY_IN_HOUSEHOLD: use `moveHouseholdMember`."
        ),
    )


@strawberry.type(description="Result of `addHouseholdMember`.")
class AddHouseholdMemberPayload:
    user_errors: list[HouseholdUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    household_id: strawberry.Private[uuid.UUID | None]
    person_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Likely duplicates of the person added (non-blocking).")
    def warnings(self, info: Info) -> Later[list[DuplicateWarning]]:
        ids = [self.person_id] if self.person_id else []
        return duplicate_warnings(info, ids)

    @strawberry.field(description="The household, with its new version.")
    def household(self, info: Info) -> Later[Household | None]:
        return _household(info, self.household_id)

    @strawberry.field(description="The new member.")
    def person(self, info: Info) -> Later[Person | None]:
        if self.person_id is None:
            return None
        return then(load_person(info.context, self.person_id), person_from_row)


@strawberry.input(description="Move a person to another household (existing or new).")
class MoveHouseholdMemberInput:
    person_id: strawberry.ID = strawberry.field(description="The person who moves.")
    to_household_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Destination household; null creates a new household in the same "
        "territory with the person as its reference person.",
    )
    relationship: Relationship = strawberry.field(
        default=Relationship.OTHER,
        description="Relationship to the destination's reference person.",
    )
    expected_version: int | None = strawberry.field(
        default=None, description="The destination household's `version` as you read it."
    )


@strawberry.type(description="Result of `moveHouseholdMember`.")
class MoveHouseholdMemberPayload:
    user_errors: list[HouseholdUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    household_id: strawberry.Private[uuid.UUID | None]
    person_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The destination household.")
    def household(self, info: Info) -> Later[Household | None]:
        return _household(info, self.household_id)

    @strawberry.field(description="The person who moved.")
    def person(self, info: Info) -> Later[Person | None]:
        if self.person_id is None:
            return None
        return then(load_person(info.context, self.person_id), person_from_row)


@strawberry.input(description="Edit a person; omitted fields are left as they are.")
class UpdatePersonInput:
    person_id: strawberry.ID = strawberry.field(description="The person.")
    expected_version: int = strawberry.field(
        description="The person's `version` as you read it (stale: STALE_VERSION)."
    )
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description="First name.")
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description="Birth name.")
    usage_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Name in use; null clears it."
    )
    birth_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="Date of birth; null clears it."
    )
    sex: Sex | None = strawberry.field(default=strawberry.UNSET, description="Sex as declared.")

    def to_patch(self) -> person_write.PersonPatch:
        def keep(value: Any) -> Any:
            return person_write.UNSET if value is strawberry.UNSET else value

        return person_write.PersonPatch(
            first_name=keep(self.first_name),
            last_name=keep(self.last_name),
            usage_name=keep(self.usage_name),
            birth_date=keep(self.birth_date),
            sex=person_write.UNSET if self.sex in (strawberry.UNSET, None) else _value(self.sex),
        )


@strawberry.type(description="Result of `updatePerson`.")
class UpdatePersonPayload:
    user_errors: list[PersonUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    person_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The person, with its new version.")
    def person(self, info: Info) -> Later[Person | None]:
        if self.person_id is None:
            return None
        return then(load_person(info.context, self.person_id), person_from_row)


@strawberry.input(description="A new demand for a household.")
class CreateDemandInput:
    household_id: strawberry.ID = strawberry.field(description="The household.")
    kind: DemandKind = strawberry.field(description="Emergency (tonight) or insertion.")
    concerned_person_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Members the demand concerns; omitted: every current member.",
    )
    draft: bool = strawberry.field(
        default=False, description="Keep it as a DRAFT instead of submitting it to the SIAO."
    )
    priority: int | None = strawberry.field(
        default=None,
        description="1 (most urgent) to 4 (can wait). From the territory's SIAO: the demand's "
        "`priority`, which orders the work queue (omitted: 3). From anyone else: a suggestion, "
        "kept as the demand's `suggestedPriority` (with `prioritySuggestedBy`), while its "
        "`priority` is the default 3 until the SIAO sets it (`setDemandPriority`); the "
        "payload's demand shows both.",
    )
    night: date | None = strawberry.field(
        default=None, description="Emergency: the night the shelter is for (default: tonight)."
    )
    recommended_place_type: PlaceType | None = strawberry.field(
        default=None, description="Insertion: the recommended kind of accommodation."
    )
    commission_date: date | None = strawberry.field(
        default=None, description="Insertion: the date of the commission that examines it."
    )

    def details(self) -> demand_write.DemandDetails:
        return demand_write.DemandDetails(
            priority=self.priority,
            night=self.night,
            recommended_place_type=(
                _PlaceType(_value(self.recommended_place_type))
                if self.recommended_place_type
                else None
            ),
            commission_date=self.commission_date,
        )


@strawberry.type(description="Result of `createDemand`.")
class CreateDemandPayload:
    user_errors: list[DemandUserError] = strawberry.field(
        description="Why nothing was created; empty on success."
    )
    demand_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description="The new demand; null if refused. Its `priority` is the rank it got, its "
        "`suggestedPriority` what was asked for when that was not the SIAO's to set."
    )
    def demand(self, info: Info) -> Later[Demand | None]:
        if self.demand_id is None:
            return None
        return then(load_demand(info.context, self.demand_id), demand_from_row)


@strawberry.type
class HouseholdMutations:
    @writes(
        Category.IDENTITY_MIN,
        "Create a household and its members in one transaction. A social worker who creates "
        "a household accompanies it from then on.",
    )
    async def create_household(
        self,
        info: Info,
        input: Annotated[CreateHouseholdInput, strawberry.argument(description="What to create.")],
    ) -> CreateHouseholdPayload:
        outcome = await household_write.create_household(
            info.context, input.territory, [m.to_new_person() for m in input.members]
        )
        return CreateHouseholdPayload(
            user_errors=user_errors(HouseholdUserError, outcome.problems),
            household_id=outcome.household_id,
            person_ids=outcome.person_ids,
        )

    @writes(Category.IDENTITY_MIN, "Add a new person to a household.")
    async def add_household_member(
        self,
        info: Info,
        input: Annotated[AddHouseholdMemberInput, strawberry.argument(description="What to add.")],
    ) -> AddHouseholdMemberPayload:
        outcome = await member_write.add_household_member(
            info.context,
            decode_uuid(input.household_id, "Household"),
            input.expected_version,
            input.person.to_new_person() if input.person else None,
            decode_uuid(input.person_id, "Person") if input.person_id else None,
        )
        return AddHouseholdMemberPayload(
            user_errors=user_errors(HouseholdUserError, outcome.problems),
            household_id=outcome.household_id,
            person_id=outcome.person_ids[0] if outcome.person_ids else None,
        )

    @writes(
        Category.IDENTITY_MIN,
        "Move a person to another household: the current membership closes and the new one "
        "opens at the same instant.",
    )
    async def move_household_member(
        self,
        info: Info,
        input: Annotated[MoveHouseholdMemberInput, strawberry.argument(description="The move.")],
    ) -> MoveHouseholdMemberPayload:
        outcome = await member_write.move_household_member(
            info.context,
            decode_uuid(input.person_id, "Person"),
            decode_uuid(input.to_household_id, "Household") if input.to_household_id else None,
            _Relationship(_value(input.relationship)),
            input.expected_version,
        )
        return MoveHouseholdMemberPayload(
            user_errors=user_errors(HouseholdUserError, outcome.problems),
            household_id=outcome.household_id,
            person_id=outcome.person_ids[0] if outcome.person_ids else None,
        )

    @writes(Category.IDENTITY_MIN, "Edit a person's identity fields.")
    async def update_person(
        self,
        info: Info,
        input: Annotated[UpdatePersonInput, strawberry.argument(description="The edit.")],
    ) -> UpdatePersonPayload:
        outcome = await person_write.update_person(
            info.context,
            decode_uuid(input.person_id, "Person"),
            input.expected_version,
            input.to_patch(),
        )
        return UpdatePersonPayload(
            user_errors=user_errors(PersonUserError, outcome.problems),
            person_id=outcome.person_ids[0] if outcome.person_ids else None,
        )

    @writes(Category.DEMANDS, "Create a demand for a household (one of the two vital functions).")
    async def create_demand(
        self,
        info: Info,
        input: Annotated[CreateDemandInput, strawberry.argument(description="The demand.")],
    ) -> CreateDemandPayload:
        concerned = (
            [decode_uuid(pid, "Person") for pid in input.concerned_person_ids]
            if input.concerned_person_ids is not None
            else None
        )
        demand_id, problems = await demand_write.create_demand(
            info.context,
            decode_uuid(input.household_id, "Household"),
            _DemandKind(_value(input.kind)),
            concerned,
            input.draft,
            input.details(),
        )
        return CreateDemandPayload(
            user_errors=user_errors(DemandUserError, problems), demand_id=demand_id
        )
