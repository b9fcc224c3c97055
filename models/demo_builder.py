"""The demo's story: households created and moved, accompaniments, demands, then the
record and the situation tab; and every row, per table, in foreign-key order."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import Range

from auth.policy import Role
from models.audit import AuditEvent
from models.base import Base
from models.demand import Demand, DemandKind, DemandPerson, DemandStatus
from models.demo import (
    BASE,
    END,
    FIRST_75_REFERENCE,
    FOLLOWED,
    HOUSEHOLDS,
    ORGANISATIONS,
    PARIS,
    PROTECTED_REFERENCES,
    SIAO_LOGIN,
    STATUSES,
    TERRITORIES,
    USERS,
    _created,
    demo_id,
)
from models.demo_households import HouseholdDraft, HouseholdsBuilder
from models.demo_people import FORCED, MOVES
from models.evaluation import Evaluation
from models.household import Accompaniment, Household, Membership, Relationship
from models.note import Note, NotePerson
from models.organisation import Organisation, Territory, User
from models.person import Person
from models.situation import SituationRecord
from models.structure import PlaceType

Row = dict[str, Any]
R = Relationship


class DemoBuilder(HouseholdsBuilder):
    """Builds every row in memory, in a fixed order, from one seeded generator."""

    # --- the story --------------------------------------------------------------------

    def build(self) -> None:
        rng = self.rng
        created: dict[str, datetime] = {}
        for territory, count in HOUSEHOLDS.items():
            step = 300 // count
            for n in range(1, count + 1):
                created[f"{territory}{n:08d}"] = BASE + timedelta(
                    days=1 + step * (n - 1),
                    hours=rng.randint(0, 7),
                    minutes=rng.randrange(0, 60, 5),
                )
        born_of_moves = {target for _, target, _, _ in MOVES if FORCED.get(target) == []}
        for reference, at in created.items():
            if reference not in born_of_moves:
                specs = FORCED.get(reference) or self._random_composition()
                self._new_household(reference, at, specs)
        for source_ref, target_ref, movers, days in MOVES:
            source = self.households[source_ref]
            if target_ref in self.households:
                target = self.households[target_ref]
                at = max(source.created_at, target.created_at) + timedelta(
                    days=days, hours=rng.randint(1, 6)
                )
            else:
                at = created[target_ref]
                target = self._new_household(target_ref, at, [])
            initial = [s for s in source.stints if s.lower == source.created_at]
            for index, rel in movers:
                self._move(source, target, initial[index], rel, at)
        for org, territory, first, last, login in FOLLOWED:
            for n in range(first, last + 1):
                self._follow(self.households[f"{territory}{n:08d}"], org, n, login)
        self._demands()
        from models.demo_record import RecordBuilder

        self.record = RecordBuilder(self)
        self.record.build()
        from models.demo_situation import SituationBuilder

        self.situation = SituationBuilder(self)
        self.situation.build()

    def _follow(self, household: HouseholdDraft, org: str, n: int, login: str | None) -> None:
        at = household.created_at + timedelta(days=self.rng.randint(1, 20))
        user = self.user[login] if login and n % 2 else None
        actor = self.user[login or SIAO_LOGIN[household.territory]]
        household.follower, household.followed_from = login, at
        row_id, organisation = (
            demo_id("accompaniment", len(self.accompaniments) + 1),
            demo_id("organisation", org),
        )
        self.accompaniments.append(
            {
                "id": row_id,
                "household_id": household.id,
                "user_id": user,
                "organisation_id": organisation,
                "validity": Range(at, None, bounds="[)"),
                "created_at": at,
                "started_by": actor,
            }
        )
        self._event(
            at,
            actor,
            "CREATE",
            "Accompaniment",
            row_id,
            household,
            _created({"organisation": organisation, "user": user, "validFrom": at}),
        )

    def _demands(self) -> None:
        rng = self.rng
        households = list(self.households.values())
        active = [h for h in households if h.closed_at is None]
        weights = [3 if h.territory == "75" else 2 for h in active]
        chosen = households + rng.choices(active, weights, k=300 - len(households))
        for household in sorted(chosen, key=lambda h: h.reference):
            lower = household.created_at + timedelta(hours=1)
            upper = household.closed_at or END
            kind = DemandKind.EMERGENCY if rng.random() < 0.4 else DemandKind.INSERTION
            if rng.random() < 0.2 and upper - lower > timedelta(days=30):
                lower = max(lower, upper - timedelta(days=30))  # the current queue
            day = lower + timedelta(days=rng.randint(0, max(0, (upper - lower).days)))
            hour = rng.randint(18, 23) if kind is DemandKind.EMERGENCY else rng.randint(9, 17)
            at = day.replace(hour=hour, minute=rng.randrange(0, 60, 5))
            if not lower < at < upper:
                at = lower + timedelta(minutes=30)
            recent = END - at < (
                timedelta(days=4) if kind is DemandKind.EMERGENCY else timedelta(days=45)
            )
            weights_by_status = STATUSES[(kind, recent)]
            status = rng.choices(list(weights_by_status), list(weights_by_status.values()))[0]
            present = household.members_at(at)
            concerned = (
                [s for s in present if s.relationship is R.REFERENCE_PERSON or rng.random() < 0.5]
                if rng.random() < 0.15
                else present
            )
            login = SIAO_LOGIN[household.territory]
            if (
                kind is DemandKind.INSERTION
                and household.follower
                and household.followed_from
                and household.followed_from < at
            ):
                login = household.follower
            demand_id = demo_id("demand", len(self.demands) + 1)
            self.demands.append(
                {
                    "id": demand_id,
                    "household_id": household.id,
                    "kind": kind,
                    "status": status,
                    "created_at": at,
                    "updated_at": at,
                    "created_by": self.user[login],
                    "version": 1,
                    **self._demand_details(kind, status, at),
                }
            )
            ids = [s.person["id"] for s in concerned]
            self.demand_persons += [{"demand_id": demand_id, "person_id": p} for p in ids]
            self._event(
                at,
                self.user[login],
                "CREATE",
                "Demand",
                demand_id,
                household,
                _created(
                    {
                        "kind": kind.value,
                        "status": status.value,
                        "concernedPersons": sorted(str(p) for p in ids),
                    }
                ),
            )

    def _demand_details(self, kind: DemandKind, status: DemandStatus, at: datetime) -> Row:
        """Kind-specific fields, from a generator of their own (see contact_rng)."""
        rng = self.queue_rng
        emergency = kind is DemandKind.EMERGENCY
        return {
            "priority": rng.choices((1, 2, 3, 4), weights=(1, 3, 5, 2))[0],
            "submitted_at": None if status is DemandStatus.DRAFT else at,
            "night": at.astimezone(PARIS).date() if emergency else None,
            "recommended_place_type": None
            if emergency
            else rng.choice((PlaceType.INSERTION, PlaceType.INSERTION, PlaceType.STABILISATION)),
            "commission_date": None if emergency else (at + timedelta(days=14)).date(),
        }

    # --- rows -------------------------------------------------------------------------

    def tables(self) -> list[tuple[type[Base], list[Row]]]:
        """Rows per table, in foreign-key order; the beneficiary's user comes after persons."""
        last_event: dict[uuid.UUID, datetime] = {}
        for event in self.events:
            hid = event["household_id"]
            last_event[hid] = max(event["at"], last_event.get(hid, event["at"]))
        households = [
            {
                "id": h.id,
                "reference": h.reference,
                "territory_code": h.territory,
                "last_activity_at": last_event[h.id],
                "closed_at": h.closed_at,
                "protected": h.reference in PROTECTED_REFERENCES,
                "created_at": h.created_at,
                "updated_at": h.updated_at or h.created_at,
                "created_by": self.user[SIAO_LOGIN[h.territory]],
                "version": h.version,
            }
            for h in self.households.values()
        ]
        memberships = [
            {
                "id": s.id,
                "person_id": s.person["id"],
                "household_id": s.household.id,
                "relationship": s.relationship,
                "validity": Range(s.lower, s.upper, bounds="[)"),
                "created_at": s.lower,
                "created_by": self.user[SIAO_LOGIN[s.household.territory]],
            }
            for s in self.stints
        ]
        first_75 = self.households[FIRST_75_REFERENCE]
        users = [
            {
                "id": self.user[login],
                "login": login,
                "display_name": name,
                "role": role,
                "organisation_id": demo_id("organisation", org) if org else None,
                "territory_code": territory,
                "active": True,
                "person_id": first_75.stints[0].person["id"] if role is Role.BENEFICIARY else None,
                "created_at": (
                    first_75.created_at + timedelta(days=10)
                    if role is Role.BENEFICIARY
                    else BASE + timedelta(minutes=i)
                ),
            }
            for i, (login, (name, role, org, territory)) in enumerate(USERS.items())
        ]
        return [
            (Territory, [{"code": c, "name": n} for c, n in TERRITORIES.items()]),
            (
                Organisation,
                [
                    {
                        "id": demo_id("organisation", key),
                        "name": name,
                        "kind": kind,
                        "territory_code": territory,
                        "created_at": BASE - timedelta(days=1),
                    }
                    for key, (name, kind, territory) in ORGANISATIONS.items()
                ],
            ),
            (User, users[:-1]),
            (Household, households),
            (Person, self.persons),
            (Membership, memberships),
            (User, users[-1:]),
            (Accompaniment, self.accompaniments),
            (Demand, self.demands),
            (DemandPerson, self.demand_persons),
            (Evaluation, self.record.evaluations),
            (Note, self.record.notes),
            (NotePerson, self.record.note_persons),
            (SituationRecord, self.situation.rows),
            (AuditEvent, self.events),
        ]

    def summary(self) -> str:
        return (
            f"{len(TERRITORIES)} territories, {len(ORGANISATIONS)} organisations, "
            f"{len(USERS)} users, {len(self.households)} households, "
            f"{len(self.persons)} persons, {len(self.demands)} demands, "
            f"{len(self.record.evaluations)} evaluations, {len(self.record.notes)} notes, "
            f"{len(self.situation.rows)} situation sections"
        )
