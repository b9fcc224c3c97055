"""Write examples/siao.http: every example of the docs as a request of VS Code's REST Client.

Run it from the project's folder after changing an example::

    python tools/examples_http.py

(`--check` exits 1 when the committed file is stale; `tests/test_examples.py` fails then.)
The requests come in the order `tests/test_examples.py` runs them: the README's first
query, the tutorial's steps, then the other folders. Each is a GraphQL request
(`X-Request-Type: GraphQL`) named after its operation (`# @name`), and a variable
``"<from Step: path>"`` of an example becomes a reference to that step's answer
(``{{Step.response.body.$.data.path}}``), so that sending the requests in order chains
them as the tutorial does. The tokens are file variables to fill in, one per demo user.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python tools/examples_http.py` from a clone
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graphql import ListTypeNode, NamedTypeNode, NonNullTypeNode, TypeNode

from schema.graphiql import EXAMPLES_DIR, Example, load_example

__all__ = ["FROM", "HTTP_FILE", "examples_in_order", "main", "render"]

HTTP_FILE = EXAMPLES_DIR / "siao.http"
# A value taken from the answer of an earlier example: "<from Operation: path.in[0].data>".
FROM = re.compile(r"^<from (?P<step>\w+): (?P<path>[^>]+)>$")
_SEGMENT = re.compile(
    r"\.?(?P<key>[A-Za-z_]\w*)|\[(?P<index>\d+)\]|\[(?P<field>\w+)=(?P<value>[^\]]+)\]"
)
_UNQUOTED = {"Int", "Float", "Boolean"}  # REST Client inserts a number or boolean as JSON


def examples_in_order(examples: Path = EXAMPLES_DIR) -> list[list[Example]]:
    """The examples in groups that chain inside: the files at the top of `examples`, then
    each folder (the tutorial first), each sorted by file name."""
    folders = sorted(
        (path for path in examples.iterdir() if path.is_dir()),
        key=lambda path: (path.name != "tutorial", path.name),
    )
    groups = [sorted(examples.glob("*.graphql")), *(sorted(f.glob("*.graphql")) for f in folders)]
    return [[load_example(path) for path in group] for group in groups if group]


def path_segments(path: str) -> list[str | int | tuple[str, str]]:
    """`a.b[0].c[kind=X]` -> ["a", "b", 0, "c", ("kind", "X")]."""
    segments: list[str | int | tuple[str, str]] = []
    position = 0
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None or match.end() == position:
            msg = f"not a path: {path!r} (at {path[position:]!r})"
            raise ValueError(msg)
        if match["key"] is not None:
            segments.append(match["key"])
        elif match["index"] is not None:
            segments.append(int(match["index"]))
        else:
            segments.append((match["field"], match["value"]))
        position = match.end()
    return segments


def _json_path(path: str) -> str:
    parts = ["$.data"]
    for segment in path_segments(path):
        if isinstance(segment, str):
            parts.append(f".{segment}")
        elif isinstance(segment, int):
            parts.append(f"[{segment}]")
        else:
            parts.append(f"[?(@.{segment[0]}=='{segment[1]}')]")
    return "".join(parts)


def _named(type_node: TypeNode) -> str:
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        type_node = type_node.type
    assert isinstance(type_node, NamedTypeNode)
    return type_node.name.value


def _token_variable(login: str) -> str:
    return "token_" + re.sub(r"\W", "_", login.split("@", 1)[0])


def _variables(example: Example) -> str:
    """The example's variables, each "<from Step: path>" as a reference to that answer."""
    if example.variables is None:
        return ""
    types = {
        definition.variable.name.value: _named(definition.type)
        for definition in example.operation.variable_definitions or ()
    }
    values: dict[str, object] = json.loads(example.variables)
    lines = []
    for name, value in values.items():
        match = FROM.match(value) if isinstance(value, str) else None
        if match is None:
            rendered = json.dumps(value, ensure_ascii=False)
        else:
            reference = f"{{{{{match['step']}.response.body.{_json_path(match['path'])}}}}}"
            rendered = reference if types.get(name) in _UNQUOTED else f'"{reference}"'
        lines.append(f"  {json.dumps(name)}: {rendered}")
    return "\n\n{\n" + ",\n".join(lines) + "\n}"


def _request(example: Example, relative: str) -> str:
    # The body is the operation without its comments and blank lines: REST Client takes
    # the first blank line of a GraphQL body as the start of the variables.
    document = "\n".join(
        line
        for line in example.text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return (
        f"### {example.name}: {relative}, as {example.user}\n"
        f"# @name {example.name}\n"
        "POST {{host}}/graphql\n"
        "Content-Type: application/json\n"
        f"Authorization: Bearer {{{{{_token_variable(example.user)}}}}}\n"
        "X-Request-Type: GraphQL\n"
        "\n"
        f"{document}{_variables(example)}\n"
    )


def render(examples: Path = EXAMPLES_DIR) -> str:
    groups = examples_in_order(examples)
    users = sorted({example.user for group in groups for example in group})
    head = [
        "# SI SIAO Graph: every example of the docs (examples/), for VS Code's REST Client.",
        "# Generated by `python tools/examples_http.py` from examples/; do not edit.",
        "#",
        "# 1. Serve the demo: siao serve --demo",
        "# 2. Fill in the tokens below: each is the output of the command above it.",
        "# 3. Send the requests in order (Send Request above each one): a request that needs",
        "#    an id takes it from the answer of the earlier request named after its step.",
        "",
        "@host = http://127.0.0.1:8000",
    ]
    for login in users:
        head += [f"# siao token --user {login}", f"@{_token_variable(login)} ="]
    requests = [
        _request(example, example.path.relative_to(examples.parent).as_posix())
        for group in groups
        for example in group
    ]
    return "\n".join(head) + "\n\n" + "\n".join(requests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not HTTP_FILE.is_file() or HTTP_FILE.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{HTTP_FILE} is stale: run python tools/examples_http.py\n")
            return 1
        return 0
    HTTP_FILE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
