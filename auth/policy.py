"""The policy, as data: roles, sensitivity categories, relationships, partner scopes and
the rights matrix of DOMAIN.md. The single place that names a role or decides a right:
the row scope (`auth.scope`), the field permissions (`schema.permissions`), the mutation
checks and the published matrix (`siao rights-matrix`) all read these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Flag, StrEnum
from functools import cache


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


class Category(StrEnum):
    """What kind of personal data a field carries (DOMAIN.md, Sensitivity categories), plus
    the matrix rows that are not field categories (demands, flash evaluation, indicators)."""

    IDENTITY_MIN = "IDENTITY_MIN"
    IDENTITY = "IDENTITY"
    SITUATION = "SITUATION"
    BUDGET = "BUDGET"
    ADMINISTRATIVE = "ADMINISTRATIVE"
    HEALTH = "HEALTH"
    VIOLENCE = "VIOLENCE"
    EVALUATION = "EVALUATION"
    FLASH_EVALUATION = "FLASH_EVALUATION"
    DEMANDS = "DEMANDS"
    NOTES = "NOTES"
    ACCOMPANIMENTS = "ACCOMPANIMENTS"
    AUDIT = "AUDIT"
    INDICATORS = "INDICATORS"


CATEGORY_DESCRIPTIONS: dict[Category, str] = {
    Category.IDENTITY_MIN: "Names, birth date, sex, household reference: what a search shows.",
    Category.IDENTITY: "Nationality, phone, e-mail, postal domiciliation, identity documents.",
    Category.SITUATION: "Housing steps (SNE number, DALO), housing precarity, activity.",
    Category.BUDGET: "Resources, debts, benefits.",
    Category.ADMINISTRATIVE: "Right of residence, papers.",
    Category.HEALTH: "Medico-social situation, disability, addiction, pregnancy (GDPR art. 9).",
    Category.VIOLENCE: "Victim of violence, protected address: only those who must know.",
    Category.EVALUATION: "Content of deep social evaluations.",
    Category.FLASH_EVALUATION: "Flash evaluations: vulnerability level and criteria.",
    Category.DEMANDS: "The household's demands and whom they concern.",
    Category.NOTES: "Content of notes between professionals.",
    Category.ACCOMPANIMENTS: "Who follows the household (organisations, named referents, "
    "roles, periods, why they ended): a partner service that follows it can say as much as "
    "its health.",
    Category.AUDIT: "The change and access log of a household.",
    Category.INDICATORS: "Anonymised indicators (never a person).",
}

# Reading these records one access event per (viewer, household, category, request).
LOGGED_READS = frozenset(
    {
        Category.HEALTH,
        Category.VIOLENCE,
        Category.ADMINISTRATIVE,
        Category.BUDGET,
        Category.EVALUATION,
        Category.NOTES,
    }
)


class Relationship(StrEnum):
    """How a viewer stands to a household it can see."""

    ACCOMPANYING = "ACCOMPANYING"
    TERRITORY_SIAO = "TERRITORY_SIAO"
    ORIENTED_OR_HOSTING = "ORIENTED_OR_HOSTING"
    SELF = "SELF"
    PARTNER = "PARTNER"
    NONE = "NONE"


RELATIONSHIP_DESCRIPTIONS: dict[Relationship, str] = {
    Relationship.ACCOMPANYING: "A social worker who (or whose organisation) accompanies it.",
    Relationship.TERRITORY_SIAO: "An operator of the SIAO of its territory.",
    Relationship.ORIENTED_OR_HOSTING: "A manager of a structure it is oriented to or hosted by.",
    Relationship.SELF: "A member of the household, about their own household.",
    Relationship.PARTNER: "A partner system, within its scopes and territory.",
    Relationship.NONE: "Anyone else: the household does not exist for them.",
}

# The one relationship each role can have with the households its row scope lets it see.
# (The row scope is what differs: a social worker sees the households they accompany,
# so every household they see is one they accompany.)
ROLE_RELATIONSHIP: dict[Role, Relationship] = {
    Role.SOCIAL_WORKER: Relationship.ACCOMPANYING,
    Role.SIAO_OPERATOR: Relationship.TERRITORY_SIAO,
    Role.STRUCTURE_MANAGER: Relationship.ORIENTED_OR_HOSTING,
    Role.BENEFICIARY: Relationship.SELF,
    Role.PARTNER: Relationship.PARTNER,
    Role.OBSERVER: Relationship.NONE,
    Role.ADMIN: Relationship.NONE,
}


class Access(Flag):
    NONE = 0
    READ = 1
    WRITE = 2
    READ_WRITE = READ | WRITE


R, W, RW, NO = Access.READ, Access.WRITE, Access.READ_WRITE, Access.NONE


class PartnerScope(StrEnum):
    """What a partner system's token may read, on non-protected households of its territory."""

    IDENTITY_MIN_READ = "identity_min:read"
    IDENTITY_READ = "identity:read"
    SITUATION_READ = "situation:read"
    DEMANDS_READ = "demands:read"
    INDICATORS_READ = "indicators:read"


