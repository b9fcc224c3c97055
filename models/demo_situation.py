"""Demo data of the « Situation du ménage » tab.

From a generator of its own (so that nothing drawn before changed): 7500000001 (the
beneficiary's) has every section filled in; about half of the other households a social
worker accompanies have some sections, saved by their social worker, with their change-log
entries; the protected households have their violence section (protected: true).
7500000002 is left blank, so that the demo shows an empty tab too (version 0 everywhere).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auth.policy import SituationSection
from models.demo import END, FIRST_75_REFERENCE, PROTECTED_REFERENCES, SEED, _created, demo_id
from models.situation import (
    ENTITY_TYPE,
    ActivityStatus,
    ChargeKind,
    DaloStatus,
    HealthCoverage,
    LivingSituation,
    ResidenceStatus,
    ResourceKind,
)

if TYPE_CHECKING:
    from models.demo_builder import DemoBuilder
    from models.demo_households import HouseholdDraft

Row = dict[str, Any]
BLANK = "7500000002"


class SituationBuilder:
    def __init__(self, builder: DemoBuilder) -> None:
        self.builder = builder
        self.rng = random.Random(SEED + 5)
        self.rows: list[Row] = []
        self.saves: dict[uuid.UUID, int] = {}

    def build(self) -> None:
        for household in self.builder.households.values():
            if household.closed_at is not None or household.reference == BLANK:
                continue
            full = household.reference == FIRST_75_REFERENCE
            login = household.follower
            # (A protected household nobody accompanies keeps its flag without a section.)
            if household.reference in PROTECTED_REFERENCES and login is not None:
                self._violence(household, login)
            if login is None or not (full or self.rng.random() < 0.5):
                continue
            self._household(household, login, full)

    def _instant(self, household: HouseholdDraft) -> datetime:
        lower = household.created_at + timedelta(days=1)
        span = max(1, int((END - lower).total_seconds() // 3600) - 1)
        return (lower + timedelta(hours=self.rng.randint(1, span))).replace(second=0)

    def _household(self, household: HouseholdDraft, login: str, full: bool) -> None:
        rng = self.rng
        at = self._instant(household)
        if full or rng.random() < 0.8:
            year, month = at.year % 100, at.month
            number = f"075{year:02d}{month:02d}{rng.randrange(10**11):011d}"
            self._save(
                household,
                None,
                SituationSection.HOUSING_STEPS,
                login,
                at,
                {
                    "socialHousingNumber": number,
                    "socialHousingAppliedOn": at.date().replace(day=1).isoformat(),
                    "daloStatus": rng.choice(list(DaloStatus)).value,
                    "comment": "Demande de logement social renouvelée chaque année.",
                },
            )
        if full or rng.random() < 0.7:
            self._save(
                household,
                None,
                SituationSection.HOUSING_PRECARITY,
                login,
                at,
                {
                    "livingSituation": rng.choice(list(LivingSituation)).value,
                    "since": (at.date() - timedelta(days=rng.randint(30, 400))).isoformat(),
                    "evictionProcedure": rng.random() < 0.2,
                },
            )
        if full or rng.random() < 0.6:
            resources = [
                {"kind": kind.value, "amount": amount}
                for kind, amount in (
                    (ResourceKind.RSA, "635.71"),
                    (ResourceKind.FAMILY_BENEFITS, f"{rng.randint(90, 400)}.00"),
                    (ResourceKind.SALARY, f"{rng.randint(600, 1500)}.00"),
                )
                if full or rng.random() < 0.5
            ]
            charges = [{"kind": ChargeKind.ACCOMMODATION_FEE.value, "amount": "90.00"}]
            self._save(
                household,
                None,
                SituationSection.BUDGET,
                login,
                at,
                {
                    "resources": resources,
                    "charges": charges,
                    "debts": f"{rng.randint(0, 5) * 100}.00",
                },
            )
        for stint in household.members_at(at):
            person = stint.person["id"]
            if full or rng.random() < 0.5:
                self._save(
                    household,
                    person,
                    SituationSection.ACTIVITY,
                    login,
                    at,
                    {"status": rng.choice(list(ActivityStatus)).value},
                )
            if full or rng.random() < 0.4:
                self._save(
                    household,
                    person,
                    SituationSection.ADMINISTRATIVE,
                    login,
                    at,
                    {
                        "residenceStatus": rng.choice(list(ResidenceStatus)).value,
                        "hasIdentityDocument": rng.random() < 0.8,
                    },
                )
            if full or rng.random() < 0.3:
                self._save(
                    household,
                    person,
                    SituationSection.MEDICO_SOCIAL,
                    login,
                    at,
                    {"healthCoverage": rng.choice(list(HealthCoverage)).value},
                )

    def _violence(self, household: HouseholdDraft, login: str) -> None:
        at = self._instant(household)
        values = {"victim": True, "kinds": ["DOMESTIC"], "protectionOrder": True}
        self._save(
            household, None, SituationSection.VIOLENCE, login, at, values, {"protected": True}
        )

    def _save(
        self,
        household: HouseholdDraft,
        person: uuid.UUID | None,
        section: SituationSection,
        login: str,
        at: datetime,
        data: Row,
        flags: Row | None = None,
    ) -> None:
        author = self.builder.user[login]
        # Sections are saved one after the other, a few minutes apart.
        saves = self.saves.get(household.id, 0)
        self.saves[household.id] = saves + 1
        at += timedelta(minutes=4 * saves)
        row_id = demo_id("situation", len(self.rows) + 1)
        self.rows.append(
            {
                "id": row_id,
                "household_id": None if person else household.id,
                "person_id": person,
                "section": section,
                "data": data,
                "version": 1,
                "saved_at": at,
                "saved_by": author,
            }
        )
        # As `resolvers.situation_write` logs a first save (the flag changed from false).
        changes = _created({**data, **(flags or {})})
        for name in flags or {}:
            changes[name]["before"] = False
        changes["version"] = {"before": None, "after": 1}
        self.builder._event(at, author, "CREATE", ENTITY_TYPE[section], row_id, household, changes)
