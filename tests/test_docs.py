"""The docs say what the code does: their GraphQL is the examples' (which tests/test_examples.py
runs), their links lead somewhere in the repository, and their tables of roles, demo users,
mutations, refusal codes, configuration and record costs are those of the code."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLObjectType, build_schema, get_named_type

from auth.policy import ROLE_DESCRIPTIONS, Role
from auth.settings import Settings
from models.demo import USERS
from schema.graphiql import EXAMPLES_DIR, FIRST_QUERY, tutorial_examples
from tests.conftest import Run
from tools.examples_http import examples_in_order

Viewer = Callable[[str | None], Run]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.md"
REFERENCE = DOCS / "reference.md"
RECORD = DOCS / "household-record.md"
# What a reader opens (CONTRIBUTING.md is not listed here: it is checked by its owner).
PAGES = [README, ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md")), EXAMPLES_DIR / "README.md"]
EXAMPLES = [example for group in examples_in_order() for example in group]

GRAPHQL_BLOCK = re.compile(r"^```graphql\n(.*?)^```\n", re.M | re.S)
BLOCK_AND_VARIABLES = re.compile(
    r"^```graphql\n(?P<graphql>.*?)^```\n(?:\nVariables:\n\n```json\n(?P<json>.*?)^```\n)?",
    re.M | re.S,
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def rows(text: str, header: str) -> list[list[str]]:
    """The cells of the table whose header line starts with `header`."""
    lines = text[text.index(header) :].splitlines()
    table = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return table


# -- GraphQL blocks are the examples ------------------------------------------------------


def test_every_graphql_block_of_the_docs_is_an_example_word_for_word() -> None:
    texts = {example.text: example for example in EXAMPLES}
    blocks = 0
    for page in PAGES:
        for block in GRAPHQL_BLOCK.findall(page.read_text(encoding="utf-8")):
            blocks += 1
            assert block in texts, (
                f"{page.relative_to(ROOT)}: this block is no example of examples/ "
                f"(copy the file's text, or add it as an example):\n{block}"
            )
    assert blocks >= 20


def test_the_readme_shows_the_first_query() -> None:
    first = (EXAMPLES_DIR / FIRST_QUERY).read_text(encoding="utf-8")
    assert GRAPHQL_BLOCK.findall(README.read_text(encoding="utf-8")) == [first]


def test_the_tutorial_shows_every_step_in_order_with_its_variables() -> None:
    shown = [
        (match["graphql"], match["json"])
        for match in BLOCK_AND_VARIABLES.finditer(TUTORIAL.read_text(encoding="utf-8"))
    ]
    steps = [(step.text, step.variables) for step in tutorial_examples()]
    assert len(steps) == 16
    assert shown == steps


def test_the_variables_shown_are_the_examples() -> None:
    by_text = {example.text: example for example in EXAMPLES}
    for page in PAGES:
        for match in BLOCK_AND_VARIABLES.finditer(page.read_text(encoding="utf-8")):
            example = by_text[match["graphql"]]
            assert match["json"] == example.variables, (page.name, example.path)


def test_every_example_is_shown_or_linked_by_a_page() -> None:
    text = "\n".join(
        page.read_text(encoding="utf-8") for page in PAGES if page.parent != EXAMPLES_DIR
    )
    for example in EXAMPLES:
        linked = example.path.name in text
        assert example.text in text or linked, example.path


def test_the_readme_keeps_the_two_quick_start_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "pip install -e . && siao serve --demo\n" in text
    assert 'pip install -e ".[dev]" && pytest\n' in text


# -- Links ---------------------------------------------------------------------------------


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_leads_to_a_file_of_the_repository() -> None:
    checked = 0
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.is_relative_to(ROOT), (page.name, target)
            assert file.exists(), (page.name, target)
            if anchor:
                assert anchor in _anchors(file), (page.name, target)
            checked += 1
    assert checked >= 40


# -- Tables of the code --------------------------------------------------------------------


async def test_the_demo_users_see_as_many_households_as_the_readme_says(
    as_user: Viewer,
) -> None:
    table = rows(README.read_text(encoding="utf-8"), "| login | role | households |")
    assert {row[0].strip("`") for row in table} == set(USERS)
    for login, _, households, _ in table:
        answer = await as_user(login.strip("`"))("{ households(first: 1) { totalCount } }")
        assert answer.errors == []
        assert answer.data is not None
        assert answer.data["households"]["totalCount"] == int(households), login


def test_the_roles_table_names_every_role_as_the_policy_does() -> None:
    table = rows(REFERENCE.read_text(encoding="utf-8"), "| role | who |")
    assert [(row[0], row[1]) for row in table] == [
        (f"`{role.value}`", ROLE_DESCRIPTIONS[role]) for role in Role
    ]


def expected_mutations() -> tuple[list[str], str]:
    """The mutation table and the refusal codes, as the exported schema has them."""
    schema = build_schema((ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8"))
    assert schema.mutation_type is not None
    rule = re.compile(r"(?:Allowed to|Restricted:|For the) [^.]*\.")
    table: list[str] = []
    enums: dict[str, GraphQLEnumType] = {}
    for name, field in schema.mutation_type.fields.items():
        payload = get_named_type(field.type)
        assert isinstance(payload, GraphQLObjectType)
        errors = get_named_type(payload.fields["userErrors"].type)
        assert isinstance(errors, GraphQLObjectType)
        code = get_named_type(errors.fields["code"].type)
        assert isinstance(code, GraphQLEnumType)
        enums[code.name] = code
        who = rule.findall(field.description or "")[-1]
        table.append(f"| `{name}` | {who} | [`{code.name}`](#{code.name.lower()}) |")
    codes = "\n".join(
        f"### {name}\n\n"
        + "\n".join(f"- `{value}`: {v.description}" for value, v in enum.values.items())
        + "\n"
        for name, enum in enums.items()
    )
    return table, codes


def test_the_reference_lists_every_mutation_and_its_refusal_codes() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    table, codes = expected_mutations()
    header = "| mutation | who may run it |"
    shown = ["| " + " | ".join(row) + " |" for row in rows(text, header)]
    assert shown == table, "\n".join(table)
    assert codes in text, codes


def test_the_configuration_table_is_what_the_code_reads() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    table = rows(text, "| variable | default | meaning |")
    documented = {row[0].strip("`"): row[1] for row in table}
    sources = [ROOT / "server.py"] + [
        file
        for package in ("auth", "cli", "models", "resolvers", "schema", "migrations")
        for file in (ROOT / package).rglob("*.py")
    ]
    names = {
        name
        for file in sources
        for name in re.findall(r"\"((?:SIAO|DATABASE)_[A-Z_]+)\"", file.read_text("utf-8"))
    } - {role.value for role in Role}
    assert set(documented) == names
    defaults = Settings()
    for name, default in documented.items():
        field = name.removeprefix("SIAO_").lower()
        if not hasattr(defaults, field):
            continue
        value = getattr(defaults, field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert float(default.strip("`")) == value, name
        elif isinstance(value, str):
            assert default == f"`{value}`", name


def test_the_record_tabs_cost_what_the_record_test_checks() -> None:
    from tests.test_record import STATEMENTS

    table = rows(RECORD.read_text(encoding="utf-8"), "| tab | document | statements |")
    assert {row[0]: int(row[2]) for row in table} == STATEMENTS
