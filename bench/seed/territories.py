"""The territories of the bench data, their staff, and the references of their households.

Territories (default 75, 93, 13, 69, 59; inserted if missing), and per territory one SIAO
with one operator (`bench.siao.<code>@bench.siao`) and three associations with one social
worker each (`bench.sw.<code>.<n>@bench.siao`).

References are `<territory><number>` (`2A`/`2B` use `20`), numbered from 50,000,000 (8
digits; 5,000,000 and 7 digits after a 3-digit code): the demo data uses numbers 1 to 150,
and `household_reference_seq` would have to pass 7.5 billion (for 75; 150 million for 01)
to reach that range. A second call on the same database continues after the highest bench
reference of each territory (the unique index would refuse any collision anyway).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import asyncpg

from auth.policy import Role
from bench.seed.report import _status_count
from bench.seed.times import BASE
from models.organisation import OrganisationKind

NAMESPACE: Final = uuid.UUID("b3c1a5e0-6f0d-4b8e-9d0a-5eed5eed0001")
SETUP_AT: Final = BASE - timedelta(days=7)  # organisations and users exist before
TERRITORY_CODE = re.compile(r"^(\d{2}|2A|2B|\d{3})$")

TERRITORY_NAMES: Final = {
    "06": "Alpes-Maritimes",
    "13": "Bouches-du-Rhône",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "31": "Haute-Garonne",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "38": "Isère",
    "44": "Loire-Atlantique",
    "59": "Nord",
    "62": "Pas-de-Calais",
    "67": "Bas-Rhin",
    "69": "Rhône",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}
# Relative number of households per territory (unknown codes weigh 10).
TERRITORY_WEIGHTS: Final = {"75": 30, "93": 22, "13": 16, "69": 12, "59": 12, "92": 10, "94": 10}
ASSOCIATIONS: Final = ("Association Horizon", "Accueil Solidarité", "Entraide et Logement")
STAFF_NAMES: Final = (
    "Claire Fontaine",
    "Julien Marchand",
    "Sarah Benhamou",
    "Ousmane Diarra",
    "Élodie Lemoine",
    "Thomas Girard",
    "Nadia Cherif",
    "Lucas Perrin",
)


def _reference_range(code: str) -> tuple[str, int, int, int]:
    """(prefix, first number, last number, digits) of the bench references of a territory."""
    if code == "2A":
        return "20", 50_000_000, 74_999_999, 8
    if code == "2B":
        return "20", 75_000_000, 99_999_999, 8
    if len(code) == 2:
        return code, 50_000_000, 99_999_999, 8
    return code, 5_000_000, 9_999_999, 7


def _fixed_id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{key}")


@dataclass
class _Staff:
    """Per territory: the SIAO operator, the associations and their social workers."""

    code: str
    operator: uuid.UUID
    associations: list[uuid.UUID]
    social_workers: list[uuid.UUID]


async def _setup(
    conn: asyncpg.Connection[asyncpg.Record], codes: list[str], rows: dict[str, int]
) -> list[_Staff]:
    """The territories, and per territory its SIAO, associations and their staff (the
    rows that exist already are kept); who is who."""
    names = [TERRITORY_NAMES.get(code, f"Département {code}") for code in codes]
    status = await conn.execute(
        "INSERT INTO territories (code, name) SELECT * FROM unnest($1::text[], $2::text[]) "
        "ON CONFLICT DO NOTHING",
        codes,
        names,
    )
    rows["territories"] += _status_count(status)
    organisations: list[tuple[uuid.UUID, str, str, str, datetime]] = []
    users: list[tuple[uuid.UUID, str, str, str, uuid.UUID, str, bool, datetime]] = []
    for code, name in zip(codes, names, strict=True):
        siao = _fixed_id("organisation", f"siao:{code}")
        organisations.append((siao, f"SIAO {name}", OrganisationKind.SIAO, code, SETUP_AT))
        login = f"bench.siao.{code.lower()}@bench.siao"
        users.append(
            (
                _fixed_id("user", login),
                login,
                STAFF_NAMES[len(users) % len(STAFF_NAMES)],
                Role.SIAO_OPERATOR,
                siao,
                code,
                True,
                SETUP_AT,
            )
        )
        for n, association in enumerate(ASSOCIATIONS, start=1):
            org = _fixed_id("organisation", f"association:{code}:{n}")
            organisations.append(
                (org, f"{association} {name}", OrganisationKind.ASSOCIATION, code, SETUP_AT)
            )
            login = f"bench.sw.{code.lower()}.{n}@bench.siao"
            users.append(
                (
                    _fixed_id("user", login),
                    login,
                    STAFF_NAMES[len(users) % len(STAFF_NAMES)],
                    Role.SOCIAL_WORKER,
                    org,
                    code,
                    True,
                    SETUP_AT,
                )
            )
    status = await conn.execute(
        "INSERT INTO organisations (id, name, kind, territory_code, created_at) "
        "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        *(list(column) for column in zip(*organisations, strict=True)),
    )
    rows["organisations"] += _status_count(status)
    status = await conn.execute(
        "INSERT INTO users (id, login, display_name, role, organisation_id, territory_code, "
        "active, created_at) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], "
        "$4::text[], $5::uuid[], $6::text[], $7::bool[], $8::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        *(list(column) for column in zip(*users, strict=True)),
    )
    rows["users"] += _status_count(status)
    # The ids in the database (a login may predate this module's ids).
    ids: dict[str, uuid.UUID] = {
        r["login"]: r["id"]
        for r in await conn.fetch(
            "SELECT login, id FROM users WHERE login = ANY($1::text[])", [u[1] for u in users]
        )
    }
    staff = []
    for code in codes:
        c = code.lower()
        staff.append(
            _Staff(
                code=code,
                operator=ids[f"bench.siao.{c}@bench.siao"],
                associations=[
                    _fixed_id("organisation", f"association:{code}:{n}")
                    for n in range(1, len(ASSOCIATIONS) + 1)
                ],
                social_workers=[
                    ids[f"bench.sw.{c}.{n}@bench.siao"] for n in range(1, len(ASSOCIATIONS) + 1)
                ],
            )
        )
    return staff


async def _counters(conn: asyncpg.Connection[asyncpg.Record], codes: list[str]) -> dict[str, int]:
    """Per territory, the number of its next bench household reference."""
    counters = {}
    for code in codes:
        prefix, first, last, digits = _reference_range(code)
        highest = await conn.fetchval(
            "SELECT max(reference) FROM households WHERE reference BETWEEN $1 AND $2",
            f"{prefix}{first:0{digits}d}",
            f"{prefix}{last:0{digits}d}",
        )
        counters[code] = int(highest[len(prefix) :]) + 1 if highest else first
    return counters
