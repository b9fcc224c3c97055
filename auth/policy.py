"""The policy vocabulary: roles, as data. The single place that names a role.

The rights matrix of DOMAIN.md (categories x relationships) lands here with the
rights issue; until then the only rule is the territory scope of `auth.scope`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SOCIAL_WORKER = "SOCIAL_WORKER"
    SIAO_OPERATOR = "SIAO_OPERATOR"
    STRUCTURE_MANAGER = "STRUCTURE_MANAGER"
    BENEFICIARY = "BENEFICIARY"
    PARTNER = "PARTNER"
    OBSERVER = "OBSERVER"
    ADMIN = "ADMIN"


ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.SOCIAL_WORKER: (
        "Travailleur social: follows the households they or their organisation accompany."
    ),
    Role.SIAO_OPERATOR: (
        "Professional of a SIAO (coordination, regulation, 115 operator) for a territory."
    ),
    Role.STRUCTURE_MANAGER: "Manager of accommodation structures (CHRS, CHU, ...).",
    Role.BENEFICIARY: "A member of a household, reading their own record.",
    Role.PARTNER: "A partner information system (SNE, SYPLO, ...), limited by scopes.",
    Role.OBSERVER: "State agent or social observer: anonymised indicators only, never a person.",
    Role.ADMIN: "Administrator of users, organisations and territories; not of household content.",
}
