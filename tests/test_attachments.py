"""Attachments ("Pièces jointes"): uploaded with the GraphQL multipart request spec (by
gql) behind a CSRF guard, checked before anything is kept (size, type by content, declared
type), stored with a checksum under the data folder, listed only to viewers who may read
their section's category, and downloaded through a link that expires (moved clock, never
a sleep) and serves only the viewer it was made for."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.file_upload import FileVar
from gql.transport.httpx import HTTPXAsyncTransport
from starlette.applications import Starlette

from auth.settings import Settings
from models.storage import LocalStorage
from resolvers.attachment import SWEEP_AFTER, sweep
from server import create_app
from tests.conftest import Answer, Run, _plain, http_client, one_row
from tests.test_change_log import LOG
from tests.test_evaluations import household_gid
from tests.test_mutations import snapshot
from tests.test_notes import MovableClock
from tests.test_situation import reference_person

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"
OPERATOR = "siao.75@demo.siao"
HOUSEHOLD = "7500000002"
LIMIT = 64 * 1024
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
GIF = b"GIF89a" + bytes(20)

ADD = """
mutation ($input: AddAttachmentInput!) {
  addAttachment(input: $input) {
    userErrors { code message field }
    attachment {
      id fileName contentType size sha256 section category
      createdBy { displayName }
      download { url expiresAt }
    }
  }
}"""
LIST = """
query ($ref: String!) { household(reference: $ref) { situation {
  attachments { id fileName section size download { url } }
} } }"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """A data folder of the test's own (its storage starts empty) and a small limit."""
    return replace(settings, data_dir=tmp_path, max_upload_bytes=LIMIT)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime.now(UTC))


