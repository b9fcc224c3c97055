"""The published contract: the committed SDL matches the code, and everything a client
reads in GraphiQL's docs pane is described."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from schema import SDL_PATH, build_schema, export_sdl

CONTRACT_TYPES = {
    "Household",
    "Person",
    "Membership",
    "Demand",
    "AuditEvent",
    "User",
    "Organisation",
    "Territory",
    "Node",
    "PageInfo",
    "Evaluation",
    "Note",
}
CONTRACT_ROOT_FIELDS = {"node", "nodes", "me", "household", "households"}
CONTRACT_MUTATIONS = {
    "createHousehold",
    "addHouseholdMember",
    "moveHouseholdMember",
    "updatePerson",
    "createDemand",
    "recordEvaluation",
    "createNote",
    "pinNote",
}


def test_committed_sdl_matches_the_code() -> None:
    assert SDL_PATH.read_text() == export_sdl(), (
        "schema/schema.graphql is stale: run `siao schema export` and commit it"
    )


def test_contract_names_of_the_domain_are_there() -> None:
    schema = build_schema()._schema
    assert set(schema.type_map) >= CONTRACT_TYPES
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    assert set(schema.query_type.fields) >= CONTRACT_ROOT_FIELDS
    assert set(schema.mutation_type.fields) >= CONTRACT_MUTATIONS
    for name in ("Household", "Person", "Demand", "AuditEvent", "Membership"):
        node = schema.type_map[name]
        assert isinstance(node, GraphQLObjectType)
        assert "Node" in [i.name for i in node.interfaces]


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, gql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg})"
                    for arg, definition in field.args.items()
                    if not definition.description
                ]
        elif isinstance(gql_type, GraphQLInputObjectType):
            missing += [
                f"{name}.{f}"
                for f, definition in gql_type.fields.items()
                if not definition.description
            ]
        elif isinstance(gql_type, GraphQLEnumType):
            missing += [
                f"{name}.{v}"
                for v, definition in gql_type.values.items()
                if not definition.description
            ]
    assert missing == []
