"""GraphiQL without internet, opening on the tutorial: the page the service serves in dev.

Why offline: strawberry's GraphiQL page loads React, GraphiQL, js-cookie and the
explorer plugin from https://unpkg.com.  State networks often have no internet
access, and there that page stays stuck on "Loading...".  So the exact files
strawberry pins (by their ``integrity`` sha384 hashes) are vendored in
``graphiql_assets/`` next to this module, laid out like unpkg
(``<package>@<version>/<path>``, plus each package's LICENSE), and
:func:`graphiql_html` rewrites strawberry's page to load them from
``assets_url`` (where the service mounts ``ASSETS_DIR``).  The ``integrity``
attributes are kept, so browsers still verify every file.

If strawberry's page references an unpkg file that is not vendored here, or
whose hash differs (e.g. after a strawberry upgrade), :func:`graphiql_html`
raises :class:`GraphiQLAssetsError` instead of silently falling back to the
internet.  The tool that refreshes the assets (it needs ``npm``) is outside the
runtime packages: ``python tools/vendor_graphiql.py``.

Why the tabs: strawberry's page opens on a generic welcome text.  Ours opens on the
README's first query (``examples/first-look.graphql``) under a comment that says how to
get a token and where to paste it, and offers the tutorial's steps
(``examples/tutorial/``, see docs/tutorial.md) as GraphiQL's default tabs, each with its
variables.  GraphiQL keeps its tabs in the browser's local storage: the default tabs
show on a first visit (or after "Clear storage" in GraphiQL's settings).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from graphql import OperationDefinitionNode, parse
from strawberry.http.ides import get_graphql_ide_html

__all__ = [
    "ASSETS_DIR",
    "EXAMPLES_DIR",
    "Asset",
    "Example",
    "GraphiQLAssetsError",
    "default_tabs",
    "graphiql_html",
    "load_example",
    "opening_tab",
    "pinned_assets",
    "sri",
    "sri_matches",
    "tutorial_examples",
]

ASSETS_DIR: Path = Path(__file__).resolve().parent / "graphiql_assets"
# The examples of the docs, at the root of the project (a clone, or `pip install -e .`).
EXAMPLES_DIR: Path = Path(__file__).resolve().parent.parent / "examples"
FIRST_QUERY = "first-look.graphql"
TUTORIAL = "tutorial"
TOKEN_USER = "siao.75@demo.siao"

REFRESH_HINT = "Re-vendor the assets with: python tools/vendor_graphiql.py"

# Any unpkg URL in the page, and the only form we can vendor: an exact version.
_ANY_UNPKG_URL = re.compile(r"""(?:https?:)?//unpkg\.com/[^\s"'<>`)]*""", re.IGNORECASE)
_PINNED_UNPKG_URL = re.compile(
    r"https://unpkg\.com/"
    r"(?P<name>(?:@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*)"
    r"@(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"
    r"/(?P<path>[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*)"
)

# Subresource Integrity algorithms, weakest first (the browser uses the strongest).
_SRI_ALGORITHMS = ("sha256", "sha384", "sha512")

# Where our text goes in strawberry's page: its welcome text, and GraphiQL's props.
_WELCOME = re.compile(r"const EXAMPLE_QUERY = `[^`]*`;")
_GRAPHIQL_PROPS = "React.createElement(GraphiQL, {"

_USER_LINE = re.compile(r"^# user: (\S+)$", re.MULTILINE)
_FROM = re.compile(r"<from \w+: [^>]+>")

_OPENING_COMMENT = f"""\
# SI SIAO Graph, on the demo data.
#
# Every request needs a bearer token. In a terminal, in the project's folder:
#
#     siao token --user {TOKEN_USER} --header
#
# prints {{"Authorization": "Bearer ..."}}: paste it in the Headers tab below
# (bottom left), then run this query (Ctrl-Enter, or the ▶ button).
# Another demo user: another --user (README.md, "Demo users").
#
# The next tabs are the tutorial's steps, in order (docs/tutorial.md); each
# tab has its own Headers, so paste the token of the user it names.
#
"""
# The page of an install without the project's examples/ folder (not a clone).
_NO_EXAMPLES = """\
# (The tutorial's examples are in the examples/ folder of a clone of the project.)
query Me { me { displayName role territory } }
"""


class GraphiQLAssetsError(RuntimeError):
    """The vendored GraphiQL assets (or our tabs) do not fit strawberry's GraphiQL page."""


