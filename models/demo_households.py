"""The demo households, their members and their history (creations, moves, closings, with
their audit events): the generators and rows that `models.demo_builder.DemoBuilder` inherits,
and the steps its story is told with."""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from models.demo import SEED, SIAO_LOGIN, USERS, _created, demo_id
from models.demo_names import FrozenNames, NameSource
from models.demo_people import (
    FIRST_NAMES,
    HOMONYMS,
    LAST_NAMES,
    NATIONALITIES,
    SIZES,
    YOUNG_NAMES,
    Spec,
)
from models.household import Relationship
from models.person import Sex

Row = dict[str, Any]
R = Relationship
F, M = Sex.FEMALE, Sex.MALE


@dataclass
class Stint:
    id: uuid.UUID
    person: Row
    household: HouseholdDraft
    relationship: Relationship
    lower: datetime
    upper: datetime | None = None


@dataclass
class HouseholdDraft:
    id: uuid.UUID
    reference: str
    territory: str
    number: int
    created_at: datetime
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    stints: list[Stint] = field(default_factory=list)
    follower: str | None = None  # social worker login of the accompanying organisation
    followed_from: datetime | None = None

    def members_at(self, at: datetime) -> list[Stint]:
        return [s for s in self.stints if s.lower < at and (s.upper is None or at < s.upper)]

    def touch(self, at: datetime) -> None:
        self.version += 1
        self.updated_at = at