PARTNER_SCOPE_GRANTS: dict[PartnerScope, Category] = {
    PartnerScope.IDENTITY_MIN_READ: Category.IDENTITY_MIN,
    PartnerScope.IDENTITY_READ: Category.IDENTITY,
    PartnerScope.SITUATION_READ: Category.SITUATION,
    PartnerScope.DEMANDS_READ: Category.DEMANDS,
    PartnerScope.INDICATORS_READ: Category.INDICATORS,
}

_ACC, _SIAO, _STRUCT, _SELF = (
    Relationship.ACCOMPANYING,
    Relationship.TERRITORY_SIAO,
    Relationship.ORIENTED_OR_HOSTING,
    Relationship.SELF,
)

# The rights matrix of DOMAIN.md. Partner cells are "by scope" (PARTNER_SCOPE_GRANTS);
# NONE sees nothing. "SW other: R via search" is the search view (SEARCH_VIEW below).
MATRIX: dict[Category, Mapping[Relationship, Access]] = {
    Category.IDENTITY_MIN: {_ACC: RW, _SIAO: RW, _STRUCT: R, _SELF: R},
    Category.IDENTITY: {_ACC: RW, _SIAO: RW, _STRUCT: R, _SELF: RW},
    Category.SITUATION: {_ACC: RW, _SIAO: R, _STRUCT: R, _SELF: R},
    Category.BUDGET: {_ACC: RW, _SIAO: R, _STRUCT: R, _SELF: R},
    Category.ADMINISTRATIVE: {_ACC: RW, _SIAO: R, _SELF: R},
    Category.HEALTH: {_ACC: RW, _SELF: R},
    Category.VIOLENCE: {_ACC: RW, _SIAO: R, _SELF: R},
    Category.EVALUATION: {_ACC: RW, _SIAO: R, _STRUCT: R, _SELF: R},
    Category.FLASH_EVALUATION: {_ACC: RW, _SIAO: RW, _STRUCT: R, _SELF: R},
    Category.DEMANDS: {_ACC: RW, _SIAO: RW, _STRUCT: R, _SELF: RW},
    Category.NOTES: {_ACC: RW, _SIAO: RW},
    # Who follows a household: its professionals and the SIAO that assigns them, and the
    # household itself (whom it deals with). Not the structures it is oriented to, nor
    # partners: an addiction or mental-health service among its followers says what HEALTH
    # protects (the search view names only its referents and hosting structures, whom to
    # call). Writing is narrower than RW says: the SIAO starts and transfers; an
    # accompanying worker only ends their organisation's, or changes its named referent
    # (`resolvers.accompaniment_write`).
    Category.ACCOMPANIMENTS: {_ACC: RW, _SIAO: RW, _SELF: R},
    Category.AUDIT: {_ACC: R, _SIAO: R, _SELF: R},
    Category.INDICATORS: {_SIAO: R, _STRUCT: R},
}


_IM, _ID, _DEM = Category.IDENTITY_MIN, Category.IDENTITY, Category.DEMANDS
_FLASH, _EVAL, _NOTES = Category.FLASH_EVALUATION, Category.EVALUATION, Category.NOTES
_HEALTH, _VIOLENCE = Category.HEALTH, Category.VIOLENCE


# --- content that carries its own category -----------------------------------------------
# DOMAIN.md: "a flash criterion or a deep-evaluation section that says 'pregnant',
# 'disability' or 'violence' is HEALTH or VIOLENCE, whatever record holds it".


