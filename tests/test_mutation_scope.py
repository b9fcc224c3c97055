"""Mutations check scope first: an id the actor may not see answers exactly like an id that
does not exist (same userErrors or errors, same statements), and nothing changes; a merge
or an unmerge that would move a record out of the actor's scope is NOT_FOUND; a structure
acts only on its own orientations and stays.

Each case below sends one mutation three times: with a random id of the right type (to warm
up), with an id the actor may not see, and with another random id; the last two answers
must be equal, `extensions.sql.statements` included. `test_every_id_of_every_mutation_has_a_
case` fails when a mutation gains an id argument without a case here."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.file_upload import FileVar
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import GraphQLInputObjectType, get_named_type
from starlette.applications import Starlette

from schema import build_schema
from tests.conftest import Answer, Run, one_row
from tests.test_merge import MERGE, UNMERGE, _duplicate
from tests.test_mutations import CREATE_DEMAND, gid

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40
BETA = "sw.beta@demo.siao"  # accompanies 7500000041-80
SIAO = "siao.75@demo.siao"
SIAO_93 = "siao.93@demo.siao"
MANAGER = "manager.chrs@demo.siao"  # CHRS Les Tilleuls
BENEFICIARY = "beneficiary@demo.siao"  # household 7500000001

ALPHAS = "7500000004"  # Alpha's, three members
SMALL = "7500000002"  # Alpha's, one member; oriented to the CHRS (in its scope)
BETAS = "7500000041"  # Beta's, with demands and notes
BETAS_BIG = "7500000043"  # Beta's, three members
OWN = "7500000001"  # the beneficiary's
H93 = "9300000001"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

HOUSEHOLD_ERRORS = "userErrors { code message field currentVersion }"
DEMAND_ERRORS = "userErrors { code message field currentStatus currentVersion }"
LIFECYCLE = f"{DEMAND_ERRORS} demand {{ id }} orientation {{ id }} stay {{ id }}"
NOTE = "userErrors { code message field currentVersion } note { id }"
# mutation -> (input type, selection of its payload)
PAYLOADS: dict[str, tuple[str, str]] = {
    "addHouseholdMember": (
        "AddHouseholdMemberInput",
        f"{HOUSEHOLD_ERRORS} household {{ id }} person {{ id }}",
    ),
    "moveHouseholdMember": (
        "MoveHouseholdMemberInput",
        f"{HOUSEHOLD_ERRORS} household {{ id }} person {{ id }}",
    ),
    "updatePerson": ("UpdatePersonInput", f"{HOUSEHOLD_ERRORS} person {{ id }}"),
    "createDemand": ("CreateDemandInput", f"{DEMAND_ERRORS} demand {{ id }}"),
    "submitDemand": ("DemandActionInput", LIFECYCLE),
    "reviewDemand": ("DemandActionInput", LIFECYCLE),
    "proposeOrientation": ("ProposeOrientationInput", LIFECYCLE),
    "decideOrientation": ("DecideOrientationInput", LIFECYCLE),
    "admit": ("AdmitInput", LIFECYCLE),
    "recordExit": ("RecordExitInput", LIFECYCLE),
    "closeDemand": ("DemandActionInput", LIFECYCLE),
    "cancelDemand": ("DemandActionInput", LIFECYCLE),
    "placeForNight": ("PlaceForNightInput", LIFECYCLE),
    "recordUnmet": ("DemandActionInput", LIFECYCLE),
    "declareVacancies": ("DeclareVacanciesInput", f"{DEMAND_ERRORS} place {{ id }}"),
    "setDemandPriority": ("SetDemandPriorityInput", f"{DEMAND_ERRORS} demand {{ id }}"),
    "mergePersons": (
        "MergePersonsInput",
        "userErrors { code message field } mergeId person { id }",
    ),
    "unmergePersons": (
        "UnmergePersonsInput",
        "userErrors { code message field } mergeId person { id }",
    ),
    "recordEvaluation": (
        "RecordEvaluationInput",
        "userErrors { code message field } evaluation { id }",
    ),
    "createNote": ("CreateNoteInput", NOTE),
    "updateNote": ("UpdateNoteInput", NOTE),
    "deleteNote": (
        "DeleteNoteInput",
        "userErrors { code message field currentVersion } deletedNoteId",
    ),
    "pinNote": ("PinNoteInput", NOTE),
    "unpinNote": ("UnpinNoteInput", NOTE),
    "updateHouseholdSituation": (
        "UpdateHouseholdSituationInput",
        "userErrors { code message field currentVersion changesSince { field } } "
        "section version savedAt household { id }",
    ),
    "addAttachment": ("AddAttachmentInput", "userErrors { code message field } attachment { id }"),
    "deleteAttachment": (
        "DeleteAttachmentInput",
        "userErrors { code message field } deletedAttachmentId",
    ),
    "startAccompaniment": (
        "StartAccompanimentInput",
        "userErrors { code message field } accompaniment { id } household { id }",
    ),
    "transferAccompaniment": (
        "TransferAccompanimentInput",
        "userErrors { code message field } ended { id } started { id } household { id }",
    ),
    "endAccompaniment": (
        "EndAccompanimentInput",
        "userErrors { code message field } accompaniment { id } household { id }",
    ),
}
DOCUMENTS = {
    name: f"mutation ($input: {input_type}!) {{ {name}(input: $input) {{ {selection} }} }}"
    for name, (input_type, selection) in PAYLOADS.items()
}
EXIT = DOCUMENTS["recordExit"]
TABLES = (
    "households",
    "persons",
    "memberships",
    "accompaniments",
    "demands",
    "demand_persons",
    "orientations",
    "stays",
    "places",
    "evaluations",
    "notes",
    "note_persons",
    "situation_sections",
    "attachments",
    "person_merges",
    "audit_events",
)


async def state(sql: asyncpg.Connection) -> dict[str, str]:
    """Every row of every table a mutation writes, hashed: what a refusal must not change."""
    return {
        table: await sql.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t"
        )
        for table in TABLES
    }


@dataclass
class Demo:
    """Ids of the demo data, and the setups some cases need (through the API)."""

    sql: asyncpg.Connection
    as_user: Viewer

    async def household(self, reference: str) -> str:
        row = await one_row(self.sql, "SELECT id FROM households WHERE reference = $1", reference)
        return gid("Household", row["id"])

    async def version(self, reference: str) -> int:
        row = await one_row(
            self.sql, "SELECT version FROM households WHERE reference = $1", reference
        )
        return int(row["version"])

    async def member(self, reference: str, reference_person: bool = True) -> str:
        row = await one_row(
            self.sql,
            "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
            "WHERE h.reference = $1 AND upper_inf(m.validity) "
            "AND (m.relationship = 'REFERENCE_PERSON') = $2 ORDER BY m.person_id LIMIT 1",
            reference,
            reference_person,
        )
        return gid("Person", row["person_id"])

    async def demand(self, reference: str) -> str:
        row = await one_row(
            self.sql,
            "SELECT d.id FROM demands d JOIN households h ON h.id = d.household_id "
            "WHERE h.reference = $1 ORDER BY d.id LIMIT 1",
            reference,
        )
        return gid("Demand", row["id"])

    async def note(self, reference: str) -> str:
        row = await one_row(
            self.sql,
            "SELECT n.id FROM notes n JOIN households h ON h.id = n.household_id "
            "WHERE h.reference = $1 AND n.deleted_at IS NULL ORDER BY n.id LIMIT 1",
            reference,
        )
        return gid("Note", row["id"])

    async def place(self, structure: str, place_type: str) -> str:
        row = await one_row(
            self.sql,
            "SELECT p.id FROM places p JOIN organisations o ON o.id = p.organisation_id "
            "WHERE o.name = $1 AND p.place_type = $2",
            structure,
            place_type,
        )
        return gid("Place", row["id"])

    async def new_demand(self, reference: str, kind: str, login: str = SIAO) -> str:
        answer = await self.as_user(login)(
            CREATE_DEMAND, input={"householdId": await self.household(reference), "kind": kind}
        )
        assert answer.data is not None, answer.errors
        assert answer.data["createDemand"]["userErrors"] == []
        return str(answer.data["createDemand"]["demand"]["id"])

    async def lifecycle(self, login: str, mutation: str, **data: Any) -> dict[str, Any]:
        answer = await self.as_user(login)(DOCUMENTS[mutation], input=data)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        result: dict[str, Any] = answer.data[mutation]
        assert result["userErrors"] == [], result["userErrors"]
        return result

    async def other_structures_orientation(self) -> str:
        """An orientation of a household the CHRS follows (it is oriented to it) to another
        structure, the CHU, proposed by the SIAO."""
        demand = await self.new_demand(SMALL, "INSERTION")
        chu = await self.place("CHU Les Glycines", "EMERGENCY")
        proposed = await self.lifecycle(SIAO, "proposeOrientation", demandId=demand, placeId=chu)
        return str(proposed["orientation"]["id"])

    async def other_structures_stay(self) -> str:
        """The demand of a stay at the CHU of a household the CHRS follows."""
        demand = await self.new_demand(SMALL, "EMERGENCY")
        chu = await self.place("CHU Les Glycines", "EMERGENCY")
        await self.lifecycle(SIAO, "placeForNight", demandId=demand, placeId=chu)
        return demand

    async def attachment(self, reference: str) -> str:
        """An attachment of the household's activity section, written directly."""
        attachment = uuid.uuid4()
        await self.sql.execute(
            "INSERT INTO attachments (id, household_id, person_id, section, file_name, "
            "content_type, size, sha256, storage_key) SELECT $1, h.id, NULL, 'HOUSING_STEPS', "
            "'avis.pdf', 'application/pdf', 2048, repeat('ab', 32), $2 FROM households h "
            "WHERE h.reference = $3",
            attachment,
            f"test/{attachment}",
            reference,
        )
        return gid("Attachment", attachment)

    async def merge_of_93(self) -> str:
        """A merge the SIAO of 93 made of two records of a 93 person."""
        run = self.as_user(SIAO_93)
        original, duplicate, _ = await _duplicate(run, self.sql, H93, territory="93")
        answer = await run(
            MERGE,
            input={
                "keepId": gid("Person", original["id"]),
                "mergeId": duplicate,
                "dropOverlappingMemberships": True,
            },
        )
        assert answer.data is not None, answer.errors
        assert answer.data["mergePersons"]["userErrors"] == []
        return str(answer.data["mergePersons"]["mergeId"])


