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
The rows are built by `models.demo_builder.DemoBuilder`: the households, their members and
their history by `models.demo_households`, from the names and compositions of
`models.demo_people`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from auth.policy import Role
from models.database import create_engine
from models.demand import DemandKind, DemandStatus
from models.demo_structures import load_structures
from models.organisation import OrganisationKind, Territory, User

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


# Households flagged as protected (violence): one accompanied by Alpha, one by Bêta, one
# followed by nobody in 75, one in 93.
PROTECTED_REFERENCES = frozenset({"7500000003", "7500000042", "7500000090", "9300000005"})


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


async def load_demo(url: str) -> str:
    """Insert the demo data in one transaction, unless `admin@demo.siao` already exists."""
    from models.demo_builder import DemoBuilder  # it reads this module's constants

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