class FlashCriterion(StrEnum):
    """The vulnerability criteria a flash evaluation checks (`models.evaluation`)."""

    CHILDREN_UNDER_3 = "CHILDREN_UNDER_3"
    PREGNANCY = "PREGNANCY"
    HEALTH_ISSUE = "HEALTH_ISSUE"
    DISABILITY = "DISABILITY"
    ELDERLY = "ELDERLY"
    VIOLENCE = "VIOLENCE"
    STREET_TONIGHT = "STREET_TONIGHT"
    NO_RESOURCES = "NO_RESOURCES"


# The category each criterion is read under. PREGNANCY, HEALTH_ISSUE and DISABILITY say in
# one word what HEALTH protects (GDPR art. 9: pregnancy, illness, disability; an addiction
# is a HEALTH_ISSUE), VIOLENCE what VIOLENCE protects: they are read only by readers of
# that category (`Evaluation.healthCriteria`, `.violenceCriteria`), never under
# FLASH_EVALUATION, which the matrix opens to structures. The others stay FLASH_EVALUATION:
# CHILDREN_UNDER_3 and ELDERLY follow from birth dates (IDENTITY_MIN, read by every flash
# reader), STREET_TONIGHT is the 115's triage itself, NO_RESOURCES is budget, which the
# matrix lets exactly the flash readers read.
# Writing is not split: `recordEvaluation` takes every criterion from whoever may write
# FLASH_EVALUATION (a 115 operator hears "she is pregnant" on the phone and checks it),
# who then reads back only the criteria of the categories they may read.
FLASH_CRITERION_CATEGORY: dict[FlashCriterion, Category] = {
    FlashCriterion.CHILDREN_UNDER_3: _FLASH,
    FlashCriterion.PREGNANCY: _HEALTH,
    FlashCriterion.HEALTH_ISSUE: _HEALTH,
    FlashCriterion.DISABILITY: _HEALTH,
    FlashCriterion.ELDERLY: _FLASH,
    FlashCriterion.VIOLENCE: _VIOLENCE,
    FlashCriterion.STREET_TONIGHT: _FLASH,
    FlashCriterion.NO_RESOURCES: _FLASH,
}

# The field of an evaluation (and key of its change-log entry) that carries the criteria
# of each category.
CRITERIA_FIELD: dict[Category, str] = {
    _FLASH: "criteria",
    _HEALTH: "healthCriteria",
    _VIOLENCE: "violenceCriteria",
}
assert set(FLASH_CRITERION_CATEGORY.values()) == set(CRITERIA_FIELD), "a criterion without field"


class DeepSection(StrEnum):
    """The sections of a deep evaluation (the keys of its `sections` object)."""

    HOUSING_PATH = "housingPath"
    FAMILY_SITUATION = "familySituation"
    RESOURCES = "resources"
    HEALTH = "health"
    SOCIAL_SUPPORT = "socialSupport"
    RECOMMENDATION = "recommendation"


# The category of each section of a deep evaluation: the category of what it says
# (DOMAIN.md, Sensitivity categories). `health` is HEALTH (the SIAO and structures read
# deep evaluations, not health); `resources` is BUDGET; the housing path, the family, the
# support around it and the recommendation are the evaluation's own narrative
# (EVALUATION). The housing path is not SITUATION: the structured housing steps are, in the
# situation tab, and SITUATION would name partners (`situation:read`) among its readers,
# who never read an evaluation. A section is content of a deep evaluation: only viewers
# who load evaluations reach it (`auth.visibility`, the readers of FLASH_EVALUATION, who
# all read EVALUATION), so its readers are those of EVALUATION and of its category.
DEEP_SECTION_CATEGORY: dict[DeepSection, Category] = {
    DeepSection.HOUSING_PATH: _EVAL,
    DeepSection.FAMILY_SITUATION: _EVAL,
    DeepSection.RESOURCES: Category.BUDGET,
    DeepSection.HEALTH: _HEALTH,
    DeepSection.SOCIAL_SUPPORT: _EVAL,
    DeepSection.RECOMMENDATION: _EVAL,
}