@dataclass
class Probe:
    """One mutation as `login`, with `input`, whose `input_field` is `out` (an id the actor
    may not see) or a random id of type `kind`."""

    login: str
    mutation: str
    input: dict[str, Any]
    input_field: str
    out: str
    kind: str
    listed: bool = False

    def with_id(self, value: str) -> dict[str, Any]:
        return {**self.input, self.input_field: [value] if self.listed else value}

    def random(self) -> dict[str, Any]:
        return self.with_id(gid(self.kind, uuid.uuid4()))


Build = Callable[[Demo], Awaitable[Probe]]


@dataclass(frozen=True)
class Case:
    mutation: str
    input_field: str
    variant: str
    build: Build

    @property
    def name(self) -> str:
        suffix = f"[{self.variant}]" if self.variant else ""
        return f"{self.mutation}.{self.input_field}{suffix}"


CASES: list[Case] = []


def case(mutation: str, id_field: str, variant: str = "") -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        CASES.append(Case(mutation, id_field, variant, build))
        return build

    return register


def person(first: str = "Zoé", relationship: str = "CHILD") -> dict[str, Any]:
    return {"firstName": first, "lastName": "Martin", "relationship": relationship}


@case("addHouseholdMember", "householdId")
async def _add_to_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "addHouseholdMember",
        {"expectedVersion": 1, "person": person()},
        "householdId",
        await d.household(BETAS),
        "Household",
    )


