from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from auth.policy import (
    ROLE_RELATIONSHIP,
    SEARCH_ROLES,
    STRUCTURE_READERS,
    VACANCY_DECLARERS,
    Access,
    Category,
    DemandAction,
    PartnerScope,
    Relationship,
    Role,
    allowed,
    may_act,
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, from a verified token (and the users table for people)."""

    user_id: uuid.UUID | None  # None for a partner system
    login: str
    display_name: str
    role: Role
    organisation_id: uuid.UUID | None
    territory_code: str | None
    person_id: uuid.UUID | None
    scopes: frozenset[PartnerScope] = field(default_factory=frozenset)

    @classmethod
    def partner(
        cls, subject: str, name: str, scopes: frozenset[PartnerScope], territory: str
    ) -> Viewer:
        """A partner system: known by its token alone (it has no users row)."""
        return cls(
            user_id=None,
            login=subject,
            display_name=name,
            role=Role.PARTNER,
            organisation_id=None,
            territory_code=territory,
            person_id=None,
            scopes=scopes,
        )

    @property
    def relationship(self) -> Relationship:
        """The relationship to every household this viewer's row scope lets it see."""
        return ROLE_RELATIONSHIP[self.role]

    def may(self, category: Category, access: Access = Access.READ) -> bool:
        return allowed(category, self.relationship, access, self.scopes)

    def may_act(self, action: DemandAction) -> bool:
        return may_act(action, self.relationship)

    @property
    def may_read_structures(self) -> bool:
        return self.role in STRUCTURE_READERS and self.territory_code is not None

    @property
    def may_declare_vacancies(self) -> bool:
        return self.role in VACANCY_DECLARERS and self.organisation_id is not None

    @property
    def may_search(self) -> bool:
        """The search view: minimal identity of persons of the territory (DOMAIN.md)."""
        return self.role in SEARCH_ROLES and self.territory_code is not None
