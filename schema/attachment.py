"""Attachments ("Pièces jointes") and `addAttachment` (GraphQL multipart request spec)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry.file_uploads import Upload

from auth.links import mint_link
from auth.policy import SITUATION_CATEGORY, Category
from auth.policy import SituationSection as _Section
from models.attachment import ALLOWED_TYPES
from resolvers import attachment as resolve
from resolvers import audit
from resolvers import household as households
from resolvers.arguments import enum_arg
from resolvers.attachment import AttachmentErrorCode as _AttachmentErrorCode
from resolvers.context import Context
from resolvers.loaders import Later, then
from schema.enums import described_enum, to_schema
from schema.errors import UserError, user_errors
from schema.info import Info
from schema.node import Node, decode_uuid, encode_id
from schema.organisation import User, user_from_row
from schema.permissions import SensitivityCategory, sensitive_by_row, writes_one_of
from schema.situation_enums import SituationSection

if TYPE_CHECKING:
    from schema.person import Person

    AttachmentErrorCode = _AttachmentErrorCode
else:
    AttachmentErrorCode = described_enum(
        _AttachmentErrorCode,
        "Why `addAttachment` or `deleteAttachment` was refused (nothing was changed).",
        {
            _AttachmentErrorCode.NOT_FOUND: "The household (or the attachment) does not exist, "
            "or is not visible to you.",
            _AttachmentErrorCode.HOUSEHOLD_CLOSED: "The household is closed.",
            _AttachmentErrorCode.NOT_A_MEMBER: "The person is not a current member.",
            _AttachmentErrorCode.PERSON_REQUIRED: "This section is per person: give `personId`.",
            _AttachmentErrorCode.PERSON_NOT_EXPECTED: "This section is the household's: give "
            "no `personId`.",
            _AttachmentErrorCode.TOO_LARGE: "The file is larger than the limit (10 MiB by "
            "default).",
            _AttachmentErrorCode.EMPTY_FILE: "The file is empty.",
            _AttachmentErrorCode.FORBIDDEN_TYPE: "Only PDF, JPEG and PNG files may be "
            "attached (told by their content).",
            _AttachmentErrorCode.TYPE_MISMATCH: "The type the file was sent as is not what "
            "its content is.",
            _AttachmentErrorCode.INVALID_FILE_NAME: "The file has no usable name (blank, "
            "too long, or with control characters).",
        },
    )

PersonRef = Annotated["Person", strawberry.lazy("schema.person")]
DOWNLOAD_PATH = "/attachments"


@strawberry.type(
    description="A document attached to a section of the situation (pièce jointe). It has "
    "the section's category: only viewers who may read it see that it exists."
)
class Attachment(Node):
    section: SituationSection = strawberry.field(description="The section it belongs to.")
    category: SensitivityCategory = strawberry.field(description="The section's category.")
    content_type: str = strawberry.field(
        description=f"Its type, told by its content: one of {', '.join(ALLOWED_TYPES)}."
    )
    size: int = strawberry.field(description="Its size in bytes.")
    sha256: str = strawberry.field(
        description="SHA-256 of its content (hex): what a download must match."
    )
    created_at: datetime = strawberry.field(description="When it was attached.")
    row_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]
    person_id: strawberry.Private[uuid.UUID | None]
    file_name_value: strawberry.Private[str]
    author_id: strawberry.Private[uuid.UUID | None]
    section_value: strawberry.Private[_Section]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @property
    def category_value(self) -> Category:
        return SITUATION_CATEGORY[self.section_value]

    @sensitive_by_row("Its file name as sent (it often says what the document is).")
    def file_name(self) -> str | None:
        return self.file_name_value

    @strawberry.field(description="Who attached it.")
    def created_by(self, info: Info) -> Later[User | None]:
        if self.author_id is None:
            return None
        return then(audit.actor(info.context, self.author_id), user_from_row)

    @strawberry.field(description="The member it concerns, for a person's section.")
    def person(self, info: Info) -> Later[PersonRef | None]:
        from schema.person import person_from_row

        if self.person_id is None:
            return None
        return then(households.person(info.context, self.person_id), person_from_row)

    @sensitive_by_row(
        "A link to download it, valid a few minutes (5 by default) and only for you: GET it "
        "with your bearer token."
    )
    def download(self, info: Info) -> DownloadLink | None:
        ctx = info.context
        link = mint_link(ctx.settings, self.row_id, ctx.authenticated.login, ctx.now)
        return DownloadLink(
            url=f"{DOWNLOAD_PATH}/{self.row_id}?link={link.token}", expires_at=link.expires_at
        )


@strawberry.type(description="A download link of an attachment.")
class DownloadLink:
    url: str = strawberry.field(description="Path to GET, with your bearer token.")
    expires_at: datetime = strawberry.field(description="After this instant it is refused.")


def attachment_from_row(row: Row[Any] | None) -> Attachment | None:
    if row is None:
        return None
    section = _Section(row.section)
    return Attachment(
        id=encode_id("Attachment", row.id),
        section=to_schema(SituationSection, section),
        category=to_schema(SensitivityCategory, SITUATION_CATEGORY[section]),
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        row_id=row.id,
        household_id=row.household_id,
        person_id=row.person_id,
        file_name_value=row.file_name,
        author_id=row.created_by,
        section_value=section,
    )


def attachments_from_rows(rows: list[Row[Any]]) -> list[Attachment]:
    return [a for a in (attachment_from_row(r) for r in rows) if a is not None]


def household_attachments(ctx: Context, household_id: uuid.UUID) -> Later[list[Attachment]]:
    return then(resolve.attachments(ctx, household_id), attachments_from_rows)


@strawberry.input(
    description="A file to attach. Send it as a GraphQL multipart request (the `file` "
    "variable in its own part, with its type) and with the header "
    "`GraphQL-Require-Preflight: 1`."
)
class AddAttachmentInput:
    household_id: strawberry.ID = strawberry.field(description="The household.")
    section: SituationSection = strawberry.field(description="The section it belongs to.")
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="The member, for a person's section."
    )
    file: Upload = strawberry.field(
        description="The file: PDF, JPEG or PNG, at most 10 MiB (by default)."
    )


@strawberry.type(description="Why `addAttachment` or `deleteAttachment` was refused.")
class AttachmentUserError(UserError):
    code: AttachmentErrorCode = strawberry.field(description="Machine-readable reason.")


@strawberry.type(description="Result of `addAttachment`.")
class AddAttachmentPayload:
    user_errors: list[AttachmentUserError] = strawberry.field(
        description="Why nothing was stored; empty on success."
    )
    attachment_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The new attachment; null if refused.")
    def attachment(self, info: Info) -> Later[Attachment | None]:
        if self.attachment_id is None:
            return None
        return then(resolve.attachment(info.context, self.attachment_id), attachment_from_row)


@strawberry.input(description="The attachment to remove.")
class DeleteAttachmentInput:
    attachment_id: strawberry.ID = strawberry.field(description="The attachment.")


@strawberry.type(description="Result of `deleteAttachment`.")
class DeleteAttachmentPayload:
    user_errors: list[AttachmentUserError] = strawberry.field(
        description="Why nothing was removed; empty on success."
    )
    deleted_attachment_id: strawberry.ID | None = strawberry.field(
        description="The id of the attachment removed; null if refused."
    )


_WRITTEN: tuple[Category, ...] = tuple(dict.fromkeys(SITUATION_CATEGORY.values()))


@strawberry.type
class AttachmentMutations:
    @writes_one_of(
        _WRITTEN,
        "Attach a file to a section of a household's (or a member's) situation. Checked "
        "before anything is kept: size, type (by content, and equal to the type sent), "
        "name; a refused file leaves nothing behind. The section's category decides who may.",
    )
    async def add_attachment(
        self,
        info: Info,
        input: Annotated[AddAttachmentInput, strawberry.argument(description="The file.")],
    ) -> AddAttachmentPayload:
        section = enum_arg(_Section, input.section)
        assert section is not None
        upload = input.file
        try:
            added = await resolve.add_attachment(
                info.context,
                decode_uuid(input.household_id, "Household"),
                decode_uuid(input.person_id, "Person") if input.person_id else None,
                section,
                resolve.Upload(
                    file_name=getattr(upload, "filename", None),
                    declared_type=getattr(upload, "content_type", None),
                    file=upload,
                ),
            )
        finally:
            close = getattr(upload, "close", None)  # the spooled copy Starlette made
            if close is not None:
                await close()
        return AddAttachmentPayload(
            user_errors=user_errors(AttachmentUserError, added.problems),
            attachment_id=added.attachment_id,
        )

    @writes_one_of(
        _WRITTEN,
        "Remove an attachment (a wrong document, someone else's papers): the file is "
        "deleted, the change log keeps what it was (name, type, size, checksum, who, when). "
        "Who may write its section's category may remove it; an attachment you may not read "
        "is NOT_FOUND.",
    )
    async def delete_attachment(
        self,
        info: Info,
        input: Annotated[DeleteAttachmentInput, strawberry.argument(description="The attachment.")],
    ) -> DeleteAttachmentPayload:
        problems = await resolve.delete_attachment(
            info.context, decode_uuid(input.attachment_id, "Attachment")
        )
        return DeleteAttachmentPayload(
            user_errors=user_errors(AttachmentUserError, problems),
            deleted_attachment_id=None if problems else input.attachment_id,
        )
