"""The change log of attachments: an attachment's entry (its section, its person, what
the file is) is listed only to viewers who could list the attachment itself, that is who
may read its section's category. The attachment fixtures (a data folder of the test's
own, the multipart upload) are those of tests/test_attachments.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from tests.conftest import Run
from tests.test_attachments import (
    ALPHA,
    HOUSEHOLD,
    LIST,
    OPERATOR,
    app,
    attach_budget,
    attach_health,
    clock,
    settings,
    store,
    upload,
)
from tests.test_change_log import AUDIT_NODE, log
from tests.test_evaluations import raw_id
from tests.test_mutations import gid
from tests.test_situation import reference_person

__all__ = ["app", "clock", "settings", "store", "upload"]  # the fixtures, imported

Viewer = Callable[[str | None], Run]
BETA = "sw.beta@demo.siao"


async def test_a_medical_attachment_shows_its_section_and_person_only_to_readers_of_health(
    upload: Callable[..., Any], as_user: Viewer, sql: asyncpg.Connection
) -> None:
    health = await attach_health(upload, sql)
    budget = await attach_budget(upload, sql)
    medical_id = health["attachment"]["id"]
    medical = raw_id(medical_id)
    person = await reference_person(sql)
    event = gid(
        "AuditEvent",
        await sql.fetchval("SELECT id FROM audit_events WHERE entity_id = $1", raw_id(medical_id)),
    )

    # Alpha lists the attachment, and its entry: which section, which member, which file.
    alpha = as_user(ALPHA)
    entry = next(e for e in await log(alpha, ref=HOUSEHOLD) if raw_id(e["entityId"]) == medical)
    assert entry["entityType"] == "MedicoSocialAttachment"
    changes = entry["changes"]
    assert changes["section"] == {"before": None, "after": "MEDICO_SOCIAL"}
    assert changes["person"] == {"before": None, "after": str(raw_id(person))}
    assert changes["fileName"]["after"] == "certificat médical.pdf"

    # The SIAO may not read HEALTH: it lists neither the attachment nor its entry (not by
    # kind of record, not by id, not in the count), while the budget one stays in both.
    operator = as_user(OPERATOR)
    listed = await operator(LIST, ref=HOUSEHOLD)
    assert listed.data is not None
    names = [a["fileName"] for a in listed.data["household"]["situation"]["attachments"]]
    assert names == ["avis CAF.png"]
    events = await log(operator, ref=HOUSEHOLD)  # totalCount == the events listed
    listed_ids = [raw_id(e["entityId"]) for e in events]
    assert raw_id(budget["attachment"]["id"]) in listed_ids
    assert medical not in listed_ids
    for hint in ("MedicoSocial", "MEDICO_SOCIAL", "certificat", str(raw_id(person))):
        assert hint not in str([e for e in events if e["entityType"].endswith("Attachment")])
    assert await log(operator, {"entityType": "MedicoSocialAttachment"}, ref=HOUSEHOLD) == []
    assert await log(operator, {"text": "certificat"}, ref=HOUSEHOLD) == []
    by_id = await operator(AUDIT_NODE, id=event)
    assert by_id.errors == []
    assert by_id.data == {"node": None}
    seen = await alpha(AUDIT_NODE, id=event)
    assert seen.data is not None
    assert seen.data["node"]["entityType"] == "MedicoSocialAttachment"