@case("addHouseholdMember", "personId")
async def _add_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "addHouseholdMember",
        {"householdId": await d.household(ALPHAS), "expectedVersion": await d.version(ALPHAS)},
        "personId",
        await d.member(BETAS),
        "Person",
    )


@case("moveHouseholdMember", "personId")
async def _move_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "moveHouseholdMember",
        {"toHouseholdId": await d.household(ALPHAS)},
        "personId",
        await d.member(BETAS),
        "Person",
    )


@case("moveHouseholdMember", "personId", "to her own household")
async def _move_betas_person_home(d: Demo) -> Probe:
    """SAME_HOUSEHOLD would tell that she lives there."""
    return Probe(
        ALPHA,
        "moveHouseholdMember",
        {"toHouseholdId": await d.household(BETAS)},
        "personId",
        await d.member(BETAS),
        "Person",
    )


@case("moveHouseholdMember", "personId", "to a new household")
async def _move_betas_person_out(d: Demo) -> Probe:
    return Probe(ALPHA, "moveHouseholdMember", {}, "personId", await d.member(BETAS), "Person")


@case("moveHouseholdMember", "toHouseholdId")
async def _move_to_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "moveHouseholdMember",
        {"personId": await d.member(ALPHAS, reference_person=False)},
        "toHouseholdId",
        await d.household(BETAS),
        "Household",
    )


@case("updatePerson", "personId")
async def _update_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "updatePerson",
        {"expectedVersion": 1, "usageName": "Autre"},
        "personId",
        await d.member(BETAS),
        "Person",
    )


@case("createDemand", "householdId")
async def _demand_for_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "createDemand",
        {"kind": "EMERGENCY"},
        "householdId",
        await d.household(BETAS),
        "Household",
    )


@case("createDemand", "householdId", "beneficiary")
async def _beneficiary_demand_elsewhere(d: Demo) -> Probe:
    return Probe(
        BENEFICIARY,
        "createDemand",
        {"kind": "EMERGENCY"},
        "householdId",
        await d.household(SMALL),
        "Household",
    )


@case("createDemand", "concernedPersonIds")
async def _demand_concerning_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "createDemand",
        {"householdId": await d.household(ALPHAS), "kind": "INSERTION"},
        "concernedPersonIds",
        await d.member(BETAS),
        "Person",
        listed=True,
    )


def _demand_action(mutation: str, login: str, reference: str, **extra: Any) -> Build:
    async def build(d: Demo) -> Probe:
        return Probe(login, mutation, extra, "demandId", await d.demand(reference), "Demand")

    return build


for _mutation, _login, _reference in [
    ("submitDemand", ALPHA, BETAS),
    ("closeDemand", ALPHA, BETAS),
    ("cancelDemand", ALPHA, BETAS),
    ("reviewDemand", SIAO, H93),
    ("recordUnmet", SIAO, H93),
]:
    case(_mutation, "demandId")(_demand_action(_mutation, _login, _reference))
