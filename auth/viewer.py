from __future__ import annotations

import uuid
from dataclasses import dataclass

from auth.policy import Role


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, as resolved from a verified token and the users table."""

    user_id: uuid.UUID
    login: str
    display_name: str
    role: Role
    organisation_id: uuid.UUID | None
    territory_code: str | None
    person_id: uuid.UUID | None