@pytest.fixture
async def app(
    settings: Settings, database_url: str, clock: MovableClock
) -> AsyncIterator[Starlette]:
    application = create_app(settings, database_url, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def store(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.attachments_dir)


@pytest.fixture
def upload(app: Starlette, token: Callable[[str], str]) -> Callable[..., Any]:
    """`await upload(login, content, name, declared_type, **input)`: addAttachment as a
    GraphQL multipart request sent by gql, with the preflight header."""

    async def send(
        login: str, content: bytes, name: str, declared: str | None, **fields: Any
    ) -> Answer:
        transport = HTTPXAsyncTransport(
            url="http://test/graphql",
            transport=httpx.ASGITransport(app=app),
            headers={
                "Authorization": f"Bearer {token(login)}",
                "GraphQL-Require-Preflight": "1",
            },
        )
        file = FileVar(io.BytesIO(content), filename=name, content_type=declared)
        request = GraphQLRequest(ADD, variable_values={"input": {**fields, "file": file}})
        async with Client(transport=transport) as session:
            try:
                result = await session.execute(
                    request, upload_files=True, get_execution_result=True
                )
            except TransportQueryError as exc:
                return Answer(exc.data, list(exc.errors or []), dict(exc.extensions or {}))
        return Answer(result.data, list(result.errors or []), dict(result.extensions or {}))

    return send


async def added(answer: Answer) -> dict[str, Any]:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    result: dict[str, Any] = answer.data["addAttachment"]
    return result


async def attach_health(upload: Callable[..., Any], sql: asyncpg.Connection) -> dict[str, Any]:
    """Alpha attaches a medical certificate to the reference person's medico-social section
    (HEALTH)."""
    return await added(
        await upload(
            ALPHA,
            PDF,
            "certificat médical.pdf",
            "application/pdf",
            householdId=await household_gid(sql, HOUSEHOLD),
            section="MEDICO_SOCIAL",
            personId=await reference_person(sql),
        )
    )


async def attach_budget(upload: Callable[..., Any], sql: asyncpg.Connection) -> dict[str, Any]:
    """Alpha attaches a CAF notice to the household's budget (BUDGET)."""
    household = await household_gid(sql, HOUSEHOLD)
    return await added(
        await upload(
            ALPHA, PNG, "avis CAF.png", "image/png", householdId=household, section="BUDGET"
        )
    )


async def attach_pdf(upload: Callable[..., Any], sql: asyncpg.Connection) -> dict[str, Any]:
    """Alpha attaches a small PDF to the household's budget."""
    household = await household_gid(sql, HOUSEHOLD)
    return await added(
        await upload(
            ALPHA, PDF, "a.pdf", "application/pdf", householdId=household, section="BUDGET"
        )
    )


async def test_a_document_is_attached_listed_and_downloaded_intact(
    upload: Callable[..., Any],
    as_user: Viewer,
    app: Starlette,
    token: Callable[[str], str],
    sql: asyncpg.Connection,
    store: LocalStorage,
) -> None:
    household = await household_gid(sql, HOUSEHOLD)
    result = await added(
        await upload(
            ALPHA,
            PDF,
            "attestation SNE.pdf",
            "application/pdf",
            householdId=household,
            section="HOUSING_STEPS",
        )
    )
    assert result["userErrors"] == []
    attachment = result["attachment"]
    assert attachment["fileName"] == "attestation SNE.pdf"
    assert (attachment["contentType"], attachment["size"]) == ("application/pdf", len(PDF))
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (attachment["section"], attachment["category"]) == ("HOUSING_STEPS", "SITUATION")
    assert attachment["createdBy"] == {"displayName": "Camille Rousseau"}
    assert len(store.keys()) == 1
    assert store.leftovers() == []

    listed = await as_user(ALPHA)(LIST, ref=HOUSEHOLD)
    assert listed.errors == [], listed.errors
    assert listed.data is not None
    (item,) = listed.data["household"]["situation"]["attachments"]
    assert item["id"] == attachment["id"]

    async with http_client(app, {"Authorization": f"Bearer {token(ALPHA)}"}) as client:
        response = await client.get(item["download"]["url"])
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-sha256"] == attachment["sha256"]
    assert "attestation%20SNE.pdf" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"

    log = await sql.fetchval(
        "SELECT changes FROM audit_events WHERE entity_type = 'HousingStepsAttachment'"
    )
    assert '"fileName": {"after": "attestation SNE.pdf", "before": null}' in log


@pytest.mark.parametrize(
    ("content", "name", "declared", "code"),
    [
        (b"%PDF-1.4\n" + bytes(LIMIT), "big.pdf", "application/pdf", "TOO_LARGE"),
        (GIF, "photo.gif", "image/gif", "FORBIDDEN_TYPE"),
        (
            b"<html><script>alert(1)</script></html>",
            "page.pdf",
            "application/pdf",
            "FORBIDDEN_TYPE",
        ),
        (PNG, "scan.pdf", "application/pdf", "TYPE_MISMATCH"),
        (PDF, "no-type.bin", None, "TYPE_MISMATCH"),  # sent as octet-stream
        (b"", "empty.pdf", "application/pdf", "EMPTY_FILE"),
        (PDF, "x" * 201 + ".pdf", "application/pdf", "INVALID_FILE_NAME"),
    ],
)
async def test_a_refused_file_leaves_nothing_behind(
    upload: Callable[..., Any],
    sql: asyncpg.Connection,
    store: LocalStorage,
    content: bytes,
    name: str,
    declared: str | None,
    code: str,
) -> None:
    household = await household_gid(sql, HOUSEHOLD)
    before = await snapshot(sql)
    result = await added(
        await upload(ALPHA, content, name, declared, householdId=household, section="HOUSING_STEPS")
    )
    assert [e["code"] for e in result["userErrors"]] == [code]
    assert result["attachment"] is None
    assert store.keys() == []
    assert store.leftovers() == []
    assert await snapshot(sql) == before
    assert await sql.fetchval("SELECT count(*) FROM attachments") == 0


async def test_an_upload_without_the_preflight_header_is_refused(
    app: Starlette, token: Callable[[str], str], sql: asyncpg.Connection, store: LocalStorage
) -> None:
    """A cross-site form post cannot set a custom header: without it, no upload."""
    household = await household_gid(sql, HOUSEHOLD)
    operations = (
        '{"query": "mutation ($f: Upload!) { addAttachment(input: {householdId: \\"'
        + household
        + '\\", section: HOUSING_STEPS, file: $f}) { userErrors { code } } }", '
        '"variables": {"f": null}}'
    )
    async with http_client(app, {"Authorization": f"Bearer {token(ALPHA)}"}) as client:
        response = await client.post(
            "/graphql",
            data={"operations": operations, "map": '{"0": ["variables.f"]}'},
            files={"0": ("a.pdf", PDF, "application/pdf")},
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"
    assert store.keys() == []
    assert await sql.fetchval("SELECT count(*) FROM attachments") == 0


async def test_a_download_link_expires_and_serves_only_its_viewer(
    upload: Callable[..., Any],
    app: Starlette,
    token: Callable[[str], str],
    sql: asyncpg.Connection,
    clock: MovableClock,
) -> None:
    result = await attach_pdf(upload, sql)
    url = result["attachment"]["download"]["url"]

    async def get(login: str | None, target: str = url) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token(login)}"} if login else {}
        async with http_client(app, headers) as client:
            return await client.get(target)

    # The SIAO may read BUDGET, but the link was made for Alpha.
    other = await get(OPERATOR)
    assert other.status_code == 403
    assert other.json()["errors"][0]["extensions"]["code"] == "LINK_NOT_YOURS"
    assert (await get(None)).status_code == 401
    tampered = await get(ALPHA, url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
    assert tampered.status_code == 403
    assert tampered.json()["errors"][0]["extensions"]["code"] == "LINK_INVALID"
    assert (await get(ALPHA)).status_code == 200
    clock.advance(timedelta(seconds=301))
    late = await get(ALPHA)
    assert late.status_code == 403
    assert late.json()["errors"][0]["extensions"]["code"] == "LINK_EXPIRED"


async def test_attachments_of_a_category_are_invisible_to_who_may_not_read_it(
    upload: Callable[..., Any],
    as_user: Viewer,
    app: Starlette,
    token: Callable[[str], str],
    sql: asyncpg.Connection,
) -> None:
    health = await attach_health(upload, sql)
    assert health["userErrors"] == []
    budget = await attach_budget(upload, sql)
    operator = as_user(OPERATOR)  # reads BUDGET, not HEALTH
    listed = await operator(LIST, ref=HOUSEHOLD)
    assert listed.errors == [], listed.errors
    assert listed.data is not None
    names = [a["fileName"] for a in listed.data["household"]["situation"]["attachments"]]
    assert names == ["avis CAF.png"]
    node = await operator(
        "query ($id: ID!) { node(id: $id) { id } }", id=health["attachment"]["id"]
    )
    assert node.data == {"node": None}
    assert node.errors == []
    # Nor can the SIAO use the medical certificate's link, made for Alpha.
    async with http_client(app, {"Authorization": f"Bearer {token(OPERATOR)}"}) as client:
        refused = await client.get(health["attachment"]["download"]["url"])
    assert refused.status_code == 403
    assert budget["attachment"]["category"] == "BUDGET"


DELETE = """
mutation ($input: DeleteAttachmentInput!) {
  deleteAttachment(input: $input) { userErrors { code field } deletedAttachmentId }
}"""
BETA = "sw.beta@demo.siao"  # social worker of an association accompanying none of them


async def attachment_rows(sql: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await sql.fetch("SELECT file_name, storage_key FROM attachments ORDER BY file_name")
    return [(r["file_name"], r["storage_key"]) for r in rows]


async def test_a_wrong_document_is_removed_with_its_file_and_the_log_says_what_it_was(
    upload: Callable[..., Any],
    as_user: Viewer,
    app: Starlette,
    token: Callable[[str], str],
    sql: asyncpg.Connection,
    store: LocalStorage,
) -> None:
    household = await household_gid(sql, HOUSEHOLD)
    kept = await attach_budget(upload, sql)
    wrong = await added(
        await upload(
            ALPHA,
            PDF,
            "papiers d'un autre.pdf",
            "application/pdf",
            householdId=household,
            section="ADMINISTRATIVE",
            personId=await reference_person(sql),
        )
    )
    wrong_id = wrong["attachment"]["id"]
    link = wrong["attachment"]["download"]["url"]
    assert len(store.keys()) == 2
    activity = await sql.fetchval(
        "SELECT last_activity_at FROM households WHERE reference = $1", HOUSEHOLD
    )

    answer = await as_user(ALPHA)(DELETE, input={"attachmentId": wrong_id})
    assert answer.errors == [], answer.errors
    assert answer.data == {"deleteAttachment": {"userErrors": [], "deletedAttachmentId": wrong_id}}

    listed = await as_user(ALPHA)(LIST, ref=HOUSEHOLD)
    assert listed.data is not None
    names = [a["fileName"] for a in listed.data["household"]["situation"]["attachments"]]
    assert names == ["avis CAF.png"]
    assert store.keys() == [r[1] for r in await attachment_rows(sql)]  # its bytes are gone
    assert len(store.keys()) == 1
    async with http_client(app, {"Authorization": f"Bearer {token(ALPHA)}"}) as client:
        assert (await client.get(link)).status_code == 404
    log = await one_row(
        sql,
        "SELECT action, changes::text AS changes FROM audit_events "
        "WHERE entity_type = 'AdministrativeAttachment' ORDER BY at DESC LIMIT 1",
    )
    assert log["action"] == "DELETE"
    assert '"fileName": {"after": null, "before": "papiers d\'un autre.pdf"}' in log["changes"]
    assert await sql.fetchval(
        "SELECT last_activity_at > $2 FROM households WHERE reference = $1", HOUSEHOLD, activity
    )
    again = await as_user(ALPHA)(DELETE, input={"attachmentId": wrong_id})
    assert again.data == {
        "deleteAttachment": {
            "userErrors": [{"code": "NOT_FOUND", "field": ["attachmentId"]}],
            "deletedAttachmentId": None,
        }
    }
    assert kept["userErrors"] == []


async def test_removing_needs_the_right_to_write_its_section_and_to_see_it(
    upload: Callable[..., Any],
    as_user: Viewer,
    sql: asyncpg.Connection,
    store: LocalStorage,
) -> None:
    budget = await attach_budget(upload, sql)
    health = await attach_health(upload, sql)
    before = (await snapshot(sql), await attachment_rows(sql), store.keys())

    # the SIAO reads BUDGET but writes no section of the situation
    siao = await as_user(OPERATOR)(DELETE, input={"attachmentId": budget["attachment"]["id"]})
    assert siao.codes == ["FORBIDDEN"]
    # a social worker who does not accompany the household does not learn it exists
    for attachment in (budget, health):
        beta = await as_user(BETA)(DELETE, input={"attachmentId": attachment["attachment"]["id"]})
        assert beta.errors == [], beta.errors
        assert beta.data is not None
        assert beta.data["deleteAttachment"]["userErrors"] == [
            {"code": "NOT_FOUND", "field": ["attachmentId"]}
        ]
    assert (await snapshot(sql), await attachment_rows(sql), store.keys()) == before


async def test_a_closed_households_document_can_be_removed_and_the_log_masks_it(
    upload: Callable[..., Any], as_user: Viewer, sql: asyncpg.Connection, store: LocalStorage
) -> None:
    health = await attach_health(upload, sql)
    # the household is closed since (its purge clock is its last activity)
    closed = await sql.fetchval(
        "UPDATE households SET closed_at = now() WHERE reference = $1 RETURNING last_activity_at",
        HOUSEHOLD,
    )
    answer = await as_user(ALPHA)(DELETE, input={"attachmentId": health["attachment"]["id"]})
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    assert answer.data["deleteAttachment"]["userErrors"] == []
    assert store.keys() == []
    assert closed == await sql.fetchval(
        "SELECT last_activity_at FROM households WHERE reference = $1", HOUSEHOLD
    )
    # the SIAO, who may not read HEALTH, does not even learn that a medical document was
    # attached or removed; Alpha, who accompanies the household, reads what it was
    events = await as_user(OPERATOR)(
        LOG, ref=HOUSEHOLD, filter={"entityType": "MedicoSocialAttachment"}, first=10
    )
    assert events.errors == [], events.errors
    assert events.data is not None
    assert events.data["household"]["auditEvents"]["edges"] == []
    events = await as_user(ALPHA)(
        LOG, ref=HOUSEHOLD, filter={"entityType": "MedicoSocialAttachment"}, first=10
    )
    assert events.data is not None
    nodes = [e["node"] for e in events.data["household"]["auditEvents"]["edges"]]
    removed = next(n for n in nodes if n["action"] == "DELETE")
    for field in ("fileName", "sha256", "size", "contentType"):
        assert "before" in removed["changes"][field], field
    assert "restricted" not in removed["changes"]


async def test_a_file_deleted_behind_the_row_is_a_404_not_a_broken_download(
    upload: Callable[..., Any],
    app: Starlette,
    token: Callable[[str], str],
    sql: asyncpg.Connection,
    store: LocalStorage,
) -> None:
    result = await attach_pdf(upload, sql)
    (key,) = store.keys()
    store.delete(key)  # as a deletion committed between the row's read and the file's
    async with http_client(app, {"Authorization": f"Bearer {token(ALPHA)}"}) as client:
        response = await client.get(result["attachment"]["download"]["url"])
    assert response.status_code == 404


async def test_the_sweep_removes_old_files_no_attachment_points_to(
    upload: Callable[..., Any],
    app: Starlette,
    sql: asyncpg.Connection,
    store: LocalStorage,
    tmp_path: Path,
) -> None:
    await attach_pdf(upload, sql)
    (kept,) = store.keys()
    old = datetime.now(UTC).timestamp() - 2 * SWEEP_AFTER
    orphans = []
    for name in ("left", "young"):
        source = tmp_path / name
        source.write_bytes(PDF)
        key = uuid.uuid4().hex
        store.put(key, source)
        orphans.append(key)
    os.utime(store._path(orphans[0]), (old, old))  # a failed unlink, long ago
    os.utime(store._path(kept), (old, old))
    stale = store.temporary()
    os.utime(stale, (old, old))  # an upload that died half-way
    assert await sweep(app.state.engine, store) == 2
    assert store.keys() == sorted([kept, orphans[1]])  # young: maybe a commit in flight
    assert store.leftovers() == []


async def test_removing_does_not_deadlock_with_a_merge_moving_the_same_document(
    upload: Callable[..., Any], as_user: Viewer, sql: asyncpg.Connection, database_url: str
) -> None:
    """A merge updates attachment rows, then writes audit events, whose foreign key takes
    a share lock on the household: a deletion holding the household while it waits for
    the attachment would deadlock with it. It waits for the attachment alone."""
    household = await household_gid(sql, HOUSEHOLD)
    result = await added(
        await upload(
            ALPHA,
            PDF,
            "x.pdf",
            "application/pdf",
            householdId=household,
            section="ADMINISTRATIVE",
            personId=await reference_person(sql),
        )
    )
    row = await one_row(sql, "SELECT id, household_id, person_id FROM attachments")
    merge = await asyncpg.connect(_plain(database_url))  # in the order mergePersons writes
    try:
        await merge.execute("SET deadlock_timeout = '100ms'")
        async with merge.transaction():
            await merge.execute(
                "UPDATE attachments SET person_id = person_id WHERE id = $1", row["id"]
            )
            removal = asyncio.ensure_future(
                as_user(ALPHA)(DELETE, input={"attachmentId": result["attachment"]["id"]})
            )
            for _ in range(10_000):  # until the removal waits for the attachment's lock
                waiting = await sql.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if waiting or removal.done():
                    break
                await asyncio.sleep(0)
            assert not removal.done()
            await merge.execute(
                "INSERT INTO audit_events (id, at, actor_id, action, entity_type, entity_id, "
                "household_id, changes) VALUES (gen_random_uuid(), now(), NULL, 'MERGE', "
                "'Person', $1, $2, '{}'::jsonb)",
                row["person_id"],
                row["household_id"],
            )
    finally:
        await merge.close()
    answer = await removal
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    assert answer.data["deleteAttachment"]["userErrors"] == []