case("cancelDemand", "demandId", "beneficiary")(_demand_action("cancelDemand", BENEFICIARY, SMALL))
case("recordExit", "demandId", "SIAO")(_demand_action("recordExit", SIAO, H93, reason="LEFT"))
case("setDemandPriority", "demandId")(
    _demand_action(
        "setDemandPriority", SIAO, H93, priority=1, reason="Enfant de 2 mois", expectedVersion=1
    )
)


@case("proposeOrientation", "demandId")
async def _propose_93(d: Demo) -> Probe:
    place = await d.place("CHRS Les Tilleuls", "INSERTION")
    return Probe(
        SIAO, "proposeOrientation", {"placeId": place}, "demandId", await d.demand(H93), "Demand"
    )


@case("proposeOrientation", "placeId")
async def _propose_to_93(d: Demo) -> Probe:
    demand = await d.new_demand(ALPHAS, "INSERTION")
    place = await d.place("Résidence sociale Les Acacias", "INSERTION")
    return Probe(SIAO, "proposeOrientation", {"demandId": demand}, "placeId", place, "Place")


@case("placeForNight", "demandId")
async def _place_93(d: Demo) -> Probe:
    place = await d.place("CHU Les Glycines", "EMERGENCY")
    return Probe(
        SIAO, "placeForNight", {"placeId": place}, "demandId", await d.demand(H93), "Demand"
    )


@case("placeForNight", "placeId")
async def _place_in_93(d: Demo) -> Probe:
    demand = await d.new_demand(ALPHAS, "EMERGENCY")
    place = await d.place("Résidence sociale Les Acacias", "INSERTION")
    return Probe(SIAO, "placeForNight", {"demandId": demand}, "placeId", place, "Place")


@case("decideOrientation", "orientationId", "another structure's")
async def _decide_for_the_chu(d: Demo) -> Probe:
    orientation = await d.other_structures_orientation()
    return Probe(
        MANAGER, "decideOrientation", {"accept": True}, "orientationId", orientation, "Orientation"
    )


@case("decideOrientation", "orientationId", "out of scope")
async def _decide_in_93(d: Demo) -> Probe:
    row = await one_row(
        d.sql,
        "SELECT o.id FROM orientations o JOIN households h ON h.id = o.household_id "
        "WHERE h.territory_code = '93' AND o.status = 'PROPOSED' ORDER BY o.id LIMIT 1",
    )
    return Probe(
        MANAGER,
        "decideOrientation",
        {"accept": False, "refusalReason": "OTHER"},
        "orientationId",
        gid("Orientation", row["id"]),
        "Orientation",
    )


@case("admit", "orientationId", "another structure's")
async def _admit_at_the_chu(d: Demo) -> Probe:
    orientation = await d.other_structures_orientation()
    # as if the CHU had accepted it
    await d.sql.execute(
        "UPDATE orientations SET status = 'ACCEPTED' WHERE id = $1",
        uuid.UUID(_raw(orientation)),
    )
    await d.sql.execute(
        "UPDATE demands SET status = 'ACCEPTED' WHERE id = "
        "(SELECT demand_id FROM orientations WHERE id = $1)",
        uuid.UUID(_raw(orientation)),
    )
    return Probe(MANAGER, "admit", {}, "orientationId", orientation, "Orientation")


@case("recordExit", "demandId", "another structure's stay")
async def _exit_from_the_chu(d: Demo) -> Probe:
    demand = await d.other_structures_stay()
    return Probe(MANAGER, "recordExit", {"reason": "LEFT"}, "demandId", demand, "Demand")


@case("declareVacancies", "placeId")
async def _declare_for_the_chu(d: Demo) -> Probe:
    place = await d.place("CHU Les Glycines", "EMERGENCY")
    return Probe(
        MANAGER,
        "declareVacancies",
        {"vacancies": 0, "expectedVersion": 1},
        "placeId",
        place,
        "Place",
    )


@case("mergePersons", "keepId")
async def _keep_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "mergePersons",
        {"mergeId": await d.member(ALPHAS, reference_person=False)},
        "keepId",
        await d.member(BETAS),
        "Person",
    )


@case("mergePersons", "mergeId")
async def _merge_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "mergePersons",
        {"keepId": await d.member(ALPHAS), "dropOverlappingMemberships": True},
        "mergeId",
        await d.member(BETAS),
        "Person",
    )


@case("mergePersons", "mergeId", "SIAO, another territory")
async def _merge_93_person(d: Demo) -> Probe:
    return Probe(
        SIAO,
        "mergePersons",
        {"keepId": await d.member(ALPHAS), "dropOverlappingMemberships": True},
        "mergeId",
        await d.member(H93),
        "Person",
    )


@case("unmergePersons", "mergeId")
async def _unmerge_93(d: Demo) -> Probe:
    return Probe(SIAO, "unmergePersons", {}, "mergeId", await d.merge_of_93(), "PersonMerge")


@case("recordEvaluation", "householdId")
async def _evaluate_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "recordEvaluation",
        {"kind": "FLASH", "vulnerabilityLevel": 2},
        "householdId",
        await d.household(BETAS),
        "Household",
    )