# What the change log records, field by field, and its category: `AuditEvent.changes`
# shows a field's before/after only to viewers who may read that category (None: nothing
# personal); the fields of one category a viewer may not read become one marker, which
# names the category, not the fields (`resolvers.audit.visible_changes`). A field or
# entity type missing here is masked for everyone (deny by default: a new audited field
# stays hidden until someone gives it its category here). An evaluation's `criteria` and
# `sections` are split by the category of their content (`AUDITED_PARTS`).
AUDITED_FIELDS: dict[str, dict[str, Category | None]] = {
    "Household": {"territory": None, "closedAt": None, "protected": _VIOLENCE},
    "Person": {
        "firstName": _IM,
        "lastName": _IM,
        "usageName": _IM,
        "birthDate": _IM,
        "sex": _IM,
        "nationality": _ID,
        "phone": _ID,
    },
    "Membership": {
        "person": _IM,
        "relationship": _IM,
        "validFrom": None,
        "validTo": None,
        "toHousehold": None,
        "fromHousehold": None,
    },
    "Accompaniment": {
        "user": Category.ACCOMPANIMENTS,
        "organisation": Category.ACCOMPANIMENTS,
        "role": Category.ACCOMPANIMENTS,
        "validFrom": None,
        "validTo": None,
        "endReason": Category.ACCOMPANIMENTS,
        "endComment": _NOTES,
    },
    # `reason` is the SIAO's free text on a re-ranking (`setDemandPriority`): words between
    # professionals, read like a note (it may say why, and the why can be personal).
    "Demand": {
        "kind": _DEM,
        "status": _DEM,
        "concernedPersons": _DEM,
        "priority": _DEM,
        "suggestedPriority": _DEM,
        "reason": _NOTES,
    },
    "Orientation": {"place": _DEM, "status": _DEM, "refusalReason": _DEM},
    "Stay": {"place": _DEM, "from": _DEM, "until": _DEM, "exitReason": _DEM},
    "Place": {"vacancies": None},
    "Evaluation": {
        "kind": None,
        "vulnerabilityLevel": _FLASH,
        "criteria": _FLASH,
        "sections": _EVAL,
    },
    "Note": {
        "title": _NOTES,
        "body": _NOTES,
        "concernedPersons": _NOTES,
        "pinnedUntil": None,
        "deletedAt": None,
    },
}


# Fields whose values are split by the category of their parts: the criteria of a flash
# evaluation (shown under the keys of `CRITERIA_FIELD`) and the sections of a deep one
# (shown without the sections the viewer may not read). Their category in
# `AUDITED_FIELDS` is that of the field, which every part also needs.
AUDITED_PARTS: dict[tuple[str, str], dict[str, Category]] = {
    ("Evaluation", "criteria"): {c.value: cat for c, cat in FLASH_CRITERION_CATEGORY.items()},
    ("Evaluation", "sections"): {s.value: cat for s, cat in DEEP_SECTION_CATEGORY.items()},
}

# Fields naming another household (a move's origin or destination): shown only when the
# viewer may see that household (DOMAIN.md: those who followed a household a member left
# do not see where she went).
AUDITED_HOUSEHOLD_LINKS: dict[str, tuple[str, ...]] = {
    "Membership": ("toHousehold", "fromHousehold"),
}

# The key under which `AuditEvent.changes` lists the categories of the fields it masks.
RESTRICTED_KEY = "restricted"
# The marker of fields the policy does not know (masked for everyone).
UNKNOWN_FIELD = "UNKNOWN"


class SituationSection(StrEnum):
    """The sections of the "Situation du ménage" tab (`models.situation` has their fields)."""

    HOUSING_STEPS = "HOUSING_STEPS"
    HOUSING_PRECARITY = "HOUSING_PRECARITY"
    ACTIVITY = "ACTIVITY"
    BUDGET = "BUDGET"
    ADMINISTRATIVE = "ADMINISTRATIVE"
    MEDICO_SOCIAL = "MEDICO_SOCIAL"
    VIOLENCE = "VIOLENCE"


# The category of every field of a section (DOMAIN.md, Sensitivity categories).
SITUATION_CATEGORY: dict[SituationSection, Category] = {
    SituationSection.HOUSING_STEPS: Category.SITUATION,
    SituationSection.HOUSING_PRECARITY: Category.SITUATION,
    SituationSection.ACTIVITY: Category.SITUATION,
    SituationSection.BUDGET: Category.BUDGET,
    SituationSection.ADMINISTRATIVE: Category.ADMINISTRATIVE,
    SituationSection.MEDICO_SOCIAL: Category.HEALTH,
    SituationSection.VIOLENCE: Category.VIOLENCE,
}


