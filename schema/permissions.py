"""Field and mutation permissions, declared where the field is declared.

`sensitive(Category.HEALTH, ...)` makes a field that only viewers whose relationship to the
household allows reading HEALTH get; others get `null` and a FORBIDDEN error (the rest of
the answer stays). The SDL shows `@sensitive(category: HEALTH)` on the field and its
description says the same for GraphiQL readers (applied directives do not reach
introspection). Checks are synchronous dictionary look-ups: the viewer's relationship to
every household it can see is fixed by its row scope (`auth.policy.ROLE_RELATIONSHIP`).

Threat stopped: a personal field served to a viewer the matrix does not allow, whatever
the path (nested field, alias, fragment, `node`, mutation payload): the check sits on
the field itself, not on the path that reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from auth.policy import (
    CATEGORY_DESCRIPTIONS,
    DEMAND_ACTIONS,
    LOGGED_READS,
    MATRIX,
    NARROW_WRITERS,
    PARTNER_SCOPE_GRANTS,
    Access,
    Category,
    DemandAction,
    Relationship,
)
from resolvers.errors import CodedError, ErrorCode
from schema.enums import described_enum, to_schema
from schema.info import Info

if TYPE_CHECKING:
    SensitivityCategory = Category
    LifecycleAction = DemandAction
else:
    LifecycleAction = described_enum(
        DemandAction,
        "An action on a demand's lifecycle (see docs/demand-lifecycle.md).",
        {
            DemandAction.SUBMIT: "Send the demand to the SIAO (again, after a refusal).",
            DemandAction.REVIEW: "The SIAO starts evaluating it.",
            DemandAction.ORIENT: "The SIAO proposes it to a structure's places.",
            DemandAction.ACCEPT: "The structure accepts the orientation.",
            DemandAction.REFUSE: "The structure refuses the orientation.",
            DemandAction.ADMIT: "The structure admits the household (a stay starts).",
            DemandAction.EXIT: "The stay ends; the place is freed.",
            DemandAction.CLOSE: "The demand is no longer needed, or was answered.",
            DemandAction.CANCEL: "The demand is withdrawn before a stay.",
            DemandAction.PLACE: "Emergency: a place was found for the night.",
            DemandAction.UNMET: "Emergency: no place could be found for the night.",
        },
        name="LifecycleAction",
    )
    SensitivityCategory = described_enum(
        Category,
        "What kind of personal data a field carries; the rights matrix says who may read or "
        "write each category.",
        CATEGORY_DESCRIPTIONS,
        name="SensitivityCategory",
    )

READERS: dict[Relationship, str] = {
    Relationship.ACCOMPANYING: "accompanying social workers",
    Relationship.TERRITORY_SIAO: "the territory's SIAO",
    Relationship.ORIENTED_OR_HOSTING: "structures it is oriented to or hosted by",
    Relationship.SELF: "the household's own members",
    Relationship.PARTNER: "partners holding a scope for it",
}


def who_may(category: Category, access: Access) -> list[str]:
    who = [
        READERS[relationship]
        for relationship, granted in MATRIX[category].items()
        if granted & access == access
    ]
    if access is Access.READ and category in PARTNER_SCOPE_GRANTS.values():
        who.append(READERS[Relationship.PARTNER])
    return who


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="sensitive",
    description="The field carries personal data of this category; the server returns it "
    "only to viewers the rights matrix allows (others get null and a FORBIDDEN error).",
)
class SensitiveDirective:
    category: SensitivityCategory = strawberry.field(description="The category of personal data.")


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="writes",
    description="The mutation writes data of this category: only viewers the rights matrix "
    "lets write it may call it (others get a FORBIDDEN error and nothing changes). Repeated "
    "when what the mutation writes depends on its input: the description says which.",
    repeatable=True,
)
class WritesDirective:
    category: SensitivityCategory = strawberry.field(description="The category of data written.")


class _Forbidding(BasePermission):
    def on_unauthorized(self) -> None:
        raise CodedError(ErrorCode.FORBIDDEN, self.message or "Forbidden.")


class _Declared(_Forbidding):
    """A permission that the SDL shows as a directive on its field (`use_directives=True`):
    `directive` is its instance, given to strawberry through the public
    `schema_directive` property."""

    directive: object

    @property
    def schema_directive(self) -> object:
        return self.directive


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="performs",
    description="The mutation moves a demand along its lifecycle: only viewers the policy "
    "lets do this action may call it (others get a FORBIDDEN error and nothing changes).",
)
class PerformsDirective:
    action: LifecycleAction = strawberry.field(description="The lifecycle action.")


class Performs(_Declared):
    message = "You may not do this to a demand."

    def __init__(self, action: DemandAction) -> None:
        self.action = action
        self.directive = PerformsDirective(action=to_schema(LifecycleAction, action))

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.may_act(self.action)


def performs(action: DemandAction, description: str) -> Callable[[Any], Any]:
    """A mutation doing a lifecycle action on a demand."""
    who = ", ".join(READERS[r] for r in sorted(DEMAND_ACTIONS[action])) or "nobody"
    mutation: Callable[[Any], Any] = strawberry.mutation(
        description=f"{description} Allowed to {who}.",
        extensions=[PermissionExtension(permissions=[Performs(action)], use_directives=True)],
    )
    return mutation


class Sensitive(_Declared):
    message = "You may not read this field."

    def __init__(self, category: Category) -> None:
        self.category = category
        self.directive = SensitiveDirective(category=to_schema(SensitivityCategory, category))

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        ctx = info.context
        viewer = ctx.viewer
        if viewer is None or not viewer.may(self.category, Access.READ):
            return False
        if self.category in LOGGED_READS:
            ctx.note_access(source.household_key, self.category)
        return True


class Writes(_Declared):
    message = "You may not change this data."

    def __init__(self, category: Category, only: frozenset[Relationship] | None = None) -> None:
        self.category = category
        self.only = only
        self.directive = WritesDirective(category=to_schema(SensitivityCategory, category))

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer is None or not viewer.may(self.category, Access.WRITE):
            return False
        return self.only is None or viewer.relationship in self.only


def _note(category: Category, description: str, access: Access) -> str:
    who = ", ".join(who_may(category, access)) or "nobody"
    verb = "readable" if access is Access.READ else "writable"
    return f"{description} Restricted: category {category.value}, {verb} by {who}."


def sensitive(category: Category, description: str, **kwargs: Any) -> Any:
    """A field carrying personal data of `category` (use as `x: T | None = sensitive(...)`
    or as a decorator on a resolver method)."""
    return strawberry.field(
        description=_note(category, description, Access.READ),
        extensions=[PermissionExtension(permissions=[Sensitive(category)], use_directives=True)],
        **kwargs,
    )


def sensitive_subscription(category: Category, description: str) -> Any:
    """A subscription streaming data of `category`."""
    return strawberry.subscription(
        description=_note(category, description, Access.READ),
        extensions=[PermissionExtension(permissions=[Sensitive(category)], use_directives=True)],
    )


class WritesAny(_Forbidding):
    """Lets in viewers who may write one of `categories`; the resolver then checks the one
    its input needs (its description must say so)."""

    message = "You may not change this data."

    def __init__(self, categories: tuple[Category, ...]) -> None:
        self.categories = categories

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and any(viewer.may(c, Access.WRITE) for c in self.categories)


def writes_one_of(categories: tuple[Category, ...], description: str) -> Callable[[Any], Any]:
    """A mutation writing data of one of `categories`, depending on its input (declared
    with one `@writes` per category; the rights matrix lists each)."""
    notes = "; ".join(
        f"category {c.value} writable by {', '.join(who_may(c, Access.WRITE)) or 'nobody'}"
        for c in categories
    )
    mutation: Callable[[Any], Any] = strawberry.mutation(
        description=f"{description} Restricted: {notes}.",
        directives=[
            WritesDirective(category=to_schema(SensitivityCategory, c)) for c in categories
        ],
        extensions=[PermissionExtension(permissions=[WritesAny(categories)], use_directives=False)],
    )
    return mutation


def writers(category: Category, name: str | None = None) -> list[str]:
    """Who may call a mutation writing `category` (narrower for `NARROW_WRITERS`)."""
    only = NARROW_WRITERS.get(name or "")
    return [
        READERS[r]
        for r, granted in MATRIX[category].items()
        if granted & Access.WRITE and (only is None or r in only)
    ]


def writes(category: Category, description: str, name: str | None = None) -> Callable[[Any], Any]:
    """A mutation writing data of `category`; `name` (its GraphQL name) when
    `auth.policy.NARROW_WRITERS` lets fewer viewers call it than may write the category."""
    only = NARROW_WRITERS.get(name) if name else None
    if only is None:
        note = _note(category, description, Access.WRITE)
    else:
        who = ", ".join(writers(category, name)) or "nobody"
        note = f"{description} Restricted: category {category.value}, only for {who}."
    mutation: Callable[[Any], Any] = strawberry.mutation(
        description=note,
        extensions=[PermissionExtension(permissions=[Writes(category, only)], use_directives=True)],
    )
    return mutation


class RowSensitive(_Forbidding):
    """For records whose category is their own (an attachment has its section's): the
    source's `category_value` decides, read access is logged like `Sensitive`'s."""

    message = "You may not read this field."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        ctx = info.context
        viewer = ctx.viewer
        category: Category = source.category_value
        if viewer is None or not viewer.may(category, Access.READ):
            return False
        if category in LOGGED_READS:
            ctx.note_access(source.household_key, category)
        return True


def sensitive_by_row(description: str) -> Any:
    """A field of personal data whose category is the record's own (`category_value`):
    checked per object. The SDL cannot name one category for it; the description says so."""
    return strawberry.field(
        description=f"{description} Restricted: the record's own category (its `category` "
        "field), checked object by object.",
        extensions=[PermissionExtension(permissions=[RowSensitive()], use_directives=False)],
    )
