"""Demo data: two territories, their professionals, ~200 households and their history.

`load_demo(url)` (run by `siao serve --demo` and by the test fixtures) is idempotent and
deterministic: the same rows, ids and timestamps on every fresh database, all in the past
(from 2025-01-06 to 2026-11-27). Every demo user logs in with `siao token --user LOGIN`:

- `sw.alpha@demo.siao`, SOCIAL_WORKER at Association Alpha Solidarité (75): the
  households Alpha accompanies, 7500000001-40 (in person on the odd ones); a minimal
  identity search over the rest of 75.
- `sw.beta@demo.siao`, SOCIAL_WORKER at Association Bêta Accueil (75): likewise for
  7500000041-80.
- `siao.75@demo.siao`, SIAO_OPERATOR at the SIAO de Paris: every household of 75
  (7500000001-150) and the 75 demand queue.
- `siao.93@demo.siao`, SIAO_OPERATOR at the SIAO de la Seine-Saint-Denis: every household
  of 93 (9300000001-50; Association Gamma Entraide accompanies 9300000001-12).
- `manager.chrs@demo.siao`, STRUCTURE_MANAGER of the CHRS Les Tilleuls (75): the
  households oriented to or hosted by the CHRS.
- `observer@demo.siao`, OBSERVER (75, no organisation): anonymised indicators only.
- `admin@demo.siao`, ADMIN (no territory): users, organisations, territories; no
  household content.
- `beneficiary@demo.siao`, BENEFICIARY (75): their own household, 7500000001 (Anaïs
  Le Goff, reference person, and her two children).

Protected households (violence): 7500000003 (Alpha), 7500000042 (Bêta), 7500000090 and
9300000005. Worth knowing: three homonyms Laurent Dupont (7500000002, 7500000045, 9300000003) and
two Hélène N'Diaye (7500000007, 9300000002); eleven persons who moved between households
(gap-free memberships, MOVE_OUT/MOVE_IN audit events); two closed households (7500000120,
9300000040); two households born of a young adult leaving home (7500000150, 9300000050).
The household record (flash and deep evaluations, notes) comes from `models.demo_record`.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from faker import Faker
from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.dialects.postgresql import insert as pg_insert

from auth.policy import Role
from models.audit import AuditEvent
from models.base import Base
from models.database import create_engine
from models.demand import Demand, DemandKind, DemandPerson, DemandStatus
from models.demo_structures import load_structures
from models.evaluation import Evaluation
from models.household import Accompaniment, Household, Membership, Relationship
from models.note import Note, NotePerson
from models.organisation import Organisation, OrganisationKind, Territory, User
from models.person import Person, Sex
from models.situation import SituationRecord
from models.structure import PlaceType

Row = dict[str, Any]
R = Relationship

SEED = 20250106
NAMESPACE = uuid.UUID("5a1a0de0-93d7-4c2e-8b1e-75a93de0a075")
PARIS = timezone(timedelta(hours=1))
BASE = datetime(2025, 1, 6, 9, 0, tzinfo=PARIS)
END = datetime(2026, 11, 27, 22, 0, tzinfo=PARIS)  # the latest demo instant
LOCK_KEY = 7_593_000_001  # pg_advisory_xact_lock: two concurrent loads run one after the other

ADMIN_LOGIN = "admin@demo.siao"
BENEFICIARY_LOGIN = "beneficiary@demo.siao"
FIRST_75_REFERENCE = "7500000001"
FIRST_93_REFERENCE = "9300000001"

TERRITORIES = {"75": "Paris", "93": "Seine-Saint-Denis"}
ORGANISATIONS: dict[str, tuple[str, OrganisationKind, str]] = {
    "siao-75": ("SIAO de Paris", OrganisationKind.SIAO, "75"),
    "siao-93": ("SIAO de la Seine-Saint-Denis", OrganisationKind.SIAO, "93"),
    "alpha": ("Association Alpha Solidarité", OrganisationKind.ASSOCIATION, "75"),
    "beta": ("Association Bêta Accueil", OrganisationKind.ASSOCIATION, "75"),
    "chrs": ("CHRS Les Tilleuls", OrganisationKind.STRUCTURE, "75"),
    "chu": ("CHU Les Glycines", OrganisationKind.STRUCTURE, "75"),
    "gamma": ("Association Gamma Entraide", OrganisationKind.ASSOCIATION, "93"),
    "acacias": ("Résidence sociale Les Acacias", OrganisationKind.STRUCTURE, "93"),
}
# login -> (display name, role, organisation key, territory); the beneficiary comes last.
USERS: dict[str, tuple[str, Role, str | None, str | None]] = {
    "sw.alpha@demo.siao": ("Camille Rousseau", Role.SOCIAL_WORKER, "alpha", "75"),
    "sw.beta@demo.siao": ("Karim Haddad", Role.SOCIAL_WORKER, "beta", "75"),
    "siao.75@demo.siao": ("Sophie Lefèvre", Role.SIAO_OPERATOR, "siao-75", "75"),
    "siao.93@demo.siao": ("Mamadou Traoré", Role.SIAO_OPERATOR, "siao-93", "93"),
    "manager.chrs@demo.siao": ("Isabelle Garnier", Role.STRUCTURE_MANAGER, "chrs", "75"),
    "observer@demo.siao": ("Thomas Bernard", Role.OBSERVER, None, "75"),
    ADMIN_LOGIN: ("Nathalie Perrin", Role.ADMIN, None, None),
    BENEFICIARY_LOGIN: ("Anaïs Le Goff", Role.BENEFICIARY, None, "75"),
}
DEMO_LOGINS: dict[str, str] = {login: spec[1].value for login, spec in USERS.items()}
SIAO_LOGIN = {"75": "siao.75@demo.siao", "93": "siao.93@demo.siao"}
# (organisation, territory, first and last household number, its social worker or None)
FOLLOWED = [
    ("alpha", "75", 1, 40, "sw.alpha@demo.siao"),
    ("beta", "75", 41, 80, "sw.beta@demo.siao"),
    ("gamma", "93", 1, 12, None),
]
HOUSEHOLDS = {"75": 150, "93": 50}

LAST_NAMES = [
    "N'Diaye",
    "Da Silva",
    "Le Goff",
    "Martin-Dubois",
    "Müller",
    "Diallo",
    "Traoré",
    "Camara",
    "Benali",
    "Mansouri",
    "Nguyen",
    "Koné",
    "Popescu",
    "Ben Saïd",
    "Yilmaz",
]
FIRST_NAMES = {
    Sex.FEMALE: [
        "Marie-Hélène",
        "Hélène",
        "Zoé",
        "Anaïs",
        "Anne-Sophie",
        "Aïssatou",
        "Fatoumata",
        "Yasmina",
        "Amina",
        "Awa",
        "Maëlys",
        "Noémie",
    ],
    Sex.MALE: [
        "Jean-Pierre",
        "Jean-Baptiste",
        "Pierre-Yves",
        "Mamadou",
        "Moussa",
        "Karim",
        "Ibrahim",
        "Oumar",
        "Mehdi",
        "Loïc",
        "Anthony",
        "Rayan",
    ],
    Sex.UNSPECIFIED: ["Camille", "Dominique", "Claude", "Sacha", "Alix", "Charlie"],
}
# Faker's French first names are of every generation; the young mostly get these.
YOUNG_NAMES = {
    Sex.FEMALE: [
        "Emma",
        "Jade",
        "Louise",
        "Chloé",
        "Léa",
        "Manon",
        "Inès",
        "Lina",
        "Maëlys",
        "Aya",
        "Sarah",
        "Zoé",
        "Anaïs",
        "Lou-Ann",
        "Mariam",
    ],
    Sex.MALE: [
        "Gabriel",
        "Léo",
        "Raphaël",
        "Noah",
        "Adam",
        "Lucas",
        "Nathan",
        "Ethan",
        "Yanis",
        "Mohamed",
        "Rayan",
        "Enzo",
        "Théo",
        "Jean-Baptiste",
        "Moussa",
    ],
    Sex.UNSPECIFIED: ["Camille", "Sacha", "Charlie", "Alix", "Eden"],
}
HOMONYMS = {("Laurent", "Dupont"), ("Hélène", "N'Diaye")}  # only where placed on purpose
SIZES = {1: 46, 2: 19, 3: 14, 4: 10, 5: 6, 6: 3, 7: 1, 8: 1}


@dataclass(frozen=True)
class Spec:
    """One member to create; what is None is drawn at random."""

    rel: Relationship
    sex: Sex | None = None
    first: str | None = None
    last: str | None = None
    usage: str | None = None
    born: date | None = None
    age: int | None = None


F, M = Sex.FEMALE, Sex.MALE
FORCED: dict[str, list[Spec]] = {
    "7500000001": [
        Spec(R.REFERENCE_PERSON, F, "Anaïs", "Le Goff", age=34),
        Spec(R.CHILD, F, "Zoé", "Le Goff", age=9),
        Spec(R.CHILD, M, "Noah", "Le Goff", age=4),
    ],
    "7500000002": [Spec(R.REFERENCE_PERSON, M, "Laurent", "Dupont", born=date(1971, 3, 14))],
    "7500000003": [
        Spec(R.REFERENCE_PERSON, M, "Jean-Pierre", "Martin-Dubois", age=58),
        Spec(R.SPOUSE, F, "Marie-Hélène", "Da Silva", "Martin-Dubois", age=55),
    ],
    "7500000007": [
        Spec(R.REFERENCE_PERSON, F, "Hélène", "N'Diaye", born=date(1988, 5, 21)),
        Spec(R.CHILD),
    ],
    "7500000045": [
        Spec(R.REFERENCE_PERSON, M, "Laurent", "Dupont", born=date(1983, 9, 2)),
        Spec(R.SPOUSE, F),
        Spec(R.CHILD),
        Spec(R.CHILD),
    ],
    "7500000085": [Spec(R.REFERENCE_PERSON, F, age=38), Spec(R.CHILD), Spec(R.CHILD, age=12)],
    "7500000087": [Spec(R.REFERENCE_PERSON, M, age=41)],
    "7500000090": [Spec(R.REFERENCE_PERSON, F), Spec(R.SPOUSE, M), Spec(R.CHILD), Spec(R.CHILD)],
    "7500000095": [Spec(R.REFERENCE_PERSON, M, age=45)],
    "7500000100": [
        Spec(R.REFERENCE_PERSON, M, age=48),
        Spec(R.SPOUSE, F),
        Spec(R.CHILD, M, age=20),
        Spec(R.CHILD),
    ],
    "7500000110": [
        Spec(R.REFERENCE_PERSON, M, age=50),
        Spec(R.SPOUSE, F),
        Spec(R.PARENT, F, age=79),
    ],
    "7500000112": [Spec(R.REFERENCE_PERSON, F, age=47), Spec(R.CHILD)],
    "7500000120": [Spec(R.REFERENCE_PERSON, F, age=27), Spec(R.CHILD, age=3)],
    "7500000130": [Spec(R.REFERENCE_PERSON, F, age=58)],
    "7500000140": [
        Spec(R.REFERENCE_PERSON, F, age=44),
        Spec(R.CHILD),
        Spec(R.OTHER_RELATIVE, age=17),
    ],
    "7500000142": [Spec(R.REFERENCE_PERSON, M, age=52), Spec(R.SPOUSE, F)],
    "7500000150": [],  # born of a move
    "9300000001": [
        Spec(R.REFERENCE_PERSON, M, last="Müller", age=39),
        Spec(R.SPOUSE, F),
        Spec(R.CHILD),
    ],
    "9300000002": [Spec(R.REFERENCE_PERSON, F, "Hélène", "N'Diaye", born=date(1979, 12, 2))],
    "9300000003": [Spec(R.REFERENCE_PERSON, M, "Laurent", "Dupont", born=date(1965, 11, 27))],
    "9300000020": [Spec(R.REFERENCE_PERSON, F), Spec(R.SPOUSE, M), Spec(R.CHILD)],
    "9300000022": [Spec(R.REFERENCE_PERSON, M, age=39)],
    "9300000025": [Spec(R.REFERENCE_PERSON, M, age=36), Spec(R.SIBLING, M)],
    "9300000027": [Spec(R.REFERENCE_PERSON, M, age=44)],
    "9300000030": [
        Spec(R.REFERENCE_PERSON, F, age=46),
        Spec(R.SPOUSE, M),
        Spec(R.CHILD, F, age=21),
        Spec(R.CHILD),
    ],
    "9300000040": [Spec(R.REFERENCE_PERSON, M, age=33)],
    "9300000041": [Spec(R.REFERENCE_PERSON, F, age=31), Spec(R.CHILD)],
    "9300000050": [],  # born of a move
}
# (source, target, [(member index in the source's composition, relationship there)], days
# after both exist; a target not created yet is created by the move, at its own instant).
MOVES: list[tuple[str, str, list[tuple[int, Relationship]], int]] = [
    ("7500000120", "7500000130", [(0, R.CHILD), (1, R.OTHER_RELATIVE)], 40),  # closes 120
    ("9300000040", "9300000041", [(0, R.SPOUSE)], 60),  # closes 40
    ("7500000100", "7500000150", [(2, R.REFERENCE_PERSON)], 0),  # leaves home
    ("9300000030", "9300000050", [(2, R.REFERENCE_PERSON)], 0),
    ("7500000090", "7500000095", [(1, R.OTHER)], 35),  # separation, hosted by a friend
    ("9300000020", "9300000022", [(1, R.OTHER)], 50),
    ("7500000085", "7500000087", [(2, R.CHILD)], 70),  # goes to live with the father
    ("7500000110", "7500000112", [(2, R.PARENT)], 90),  # grandmother, to her daughter's
    ("9300000025", "9300000027", [(1, R.OTHER)], 45),
    ("7500000140", "7500000142", [(2, R.OTHER_RELATIVE)], 30),
]
STATUSES = {  # (kind, recent?) -> weights
    (DemandKind.EMERGENCY, True): {DemandStatus.SUBMITTED: 8, DemandStatus.PLACED: 2},
    (DemandKind.EMERGENCY, False): {
        DemandStatus.PLACED: 6,
        DemandStatus.UNMET: 3,
        DemandStatus.SUBMITTED: 1,
        DemandStatus.CANCELLED: 1,
    },
    (DemandKind.INSERTION, True): {
        DemandStatus.DRAFT: 2,
        DemandStatus.SUBMITTED: 4,
        DemandStatus.IN_REVIEW: 4,
        DemandStatus.ORIENTED: 2,
        DemandStatus.CANCELLED: 1,
    },
    (DemandKind.INSERTION, False): {
        DemandStatus.DRAFT: 1,
        DemandStatus.IN_REVIEW: 1,
        DemandStatus.ORIENTED: 2,
        DemandStatus.ACCEPTED: 2,
        DemandStatus.IN_STAY: 4,
        DemandStatus.CLOSED: 3,
        DemandStatus.CANCELLED: 1,
    },
}


def demo_id(kind: str, n: int | str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{n}")


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def _created(values: dict[str, Any]) -> dict[str, Any]:
    """The `changes` of a creation, as `resolvers.audit.field_changes({}, values)` writes it."""
    return {
        k: {"before": None, "after": _json(v)} for k, v in sorted(values.items()) if v is not None
    }


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


# Households flagged as protected (violence): one accompanied by Alpha, one by Bêta, one
# followed by nobody in 75, one in 93.
PROTECTED_REFERENCES = frozenset({"7500000003", "7500000042", "7500000090", "9300000005"})
NATIONALITIES = (
    "Française",
    "Française",
    "Française",
    "Algérienne",
    "Marocaine",
    "Malienne",
    "Ivoirienne",
    "Afghane",
    "Roumaine",
    "Syrienne",
    "Érythréenne",
    None,
)


class DemoBuilder:
    """Builds every row in memory, in a fixed order, from one seeded generator."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        # Contact details draw from their own generator, so that adding them did not
        # change any name, date or composition drawn from `rng`.
        self.contact_rng = random.Random(SEED + 1)
        self.queue_rng = random.Random(SEED + 2)
        self.fake = Faker("fr_FR")
        self.fake.seed_instance(SEED)
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
        return str(self.fake.last_name())

    def _first_name(self, sex: Sex, born: date) -> str:
        if born.year >= 1995 and self.rng.random() < 0.8:
            return self.rng.choice(YOUNG_NAMES[sex])
        if sex is Sex.UNSPECIFIED or self.rng.random() < 0.25:
            return self.rng.choice(FIRST_NAMES[sex])
        name = self.fake.first_name_female() if sex is F else self.fake.first_name_male()
        return str(name)

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


async def load_demo(url: str) -> str:
    """Insert the demo data in one transaction, unless `admin@demo.siao` already exists."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            if await conn.scalar(select(User.id).where(User.login == ADMIN_LOGIN)) is not None:
                return "already loaded"
            builder = DemoBuilder()
            builder.build()
            for table, rows in builder.tables():
                if table is Territory:  # reference data: `bench seed` may have added them
                    await conn.execute(pg_insert(table).on_conflict_do_nothing(), rows)
                else:
                    await conn.execute(insert(table), rows)
            structures = await load_structures(
                conn, lambda key: demo_id("organisation", key), [d["id"] for d in builder.demands]
            )
            return f"{builder.summary()}, {structures}"
    finally:
        await engine.dispose()
