"""Strawberry types and the assembled Schema; `schema.graphql` is the exported SDL."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from auth.settings import Introspection, Settings
from schema.accompaniment import Accompaniment, AccompanimentMutations
from schema.attachment import Attachment, AttachmentMutations
from schema.audit import AuditEvent
from schema.cost import CostLimit, shape_rule
from schema.demand import Demand, DemandMutations
from schema.errors import ErrorPolicy, is_client_error, uncoded_error_code
from schema.evaluation import Evaluation, EvaluationMutations
from schema.extensions import AccessLog, AuthenticationGate, SqlCost, hide_suggestions
from schema.household import Household, Membership
from schema.lifecycle import LifecycleMutations
from schema.merge import MergeMutations
from schema.mutation import HouseholdMutations
from schema.note import Note, NoteMutations
from schema.organisation import Organisation, Territory, User
from schema.orientation import Orientation, Stay
from schema.person import Person
from schema.query import Query
from schema.situation import SituationMutations
from schema.structure import Place, Structure
from schema.subscription import Subscription

log = logging.getLogger("siao.errors")
SDL_PATH = Path(__file__).with_name("schema.graphql")
NODE_TYPES = [
    Household,
    Person,
    Membership,
    Demand,
    AuditEvent,
    User,
    Organisation,
    Territory,
    Structure,
    Place,
    Orientation,
    Stay,
    Evaluation,
    Note,
    Attachment,
    Accompaniment,
]


@strawberry.type(
    description="Changes to the household graph. Each takes one `input` and returns a payload "
    "with the changed objects and `userErrors` (business refusals: nothing was written)."
)
class Mutation(
    HouseholdMutations,
    LifecycleMutations,
    MergeMutations,
    EvaluationMutations,
    NoteMutations,
    SituationMutations,
    AttachmentMutations,
    AccompanimentMutations,
    DemandMutations,
):
    pass


class SiaoSchema(strawberry.Schema):
    """Logs only unexpected errors: coded errors are answers, not incidents. With
    introspection off, error messages carry no "Did you mean ...?" hints either."""

    hides_suggestions = False

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        if self.hides_suggestions:
            # The same for every viewer, so the cached validation errors may be changed
            # in place (as strawberry's own `disable_field_suggestions` does).
            for error in errors:
                error.message = hide_suggestions(error.message)
        # A client's mistake is an answer, not an incident: one INFO line, no traceback.
        # Anything else is logged by ErrorPolicy as it masks it (ERROR, with traceback).
        for error in errors:
            # Over the WebSocket too (the HTTP view adds them again to its copy).
            if not (error.extensions or {}).get("code"):
                code = uncoded_error_code(error.message).value
                error.extensions = {**(error.extensions or {}), "code": code}
            if is_client_error(error):
                code = (error.extensions or {}).get("code", "-")
                log.info("client error %s: %s", code, error.message)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    introspection_off = settings.introspection_mode is Introspection.OFF
    extensions: list[Any] = [
        ErrorPolicy,
        partial(ParserCache, maxsize=256),
        partial(ValidationCache, maxsize=256),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(
            AddValidationRules,
            # Built once: the validation cache is keyed by the rule classes, and the
            # limiters would build new ones for every request (so it would never hit).
            # Empty selections, depth and aliases in one memoised walk (schema/cost.py).
            [
                shape_rule(settings.max_depth, settings.max_aliases),
                *([NoSchemaIntrospectionCustomRule] if introspection_off else []),
            ],
        ),
        # After ValidationCache: an anonymous request's validation errors are replaced.
        AuthenticationGate,
        # After both: measures only the documents they let through, before execution.
        partial(
            CostLimit,
            max_nodes=settings.max_nodes,
            max_page_size=settings.max_page_size,
            report=settings.is_dev,
        ),
        AccessLog,
    ]
    if settings.is_dev:
        extensions.append(SqlCost)
    schema = SiaoSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )
    schema.hides_suggestions = introspection_off
    return schema


def export_sdl(settings: Settings | None = None) -> str:
    return build_schema(settings).as_str() + "\n"