@case("createNote", "householdId")
async def _note_on_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "createNote",
        {"title": "Appel", "body": "Rappeler lundi."},
        "householdId",
        await d.household(BETAS),
        "Household",
    )


@case("createNote", "concernedPersonIds")
async def _note_about_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "createNote",
        {"householdId": await d.household(ALPHAS), "title": "Appel", "body": "Rappeler lundi."},
        "concernedPersonIds",
        await d.member(BETAS),
        "Person",
        listed=True,
    )


def _note_action(mutation: str, **extra: Any) -> Build:
    async def build(d: Demo) -> Probe:
        return Probe(ALPHA, mutation, extra, "noteId", await d.note(BETAS), "Note")

    return build


case("updateNote", "noteId")(_note_action("updateNote", expectedVersion=1, title="Autre"))
case("deleteNote", "noteId")(_note_action("deleteNote"))
case("pinNote", "noteId")(
    _note_action("pinNote", until=(datetime.now(UTC) + timedelta(days=7)).isoformat())
)
case("unpinNote", "noteId")(_note_action("unpinNote"))


@case("updateHouseholdSituation", "householdId")
async def _save_betas_situation(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "updateHouseholdSituation",
        {"expectedVersion": 0, "patch": {"housingSteps": {"comment": "Dossier SNE"}}},
        "householdId",
        await d.household(BETAS),
        "Household",
    )


@case("updateHouseholdSituation", "personId")
async def _save_betas_persons_health(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "updateHouseholdSituation",
        {
            "householdId": await d.household(ALPHAS),
            "expectedVersion": 0,
            "patch": {"medicoSocial": {"pregnant": True}},
        },
        "personId",
        await d.member(BETAS),
        "Person",
    )


@case("addAttachment", "householdId")
async def _attach_to_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "addAttachment",
        {"section": "HOUSING_STEPS"},
        "householdId",
        await d.household(BETAS),
        "Household",
    )


@case("addAttachment", "personId")
async def _attach_to_betas_person(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "addAttachment",
        {"householdId": await d.household(ALPHAS), "section": "MEDICO_SOCIAL"},
        "personId",
        await d.member(BETAS),
        "Person",
    )


@case("deleteAttachment", "attachmentId")
async def _remove_betas_attachment(d: Demo) -> Probe:
    return Probe(
        ALPHA, "deleteAttachment", {}, "attachmentId", await d.attachment(BETAS), "Attachment"
    )


async def _organisation(d: Demo, login: str) -> str:
    row = await one_row(d.sql, "SELECT organisation_id FROM users WHERE login = $1", login)
    return gid("Organisation", row["organisation_id"])


async def _user(d: Demo, login: str) -> str:
    return gid("User", (await one_row(d.sql, "SELECT id FROM users WHERE login = $1", login))["id"])


async def _accompaniment(d: Demo, reference: str) -> str:
    row = await one_row(
        d.sql,
        "SELECT a.id FROM accompaniments a JOIN households h ON h.id = a.household_id "
        "WHERE h.reference = $1 AND a.validity @> now() ORDER BY a.id LIMIT 1",
        reference,
    )
    return gid("Accompaniment", row["id"])


async def _gamma(d: Demo) -> str:
    return await _organisation(d, "siao.93@demo.siao")  # an organisation of 93


@case("startAccompaniment", "householdId")
async def _start_on_93(d: Demo) -> Probe:
    return Probe(
        SIAO,
        "startAccompaniment",
        {"organisationId": await _organisation(d, BETA), "role": "PATH_REFERENT"},
        "householdId",
        await d.household(H93),
        "Household",
    )


@case("startAccompaniment", "organisationId")
async def _start_with_93s_organisation(d: Demo) -> Probe:
    return Probe(
        SIAO,
        "startAccompaniment",
        {"householdId": await d.household(ALPHAS), "role": "PATH_REFERENT"},
        "organisationId",
        await _gamma(d),
        "Organisation",
    )


@case("startAccompaniment", "referentUserId")
async def _start_with_another_organisations_worker(d: Demo) -> Probe:
    return Probe(
        SIAO,
        "startAccompaniment",
        {
            "householdId": await d.household(ALPHAS),
            "organisationId": await _organisation(d, BETA),
            "role": "PATH_REFERENT",
        },
        "referentUserId",
        await _user(d, ALPHA),
        "User",
    )


@case("endAccompaniment", "accompanimentId")
async def _end_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "endAccompaniment",
        {"reason": "OTHER"},
        "accompanimentId",
        await _accompaniment(d, BETAS),
        "Accompaniment",
    )


@case("transferAccompaniment", "accompanimentId")
async def _transfer_betas(d: Demo) -> Probe:
    return Probe(
        ALPHA,
        "transferAccompaniment",
        {"toOrganisationId": await _organisation(d, ALPHA)},
        "accompanimentId",
        await _accompaniment(d, BETAS),
        "Accompaniment",
    )


@case("transferAccompaniment", "toOrganisationId")
async def _transfer_to_93(d: Demo) -> Probe:
    return Probe(
        SIAO,
        "transferAccompaniment",
        {"accompanimentId": await _accompaniment(d, ALPHAS)},
        "toOrganisationId",
        await _gamma(d),
        "Organisation",
    )