@dataclass(frozen=True)
class Asset:
    url: str
    name: str
    version: str
    path: str
    integrity: str | None

    @property
    def package(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def local_path(self) -> str:
        return f"{self.package}/{self.path}"


@dataclass(frozen=True)
class Example:
    """One example of the docs: ``<name>.graphql`` (a ``# user: LOGIN`` line, then one
    named operation and its fragments) and its variables, ``<name>.json``, if any."""

    path: Path
    text: str
    variables: str | None

    @property
    def user(self) -> str:
        match = _USER_LINE.search(self.text)
        if match is None:
            msg = f"{self.path} has no '# user: LOGIN' line"
            raise ValueError(msg)
        return match[1]

    @property
    def operation(self) -> OperationDefinitionNode:
        operations = [
            definition
            for definition in parse(self.text).definitions
            if isinstance(definition, OperationDefinitionNode)
        ]
        if len(operations) != 1 or operations[0].name is None:
            msg = f"{self.path} must hold exactly one named operation"
            raise ValueError(msg)
        return operations[0]

    @property
    def name(self) -> str:
        name = self.operation.name
        assert name is not None  # checked by `operation`
        return name.value


def load_example(path: Path) -> Example:
    variables = path.with_suffix(".json")
    return Example(
        path=path,
        text=path.read_text(encoding="utf-8"),
        variables=variables.read_text(encoding="utf-8") if variables.is_file() else None,
    )


def tutorial_examples(examples: Path = EXAMPLES_DIR) -> list[Example]:
    """The tutorial's steps, in order (their files are numbered)."""
    return [load_example(path) for path in sorted((examples / TUTORIAL).glob("*.graphql"))]


def opening_tab(examples: Path = EXAMPLES_DIR) -> str:
    """The text GraphiQL opens on: how to get a token, then the README's first query."""
    first = examples / FIRST_QUERY
    body = first.read_text(encoding="utf-8") if first.is_file() else _NO_EXAMPLES
    return _OPENING_COMMENT + body


def _step_tab(number: int, count: int, example: Example) -> dict[str, str]:
    lines = [
        f"# Step {number} of {count} of the tutorial (docs/tutorial.md). This tab's Headers",
        f"# need the token of its user: siao token --user {example.user} --header",
    ]
    if example.variables is not None and _FROM.search(example.variables):
        lines.append('# In Variables, replace each "<from Step: path>" by that value of that')
        lines.append("# step's answer.")
    tab = {"query": "\n".join(lines) + "\n" + example.text}
    if example.variables is not None:
        tab["variables"] = example.variables
    return tab


def default_tabs(examples: Path = EXAMPLES_DIR) -> list[dict[str, str]]:
    """GraphiQL's ``defaultTabs``: the opening tab, then the tutorial's steps."""
    steps = tutorial_examples(examples) if examples.is_dir() else []
    return [
        {"query": opening_tab(examples)},
        *(_step_tab(n, len(steps), step) for n, step in enumerate(steps, start=1)),
    ]


def _script_json(value: object) -> str:
    """JSON that is safe inside an HTML <script> (no `</script>`, `<!--`...)."""
    text = json.dumps(value, ensure_ascii=False)
    for character in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(character, f"\\u{ord(character):04x}")
    return text


def _teach(page: str, examples: Path) -> str:
    """Strawberry's page with our opening text and default tabs."""
    if len(_WELCOME.findall(page)) != 1 or page.count(_GRAPHIQL_PROPS) != 1:
        msg = (
            "strawberry's GraphiQL page no longer has one `const EXAMPLE_QUERY = `...`;` "
            f"and one `{_GRAPHIQL_PROPS}`, where the opening tab and the tutorial's tabs "
            "go; adapt schema/graphiql.py."
        )
        raise GraphiQLAssetsError(msg)
    tabs = default_tabs(examples)
    constants = (
        f"const EXAMPLE_QUERY = {_script_json(tabs[0]['query'])};\n"
        f"      const SIAO_DEFAULT_TABS = {_script_json(tabs)};"
    )
    page = _WELCOME.sub(lambda _: constants, page)
    return page.replace(
        _GRAPHIQL_PROPS, _GRAPHIQL_PROPS + "\n          defaultTabs: SIAO_DEFAULT_TABS,"
    )


class _TagCollector(HTMLParser):
    """Collects the ``src``/``href`` values and their ``integrity`` attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.integrity: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        integrity = values.get("integrity")
        for attribute in ("src", "href"):
            url = values.get(attribute)
            if url is None:
                continue
            self.urls.append(url)
            if integrity:
                self.integrity[url] = integrity


def _collect_tags(page: str) -> _TagCollector:
    collector = _TagCollector()
    collector.feed(page)
    collector.close()
    return collector


def _is_external(url: str) -> bool:
    return url.strip().lower().startswith(("http:", "https:", "//"))


def pinned_assets(template: str) -> list[Asset]:
    """The unpkg files referenced by strawberry's page, with their integrity."""
    integrity = _collect_tags(template).integrity
    assets: dict[str, Asset] = {}
    for url in _ANY_UNPKG_URL.findall(template):
        match = _PINNED_UNPKG_URL.fullmatch(url)
        if match is None or {".", ".."} & set(PurePosixPath(match["path"]).parts):
            msg = (
                f"strawberry's GraphiQL page references {url!r}, which is not of the "
                "form https://unpkg.com/<package>@<x.y.z>/<file>, so it cannot be "
                "vendored; adapt schema/graphiql.py."
            )
            raise GraphiQLAssetsError(msg)
        assets.setdefault(
            url,
            Asset(url, match["name"], match["version"], match["path"], integrity.get(url)),
        )
    return list(assets.values())


def sri(data: bytes, algorithm: str = "sha384") -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode('ascii')}"


