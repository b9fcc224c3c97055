"""Who may see a row of each type: the rule of every object type of the schema, as data.

Threat stopped: a path through the graph that skips the category of a list (`node(id)` on
a demand by a partner without `demands:read`, on a change-log entry by a structure
manager), or reaches a record through a side door (a person through a household she left,
a beneficiary's user record from any token). The rule belongs to the TYPE, not to the
path: every loader declares the type its rows become (`resolvers.loader_base.SqlLoader
.shows`) and asks `may_load()` before it runs any SQL, then filters with the row scope
(`auth.scope.HouseholdScope`) inside its SQL. `tests/test_visibility.py` fails when an
object type of the schema has no rule here, or a loader shows a type with none.

The rules (DOMAIN.md, "What the matrix implies on every path"):
- HOUSEHOLD: the row scope itself (`auth.scope.household_scope`).
- HOUSEHOLD_RECORD: a record of one household (a demand, a note...): visible when its
  household is in the row scope AND the viewer may read the type's category (the category
  of the list that shows it), or for an attachment, its own section's category.
- PERSON: a person is seen, by who may read her identity (minimal or not), through the
  household she belongs to now, or the last one if she belongs to none (her anchor
  household). Viewers of a household she left see, in its
  history, her identity as it was when she left (kept on the membership), nothing written
  since, and not where she went.
- USER: a professional's user record is visible to the professionals, the administrator
  and the beneficiaries (who did what in their record); a beneficiary's user record is
  personal data of their household: visible as their person is. Everyone sees their own.
- REFERENCE: territories and organisations are not personal data: visible to every
  authenticated viewer.
- STRUCTURE: structures and their places are not personal data either, but are seen as
  their lists show them: those of the viewer's territory by who may list structures
  (`structures`), and the place an orientation or a stay of a visible household leads to
  by who may read its demands.
- SEARCH: the search view (minimal identity of persons of the viewer's territory, never of
  protected households they do not accompany), for the roles `auth.policy.SEARCH_ROLES`.
- VIEWER: about the viewer themself (`me`).
- PART: no rows of its own: a part of the object that holds it (a tab, a section, a page
  of a list, a mutation's payload or error), reached only through that object, whose rule
  and field categories apply.
- ROOT: the entry points.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from auth.policy import Access, Category, Role
from auth.viewer import Viewer


class Rule(StrEnum):
    HOUSEHOLD = "HOUSEHOLD"
    HOUSEHOLD_RECORD = "HOUSEHOLD_RECORD"
    PERSON = "PERSON"
    USER = "USER"
    REFERENCE = "REFERENCE"
    STRUCTURE = "STRUCTURE"
    SEARCH = "SEARCH"
    VIEWER = "VIEWER"
    PART = "PART"
    ROOT = "ROOT"


RULE_DESCRIPTIONS: dict[Rule, str] = {
    Rule.HOUSEHOLD: "the row scope: households the viewer follows (see the scopes above)",
    Rule.HOUSEHOLD_RECORD: "its household is in the row scope, and the viewer may read its "
    "category",
    Rule.PERSON: "through her anchor household (the one she belongs to now, or the last one); "
    "viewers of a household she left see her identity as it was when she left, nothing "
    "written since, and not where she went",
    Rule.USER: "a professional: by professionals, administrators and beneficiaries; a "
    "beneficiary: as their person; everyone: their own",
    Rule.REFERENCE: "not personal data: any authenticated viewer",
    Rule.STRUCTURE: "not personal data, seen as the lists show it: the structures of their "
    "territory by those who list structures (`structures`), and the place of an orientation "
    "or a stay by who may read that demand",
    Rule.SEARCH: "the search view: the minimal identity of persons of the viewer's territory "
    "(not of protected households they do not accompany), for social workers and the SIAO",
    Rule.VIEWER: "the viewer themself",
    Rule.PART: "a part of the object that holds it, reached only through it",
    Rule.ROOT: "an entry point",
}

# The row's own category decides (an attachment has its section's).
ROW_CATEGORY = "ROW"


@dataclass(frozen=True)
class TypeRule:
    rule: Rule
    # The category the viewer must be allowed to read (HOUSEHOLD_RECORD), or one of several
    # (PERSON: her identity, minimal or not), or ROW_CATEGORY; None: the rule alone decides.
    category: Category | tuple[Category, ...] | str | None = None
    # For PART: the object(s) that hold it, for the published matrix.
    within: str = ""


def _part(within: str) -> TypeRule:
    return TypeRule(Rule.PART, within=within)


def _record(category: Category | str) -> TypeRule:
    return TypeRule(Rule.HOUSEHOLD_RECORD, category)


_SECTION = _part("HouseholdSituation or MemberSituation (each field carries its category)")

TYPE_RULES: dict[str, TypeRule] = {
    # Objects with rows of their own (the Node types).
    # Who may read none of a household's data (a partner holding only `indicators:read`)
    # does not list households either, not even their ids and dates.
    "Household": TypeRule(
        Rule.HOUSEHOLD,
        (Category.IDENTITY_MIN, Category.IDENTITY, Category.SITUATION, Category.DEMANDS),
    ),
    "Person": TypeRule(Rule.PERSON, (Category.IDENTITY_MIN, Category.IDENTITY)),
    "Membership": _record(Category.IDENTITY_MIN),
    "Demand": _record(Category.DEMANDS),
    "Orientation": _record(Category.DEMANDS),
    "Stay": _record(Category.DEMANDS),
    "Evaluation": _record(Category.FLASH_EVALUATION),
    "Note": _record(Category.NOTES),
    "Accompaniment": _record(Category.ACCOMPANIMENTS),
    "AuditEvent": _record(Category.AUDIT),
    "AccessEvent": _record(Category.AUDIT),
    "Attachment": _record(ROW_CATEGORY),
    "User": TypeRule(Rule.USER),
    "Organisation": TypeRule(Rule.REFERENCE),
    "Territory": TypeRule(Rule.REFERENCE),
    "Structure": TypeRule(Rule.STRUCTURE),
    "Place": TypeRule(Rule.STRUCTURE),
    "PersonSearchResult": TypeRule(Rule.SEARCH),
    "DuplicateWarning": TypeRule(Rule.SEARCH),
    "Me": TypeRule(Rule.VIEWER),
    # Parts of an object.
    "HouseholdSummary": _part("Household"),
    "HouseholdSituation": _part("Household"),
    "MemberSituation": _part("HouseholdSituation (a current member, as Person)"),
    "HousingStepsSection": _SECTION,
    "HousingPrecaritySection": _SECTION,
    "ActivitySection": _SECTION,
    "BudgetSection": _SECTION,
    "AdministrativeSection": _SECTION,
    "MedicoSocialSection": _SECTION,
    "ViolenceSection": _SECTION,
    "ResourceLine": _part("BudgetSection"),
    "ChargeLine": _part("BudgetSection"),
    "SituationChange": _part("UpdateHouseholdSituationPayload (masked like the change log)"),
    "DownloadLink": _part("Attachment"),
    "PageInfo": _part("a connection"),
    # Entry points.
    "Query": TypeRule(Rule.ROOT),
    "Mutation": TypeRule(Rule.ROOT),
    "Subscription": TypeRule(Rule.ROOT),
}


def rule_of(type_name: str) -> TypeRule:
    """The rule of an object type of the schema. Pages of a list (`XConnection`,
    `XEdge`) are parts of the object that holds the list; a mutation's payload and its
    errors are parts of the mutation's answer: their objects are loaded by their own rule."""
    found = TYPE_RULES.get(type_name)
    if found is not None:
        return found
    for suffix in ("Connection", "Edge"):
        item = type_name.removesuffix(suffix)
        if type_name.endswith(suffix) and item in TYPE_RULES:
            return _part(f"a list of {item}")
    if type_name.endswith(("Payload", "UserError")):
        return _part("a mutation's answer")
    raise KeyError(type_name)


# Who may see professionals' user records (who did what): not a partner system, not an
# observer (indicators only, never a person).
PROFESSIONAL_READERS = frozenset(
    {
        Role.SOCIAL_WORKER,
        Role.SIAO_OPERATOR,
        Role.STRUCTURE_MANAGER,
        Role.BENEFICIARY,
        Role.ADMIN,
    }
)


def may_load(viewer: Viewer, type_name: str) -> bool:
    """May this viewer see ANY row of `type_name`? False: the loader answers "not found"
    for every key without running SQL (the same for rows that exist and rows that do not,
    so no oracle). True: the loader's SQL still applies the row scope (and, for
    ROW_CATEGORY, the row's own category)."""
    rule = rule_of(type_name)
    if rule.rule is Rule.SEARCH:
        return viewer.may_search
    if isinstance(rule.category, Category):
        return viewer.may(rule.category, Access.READ)
    if isinstance(rule.category, tuple):
        return any(viewer.may(c, Access.READ) for c in rule.category)
    return True


def may_see_professionals(viewer: Viewer) -> bool:
    return viewer.role in PROFESSIONAL_READERS