@case("transferAccompaniment", "toReferentUserId")
async def _transfer_to_another_organisations_worker(d: Demo) -> Probe:
    return Probe(
        SIAO,
        "transferAccompaniment",
        {
            "accompanimentId": await _accompaniment(d, ALPHAS),
            "toOrganisationId": await _organisation(d, BETA),
        },
        "toReferentUserId",
        await _user(d, ALPHA),
        "User",
    )


def _raw(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]


def _ids_of_mutations() -> set[tuple[str, str]]:
    """(mutation, input field) for every ID (or list of IDs) a mutation's input takes,
    nested inputs included."""
    schema = build_schema()._schema
    assert schema.mutation_type is not None
    found = set()

    def walk(mutation: str, input_type: GraphQLInputObjectType, seen: set[str]) -> None:
        for name, input_field in input_type.fields.items():
            named = get_named_type(input_field.type)
            if named.name == "ID":
                found.add((mutation, name))
            elif isinstance(named, GraphQLInputObjectType) and named.name not in seen:
                walk(mutation, named, seen | {named.name})

    for mutation, definition in schema.mutation_type.fields.items():
        for argument in definition.args.values():
            named = get_named_type(argument.type)
            if named.name == "ID":
                found.add((mutation, "<argument>"))
            elif isinstance(named, GraphQLInputObjectType):
                walk(mutation, named, {named.name})
    return found


def test_every_id_of_every_mutation_has_a_case() -> None:
    covered = {(c.mutation, c.input_field) for c in CASES}
    assert _ids_of_mutations() <= covered, sorted(_ids_of_mutations() - covered)
    assert set(PAYLOADS) >= {mutation for mutation, _ in _ids_of_mutations()}


def uploader(app: Starlette, token: Callable[[str], str]) -> Callable[..., Awaitable[Answer]]:
    """addAttachment as a GraphQL multipart request (a small PDF), with the preflight header."""

    async def send(login: str, document: str, variables: dict[str, Any]) -> Answer:
        transport = HTTPXAsyncTransport(
            url="http://test/graphql",
            transport=httpx.ASGITransport(app=app),
            headers={
                "Authorization": f"Bearer {token(login)}",
                "GraphQL-Require-Preflight": "1",
            },
        )
        file = FileVar(io.BytesIO(PDF), filename="avis.pdf", content_type="application/pdf")
        request = GraphQLRequest(
            document, variable_values={"input": {**variables["input"], "file": file}}
        )
        async with Client(transport=transport) as session:
            try:
                result = await session.execute(
                    request, upload_files=True, get_execution_result=True
                )
            except TransportQueryError as exc:
                return Answer(exc.data, list(exc.errors or []), dict(exc.extensions or {}))
        return Answer(result.data, list(result.errors or []), dict(result.extensions or {}))

    return send


def refused(answer: Answer, mutation: str) -> bool:
    if answer.errors:
        return True
    assert answer.data is not None
    return bool(answer.data[mutation]["userErrors"])


def statements(answer: Answer) -> int:
    return int(answer.extensions["sql"]["statements"])


@pytest.mark.parametrize("scope_case", CASES, ids=[c.name for c in CASES])
async def test_an_id_out_of_scope_answers_like_one_that_does_not_exist(
    scope_case: Case,
    as_user: Viewer,
    sql: asyncpg.Connection,
    app: Starlette,
    token: Callable[[str], str],
) -> None:
    # Given a mutation naming an id the actor may not see
    probe = await scope_case.build(Demo(sql, as_user))
    document = DOCUMENTS[probe.mutation]
    upload = uploader(app, token)

    async def send(variables: dict[str, Any]) -> Answer:
        if probe.mutation == "addAttachment":
            return await upload(probe.login, document, {"input": variables})
        return await as_user(probe.login)(document, input=variables)

    before = await state(sql)

    # When it is sent, between two sends naming ids that do not exist
    await send(probe.random())  # warms up what a first request of a process does
    hidden = await send(probe.with_id(probe.out))
    unknown = await send(probe.random())

    # Then the answers are the same, down to the statements run, and nothing changed
    assert refused(unknown, probe.mutation), unknown
    assert (hidden.data, hidden.errors) == (unknown.data, unknown.errors)
    assert statements(hidden) == statements(unknown)
    assert await state(sql) == before


# --- merges ----------------------------------------------------------------------------


async def _merge(run: Run, keep: str, duplicate: str) -> Answer:
    return await run(
        MERGE, input={"keepId": keep, "mergeId": duplicate, "dropOverlappingMemberships": True}
    )


def _merge_errors(answer: Answer) -> Any:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return answer.data["mergePersons"]