class HouseholdsBuilder:
    """The generators and the rows drawn so far; the households' people and their events.
    `DemoBuilder` tells the story with them."""

    def __init__(self, names: NameSource | None = None) -> None:
        self.rng = random.Random(SEED)
        # Contact details draw from their own generator, so that adding them did not
        # change any name, date or composition drawn from `rng`.
        self.contact_rng = random.Random(SEED + 1)
        self.queue_rng = random.Random(SEED + 2)
        # Some last and first names: those a seeded Faker drew once, replayed (demo_names).
        self.names = names if names is not None else FrozenNames.load()
        self.user = {login: demo_id("user", login) for login in USERS}
        self.households: dict[str, HouseholdDraft] = {}
        self.persons: list[Row] = []
        self.stints: list[Stint] = []
        self.accompaniments: list[Row] = []
        self.demands: list[Row] = []
        self.demand_persons: list[Row] = []
        self.events: list[Row] = []

    # --- names and people -------------------------------------------------------------

    def _last_name(self) -> str:
        if self.rng.random() < 0.3:
            return self.rng.choice(LAST_NAMES)
        return self.names.last_name()

    def _first_name(self, sex: Sex, born: date) -> str:
        if born.year >= 1995 and self.rng.random() < 0.8:
            return self.rng.choice(YOUNG_NAMES[sex])
        if sex is Sex.UNSPECIFIED or self.rng.random() < 0.25:
            return self.rng.choice(FIRST_NAMES[sex])
        return self.names.first_name_female() if sex is F else self.names.first_name_male()

    def _person(
        self,
        spec: Spec,
        sex: Sex,
        age: int,
        last: str,
        usage: str | None,
        at: datetime,
        actor: uuid.UUID,
    ) -> Row:
        if spec.sex is None and self.rng.random() < 0.02:
            sex = Sex.UNSPECIFIED
        born = spec.born or at.date() - timedelta(days=365 * age + self.rng.randint(30, 360))
        first = spec.first or self._first_name(sex, born)
        while spec.first is None and HOMONYMS & {(first, last), (first, usage or "")}:
            first = self._first_name(sex, born)
        n = len(self.persons) + 1
        row: Row = {
            "id": demo_id("person", n),
            "first_name": unicodedata.normalize("NFC", first),
            "last_name": unicodedata.normalize("NFC", last),
            "usage_name": unicodedata.normalize("NFC", usage) if usage else None,
            "birth_date": born,
            "sex": sex,
            "nationality": self.contact_rng.choice(NATIONALITIES),
            "phone": (
                f"06{self.contact_rng.randint(0, 99_999_999):08d}"
                if age >= 16 and self.contact_rng.random() < 0.7
                else None
            ),
            "created_at": at,
            "updated_at": at,
            "created_by": actor,
            "version": 1,
        }
        self.persons.append(row)
        return row

    def _random_composition(self) -> list[Spec]:
        rng = self.rng
        size = rng.choices(list(SIZES), weights=list(SIZES.values()))[0]
        if size == 1:
            return [Spec(R.REFERENCE_PERSON)]
        if size == 2:
            second = rng.choices([R.SPOUSE, R.CHILD, R.PARENT, R.SIBLING], [45, 45, 5, 5])[0]
            return [Spec(R.REFERENCE_PERSON), Spec(second)]
        shape = rng.choices(["couple", "single parent", "extended"], [55, 35, 10])[0]
        head = [Spec(R.REFERENCE_PERSON)] + ([] if shape == "single parent" else [Spec(R.SPOUSE)])
        extra = rng.choice([R.PARENT, R.SIBLING, R.OTHER_RELATIVE, R.OTHER])
        tail = [Spec(extra)] if shape == "extended" else []
        return head + [Spec(R.CHILD)] * (size - len(head) - len(tail)) + tail

    def _members(self, specs: list[Spec], at: datetime, actor: uuid.UUID) -> list[Row]:
        """The people of a new household, with ages, sexes and names that fit together."""
        rng, rels = self.rng, [s.rel for s in specs]
        ref = specs[0]
        has_child, has_spouse = R.CHILD in rels, R.SPOUSE in rels
        female_odds = 0.85 if has_child and not has_spouse else 0.4 if has_spouse else 0.35
        ref_sex = ref.sex or (F if rng.random() < female_odds else M)
        if ref.born is not None:
            ref_age = (at.date() - ref.born).days // 365
        else:
            ref_age = ref.age or (
                rng.randint(24, 52) if has_child else int(rng.triangular(18, 70, 32))
            )
        family = ref.last or self._last_name()
        spouse_sex = M if ref_sex is F else F
        children = family  # the couple's name, which children carry
        spouse_last, spouse_usage, ref_usage = self._last_name(), None, ref.usage
        if has_spouse and ref_sex is F and spouse_sex is M:
            children = spouse_last
            ref_usage = ref_usage or (spouse_last if rng.random() < 0.5 else None)
        elif has_spouse:
            spouse_usage = family if rng.random() < 0.6 else None
        elif has_child and rng.random() < 0.2:
            children = self._last_name()  # the absent father's
        people = [self._person(ref, ref_sex, ref_age, family, ref_usage, at, actor)]
        for spec in specs[1:]:
            sex = spec.sex or (spouse_sex if spec.rel is R.SPOUSE else rng.choice([F, M]))
            usage = spec.usage
            if spec.rel is R.SPOUSE:
                age, last = max(18, ref_age + rng.randint(-6, 8)), spouse_last
                usage = usage or spouse_usage
            elif spec.rel is R.CHILD:
                age, last = rng.randint(0, min(24, ref_age - 18)), children
            elif spec.rel is R.PARENT:
                age, last = min(95, ref_age + rng.randint(20, 35)), family
                if sex is F:
                    last, usage = self._last_name(), family
            elif spec.rel is R.SIBLING:
                age, last = max(16, ref_age + rng.randint(-10, 10)), family
            elif spec.rel is R.OTHER_RELATIVE:
                age, last = rng.randint(3, 60), family if rng.random() < 0.5 else self._last_name()
            else:
                age, last = rng.randint(18, 65), self._last_name()
            people.append(
                self._person(spec, sex, spec.age or age, spec.last or last, usage, at, actor)
            )
        return people

    # --- events -----------------------------------------------------------------------

    def _event(
        self,
        at: datetime,
        actor: uuid.UUID,
        action: str,
        entity_type: str,
        entity_id: uuid.UUID,
        household: HouseholdDraft,
        changes: dict[str, Any],
    ) -> None:
        self.events.append(
            {
                "id": demo_id("audit", len(self.events) + 1),
                "at": at,
                "actor_id": actor,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "household_id": household.id,
                "changes": changes,
                "request_id": "demo",
            }
        )

    def _join(
        self, household: HouseholdDraft, person: Row, rel: Relationship, at: datetime
    ) -> Stint:
        stint = Stint(demo_id("membership", len(self.stints) + 1), person, household, rel, at)
        household.stints.append(stint)
        self.stints.append(stint)
        return stint

    def _new_household(self, reference: str, at: datetime, specs: list[Spec]) -> HouseholdDraft:
        territory, number = reference[:2], int(reference[2:])
        actor = self.user[SIAO_LOGIN[territory]]
        household = HouseholdDraft(
            demo_id("household", reference), reference, territory, number, at, updated_at=at
        )
        self.households[reference] = household
        self._event(
            at,
            actor,
            "CREATE",
            "Household",
            household.id,
            household,
            _created({"territory": territory}),
        )
        people = self._members(specs, at, actor) if specs else []
        for spec, person in zip(specs, people, strict=True):
            stint = self._join(household, person, spec.rel, at)
            self._event(
                at,
                actor,
                "CREATE",
                "Person",
                person["id"],
                household,
                _created(
                    {
                        "firstName": person["first_name"],
                        "lastName": person["last_name"],
                        "usageName": person["usage_name"],
                        "birthDate": person["birth_date"],
                        "sex": person["sex"].value,
                    }
                ),
            )
            self._event(
                at,
                actor,
                "ADD_MEMBER",
                "Membership",
                stint.id,
                household,
                _created({"person": person["id"], "relationship": spec.rel.value, "validFrom": at}),
            )
        return household

    def _move(
        self,
        source: HouseholdDraft,
        target: HouseholdDraft,
        stint: Stint,
        rel: Relationship,
        at: datetime,
    ) -> None:
        actor = self.user[SIAO_LOGIN[source.territory]]
        stint.upper = at
        moved = self._join(target, stint.person, rel, at)
        self._event(
            at,
            actor,
            "MOVE_OUT",
            "Membership",
            stint.id,
            source,
            {
                "validTo": {"before": None, "after": at.isoformat()},
                "toHousehold": {"before": None, "after": str(target.id)},
            },
        )
        self._event(
            at,
            actor,
            "MOVE_IN",
            "Membership",
            moved.id,
            target,
            _created(
                {
                    "person": stint.person["id"],
                    "relationship": rel.value,
                    "validFrom": at,
                    "fromHousehold": source.id,
                }
            ),
        )
        source.touch(at)
        target.touch(at)
        if all(s.upper is not None for s in source.stints):
            source.closed_at = at
            self._event(
                at,
                actor,
                "CLOSE",
                "Household",
                source.id,
                source,
                {"closedAt": {"before": None, "after": at.isoformat()}},
            )