@cache
def audited_fields() -> dict[str, dict[str, Category | None]]:
    """`AUDITED_FIELDS` and the fields of the situation sections (each with its section's
    category), which `models.situation` lists."""
    from models.situation import audited_situation_fields

    fields = {**AUDITED_FIELDS, **audited_situation_fields()}
    assert not any(RESTRICTED_KEY in f for f in fields.values()), "a field named like the marker"
    return fields


@cache
def audited_entity_categories() -> dict[str, Category]:
    """Entity types of the change log whose very existence has a category: a save of a
    situation section, an attachment of one (its section's category; DOMAIN.md: "someone
    filled in the violence section" is itself what the category protects), a note. Their events are
    not listed to viewers who may not read that category: not the section, not the person,
    not when (`resolvers.record_loaders._AuditList`)."""
    from models.situation import ATTACHMENT_ENTITY_TYPE, ENTITY_TYPE

    return {
        **{ENTITY_TYPE[s]: c for s, c in SITUATION_CATEGORY.items()},
        **{ATTACHMENT_ENTITY_TYPE[s]: c for s, c in SITUATION_CATEGORY.items()},
        # A note's events (created, pinned, deleted, by whom, when) are the notes' own
        # metadata: the household reads its log, not its professionals' notes.
        "Note": Category.NOTES,
    }


class DemandAction(StrEnum):
    """What can happen to a demand (the transitions of `models.lifecycle`)."""

    SUBMIT = "SUBMIT"
    REVIEW = "REVIEW"
    ORIENT = "ORIENT"
    ACCEPT = "ACCEPT"
    REFUSE = "REFUSE"
    ADMIT = "ADMIT"
    EXIT = "EXIT"
    CLOSE = "CLOSE"
    CANCEL = "CANCEL"
    PLACE = "PLACE"
    UNMET = "UNMET"


# Who may move a demand along its lifecycle ("demands" row of the matrix: the SIAO
# processes and orients, structures decide orientations, the household and its social
# workers create, submit and withdraw).
DEMAND_ACTIONS: dict[DemandAction, frozenset[Relationship]] = {
    DemandAction.SUBMIT: frozenset({_ACC, _SIAO, _SELF}),
    DemandAction.REVIEW: frozenset({_SIAO}),
    DemandAction.ORIENT: frozenset({_SIAO}),
    DemandAction.ACCEPT: frozenset({_STRUCT}),
    DemandAction.REFUSE: frozenset({_STRUCT}),
    DemandAction.ADMIT: frozenset({_STRUCT}),
    DemandAction.EXIT: frozenset({_STRUCT, _SIAO}),
    DemandAction.CLOSE: frozenset({_ACC, _SIAO}),
    DemandAction.CANCEL: frozenset({_ACC, _SIAO, _SELF}),
    DemandAction.PLACE: frozenset({_SIAO}),
    DemandAction.UNMET: frozenset({_SIAO}),
}

# Mutations that write a category for fewer of its writers than the matrix's cell says:
# the permission (`schema.permissions.writes`) and the published matrix read this. The
# rank of a demand in the work queue is the SIAO's to set (a household or its social
# worker suggests one when creating the demand, `createDemand`).
NARROW_WRITERS: dict[str, frozenset[Relationship]] = {
    "setDemandPriority": frozenset({_SIAO}),
}

# Structures and their places are not personal data: the professionals of a territory
# see its structures; a structure manager declares the vacancies of their own.
STRUCTURE_READERS = frozenset({Role.SIAO_OPERATOR, Role.SOCIAL_WORKER, Role.STRUCTURE_MANAGER})
VACANCY_DECLARERS = frozenset({Role.STRUCTURE_MANAGER})

# Roles that may use the search view (IDENTITY_MIN of persons they do not follow, the
# household reference and the accompanying organisations' names), in their territory.
SEARCH_ROLES = frozenset({Role.SOCIAL_WORKER, Role.SIAO_OPERATOR})


def may_act(action: DemandAction, relationship: Relationship) -> bool:
    return relationship in DEMAND_ACTIONS[action]


@cache
def allowed(
    category: Category,
    relationship: Relationship,
    access: Access,
    scopes: frozenset[PartnerScope] = frozenset(),
) -> bool:
    """May a viewer standing in `relationship` to a household do `access` on `category`?"""
    if relationship is Relationship.PARTNER:
        if access is not Access.READ:
            return False
        return any(PARTNER_SCOPE_GRANTS[s] is category for s in scopes)
    granted = MATRIX[category].get(relationship, Access.NONE)
    return (granted & access) == access