async def test_a_duplicate_whose_record_reaches_a_household_the_actor_does_not_follow(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given a person of Beta's household, with a medico-social section Beta wrote, who then
    # moved (by the SIAO) into a household Alpha accompanies
    d = Demo(sql, as_user)
    mover = await d.member(BETAS_BIG, reference_person=False)
    beta_home = await d.household(BETAS_BIG)
    saved = await as_user(BETA)(
        DOCUMENTS["updateHouseholdSituation"],
        input={
            "householdId": beta_home,
            "personId": mover,
            "expectedVersion": 0,
            "patch": {"medicoSocial": {"addiction": True}},
        },
    )
    assert saved.data is not None, saved.errors
    assert saved.data["updateHouseholdSituation"]["userErrors"] == []
    moved = await as_user(SIAO)(
        DOCUMENTS["moveHouseholdMember"],
        input={"personId": mover, "toHouseholdId": await d.household(ALPHAS)},
    )
    assert moved.data is not None, moved.errors
    assert moved.data["moveHouseholdMember"]["userErrors"] == []
    alpha = as_user(ALPHA)
    keep = await d.member(ALPHAS)
    before = await state(sql)

    # When Alpha merges her into a member of that household
    await _merge(alpha, keep, gid("Person", uuid.uuid4()))
    hidden = await _merge(alpha, keep, mover)
    unknown = await _merge(alpha, keep, gid("Person", uuid.uuid4()))

    # Then it is NOT_FOUND, as for a person that does not exist, and nothing moved
    assert _merge_errors(hidden) == _merge_errors(unknown)
    assert [e["code"] for e in _merge_errors(hidden)["userErrors"]] == ["NOT_FOUND"]
    assert statements(hidden) == statements(unknown)
    assert await state(sql) == before
    # (not so for the SIAO, who follows both households)
    by_siao = _merge_errors(await _merge(as_user(SIAO), keep, mover))["userErrors"]
    assert "NOT_FOUND" not in [e["code"] for e in by_siao]


async def test_a_person_who_left_for_a_household_the_actor_does_not_follow_stays_there(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given a duplicate entered by Alpha in a household of her own (with a demand), who
    # then moved (by the SIAO) to a household of Beta's
    d = Demo(sql, as_user)
    alpha = as_user(ALPHA)
    original, leaver, _ = await _duplicate(alpha, sql, SMALL)
    moved = await as_user(SIAO)(
        DOCUMENTS["moveHouseholdMember"],
        input={"personId": leaver, "toHouseholdId": await d.household(BETAS_BIG)},
    )
    assert moved.data is not None, moved.errors
    assert moved.data["moveHouseholdMember"]["userErrors"] == []
    keep = gid("Person", original["id"])
    before = await state(sql)

    # When Alpha merges her (once a member of a household it follows) into the original,
    # dropping her overlapping memberships
    await _merge(alpha, keep, gid("Person", uuid.uuid4()))
    hidden = await _merge(alpha, keep, leaver)
    unknown = await _merge(alpha, keep, gid("Person", uuid.uuid4()))

    # Then it is NOT_FOUND, as for a person that does not exist: she is not removed from
    # Beta's household, nothing of hers moves
    assert _merge_errors(hidden) == _merge_errors(unknown)
    assert statements(hidden) == statements(unknown)
    assert await state(sql) == before
    home = await sql.fetchval(
        "SELECT h.reference FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE m.person_id = $1 AND upper_inf(m.validity)",
        uuid.UUID(_raw(leaver)),
    )
    assert home == BETAS_BIG


async def test_a_merge_moves_no_section_of_a_category_the_actor_may_not_write(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given a duplicate with a medico-social (HEALTH) section written by Alpha
    alpha, siao = as_user(ALPHA), as_user(SIAO)
    original, duplicate, household = await _duplicate(alpha, sql, SMALL)
    saved = await alpha(
        DOCUMENTS["updateHouseholdSituation"],
        input={
            "householdId": household,
            "personId": duplicate,
            "expectedVersion": 0,
            "patch": {"medicoSocial": {"pregnant": True, "dueDate": "2027-03-01"}},
        },
    )
    assert saved.data is not None, saved.errors
    assert saved.data["updateHouseholdSituation"]["userErrors"] == []
    sections = (
        "SELECT person_id FROM situation_sections WHERE section = 'MEDICO_SOCIAL' "
        "AND person_id = ANY($1::uuid[])"
    )
    keep = gid("Person", original["id"])

    # When the SIAO (who may neither read nor write HEALTH) merges the two records
    merged = _merge_errors(await _merge(siao, keep, duplicate))

    # Then the merge is done, without telling anything about the section, which stays on
    # the merged record (the survivor gets no health data through a merge by the SIAO)
    assert merged["userErrors"] == []
    owners = await sql.fetch(sections, [original["id"], uuid.UUID(_raw(duplicate))])
    assert [r["person_id"] for r in owners] == [uuid.UUID(_raw(duplicate))]
    record = json.loads(await sql.fetchval("SELECT snapshot FROM person_merges"))
    assert [s["section"] for s in record["not_moved_sections"]] == ["MEDICO_SOCIAL"]
    assert record["moved_sections"] == []

    # And the same merge by Alpha (who may write HEALTH) moves it
    undone = await siao(UNMERGE, input={"mergeId": merged["mergeId"]})
    assert undone.data is not None, undone.errors
    assert undone.data["unmergePersons"]["userErrors"] == []
    assert _merge_errors(await _merge(alpha, keep, duplicate))["userErrors"] == []
    owners = await sql.fetch(sections, [original["id"], uuid.UUID(_raw(duplicate))])
    assert [r["person_id"] for r in owners] == [original["id"]]


async def test_an_unmerge_that_would_restore_a_household_out_of_scope_is_not_found(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given a merge by Alpha that folded a duplicate's household (closed by the merge), and
    # Alpha no longer accompanies that household
    alpha = as_user(ALPHA)
    original, duplicate, household = await _duplicate(alpha, sql, SMALL)
    merged = _merge_errors(await _merge(alpha, gid("Person", original["id"]), duplicate))
    assert merged["userErrors"] == []
    await sql.execute(
        "UPDATE accompaniments SET validity = tstzrange(lower(validity), now()) "
        "WHERE household_id = $1",
        uuid.UUID(_raw(household)),
    )
    before = await state(sql)

    # When Alpha undoes the merge
    await alpha(UNMERGE, input={"mergeId": gid("PersonMerge", uuid.uuid4())})
    hidden = await alpha(UNMERGE, input={"mergeId": merged["mergeId"]})
    unknown = await alpha(UNMERGE, input={"mergeId": gid("PersonMerge", uuid.uuid4())})

    # Then it is NOT_FOUND, as for a merge that does not exist, and nothing changed
    assert (hidden.data, hidden.errors) == (unknown.data, unknown.errors)
    assert unknown.data is not None
    assert [e["code"] for e in unknown.data["unmergePersons"]["userErrors"]] == ["NOT_FOUND"]
    assert statements(hidden) == statements(unknown)
    assert await state(sql) == before
    # (the SIAO, who sees every household of 75, may)
    undone = await as_user(SIAO)(UNMERGE, input={"mergeId": merged["mergeId"]})
    assert undone.data is not None, undone.errors
    assert undone.data["unmergePersons"]["userErrors"] == []


# --- structures ------------------------------------------------------------------------


async def test_a_structure_does_not_end_a_stay_at_another_structure(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given a household the CHRS follows, placed for the night at the CHU
    d = Demo(sql, as_user)
    demand = await d.other_structures_stay()
    manager = as_user(MANAGER)
    before = await state(sql)

    # When the CHRS's manager records its exit
    await manager(EXIT, input={"demandId": gid("Demand", uuid.uuid4()), "reason": "LEFT"})
    hidden = await manager(EXIT, input={"demandId": demand, "reason": "LEFT"})
    unknown = await manager(EXIT, input={"demandId": gid("Demand", uuid.uuid4()), "reason": "LEFT"})

    # Then it is NOT_FOUND, as for a demand that does not exist; the stay goes on
    assert (hidden.data, hidden.errors) == (unknown.data, unknown.errors)
    assert unknown.data is not None
    assert [e["code"] for e in unknown.data["recordExit"]["userErrors"]] == ["NOT_FOUND"]
    assert statements(hidden) == statements(unknown)
    assert await state(sql) == before
    # (the SIAO may end it)
    ended = await d.lifecycle(SIAO, "recordExit", demandId=demand, reason="LEFT")
    assert ended["demand"]["id"] == demand


async def test_a_structure_decides_its_own_orientations_only(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given two orientations of the same household: to the CHU, then to the CHRS
    d = Demo(sql, as_user)
    elsewhere = await d.other_structures_orientation()
    demand = await d.new_demand(SMALL, "INSERTION")
    chrs = await d.place("CHRS Les Tilleuls", "INSERTION")
    own = await d.lifecycle(SIAO, "proposeOrientation", demandId=demand, placeId=chrs)
    manager = as_user(MANAGER)
    decide = DOCUMENTS["decideOrientation"]
    before = await state(sql)

    # When the CHRS's manager accepts the CHU's, it is NOT_FOUND like a random id
    await manager(decide, input={"orientationId": gid("Orientation", uuid.uuid4()), "accept": True})
    hidden = await manager(decide, input={"orientationId": elsewhere, "accept": True})
    unknown = await manager(
        decide, input={"orientationId": gid("Orientation", uuid.uuid4()), "accept": True}
    )
    assert (hidden.data, hidden.errors) == (unknown.data, unknown.errors)
    assert statements(hidden) == statements(unknown)
    assert await state(sql) == before

    # And its own is accepted, then the household admitted
    accepted = await d.lifecycle(
        MANAGER, "decideOrientation", orientationId=own["orientation"]["id"], accept=True
    )
    assert accepted["orientation"] == {"id": own["orientation"]["id"]}
    admitted = await d.lifecycle(MANAGER, "admit", orientationId=own["orientation"]["id"])
    assert admitted["stay"] is not None
    status = await sql.fetchval(
        "SELECT status FROM orientations WHERE id = $1", uuid.UUID(_raw(elsewhere))
    )
    assert status == "PROPOSED"