def sri_matches(data: bytes, integrity: str) -> bool:
    """Whether ``data`` satisfies an ``integrity`` attribute (SRI rules)."""
    expected: dict[str, set[str]] = {}
    for token in integrity.split():
        hash_expression = token.split("?", 1)[0]
        algorithm, _, _ = hash_expression.partition("-")
        if algorithm in _SRI_ALGORITHMS:
            expected.setdefault(algorithm, set()).add(hash_expression)
    if not expected:
        return False
    strongest = max(expected, key=_SRI_ALGORITHMS.index)
    return sri(data, strongest) in expected[strongest]


@functools.cache
def _check_vendored(local_path: str, integrity: str | None) -> None:
    """Raise unless ``local_path`` is vendored and matches ``integrity``.

    Successes are cached (files are only read once per process).
    """
    file = ASSETS_DIR / local_path
    if not file.is_file():
        msg = (
            f"strawberry's GraphiQL page needs {local_path}, which is not vendored "
            f"in {ASSETS_DIR}. {REFRESH_HINT}"
        )
        raise GraphiQLAssetsError(msg)
    if integrity is not None and not sri_matches(file.read_bytes(), integrity):
        msg = (
            f"{file} does not match the integrity {integrity!r} pinned by "
            f"strawberry's GraphiQL page. {REFRESH_HINT}"
        )
        raise GraphiQLAssetsError(msg)


def graphiql_html(assets_url: str, examples: Path = EXAMPLES_DIR) -> str:
    """Strawberry's GraphiQL page, loading its assets from ``assets_url``, opening on the
    first query of ``examples`` with the tutorial's steps as default tabs.

    ``assets_url`` is where ``ASSETS_DIR`` is served, e.g. ``"/graphiql-assets"``.
    The page is the one strawberry's ASGI view serves (``get_graphql_ide_html``),
    with every ``https://unpkg.com/<pkg>@<ver>/<path>`` replaced by
    ``<assets_url>/<pkg>@<ver>/<path>`` (``integrity`` attributes are kept), and
    its welcome text replaced by our tabs (:func:`default_tabs`).

    Raises :class:`GraphiQLAssetsError` if a referenced file is not vendored or
    does not match its integrity hash, if the page would still load anything from
    another host, or if it no longer has the places where our tabs go.
    """
    if re.search(r"""[\s"'<>`\\]""", assets_url):
        msg = f"assets_url must be a plain URL path, got {assets_url!r}"
        raise ValueError(msg)
    base = assets_url.rstrip("/")
    page = get_graphql_ide_html(graphql_ide="graphiql")
    for asset in pinned_assets(page):
        _check_vendored(asset.local_path, asset.integrity)
        page = page.replace(asset.url, f"{base}/{asset.local_path}")
    external = [url for url in _collect_tags(page).urls if _is_external(url)]
    if external or _ANY_UNPKG_URL.search(page):
        msg = (
            "strawberry's GraphiQL page still loads resources from the internet "
            f"after vendoring: {external or _ANY_UNPKG_URL.findall(page)}; "
            "adapt schema/graphiql.py."
        )
        raise GraphiQLAssetsError(msg)
    return _teach(page, examples)
