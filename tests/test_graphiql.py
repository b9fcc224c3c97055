"""GraphiQL must work offline (its assets are served by us, not by unpkg.com) and teach:
it opens on the README's first query, under a comment on getting a token, and offers the
tutorial's steps as its default tabs. The tool that vendors the assets is not part of the
service."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from starlette.applications import Starlette
from strawberry.http.ides import get_graphql_ide_html

import schema.graphiql as graphiql_module
from schema.graphiql import (
    ASSETS_DIR,
    EXAMPLES_DIR,
    GraphiQLAssetsError,
    graphiql_html,
    tutorial_examples,
)
from tests.conftest import http_client

ROOT = Path(__file__).resolve().parent.parent
TOKEN_COMMAND = "siao token --user siao.75@demo.siao --header"

ASSETS_URL = "/graphiql-assets"

Attributes = dict[str, str | None]


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, Attributes]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, Attributes]]:
    collector = _TagCollector()
    collector.feed(page)
    collector.close()
    return collector.tags


def _resource_urls(page: str) -> list[tuple[str, str, str | None]]:
    """(tag, src or href, integrity) for every tag with a src or href."""
    return [
        (tag, url, attrs.get("integrity"))
        for tag, attrs in _tags(page)
        for url in (attrs.get("src"), attrs.get("href"))
        if url is not None
    ]


def _sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


@pytest.fixture(scope="module")
def page() -> str:
    return graphiql_html(ASSETS_URL)


def test_no_internet_urls_in_src_or_href(page: str) -> None:
    for _, url, _ in _resource_urls(page):
        # data: URIs (the favicon) are fine, even with an xmlns inside.
        assert not url.strip().lower().startswith(("http:", "https:", "//")), url
    raw_attributes = re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//)""", page, re.I)
    assert raw_attributes == []
    assert "unpkg.com" not in page


def test_local_assets_exist_and_match_integrity(page: str) -> None:
    local = [
        (tag, url[len(ASSETS_URL) + 1 :], integrity)
        for tag, url, integrity in _resource_urls(page)
        if url.startswith(ASSETS_URL + "/")
    ]
    assert len(local) == 7
    packages: set[str] = set()
    for tag, relative, integrity in local:
        assert tag in {"script", "link"}
        assert ".." not in PurePosixPath(relative).parts
        file = ASSETS_DIR / relative
        assert file.is_file(), relative
        assert integrity is not None, relative
        assert integrity.startswith("sha384-"), integrity
        assert _sha384(file.read_bytes()) == integrity, relative
        package = re.match(r"((?:@[^/@]+/)?[^/@]+)@\d[^/]*/", relative)
        assert package is not None, relative
        packages.add(package[1])
    assert packages == {"react", "react-dom", "js-cookie", "graphiql", "@graphiql/plugin-explorer"}


def test_each_vendored_package_has_a_license() -> None:
    package_dirs = [p.parent for p in ASSETS_DIR.glob("**/LICENSE*")]
    assert len(package_dirs) == 5
    for package_dir in package_dirs:
        assert "@" in package_dir.name
        assert "Permission is hereby granted" in (package_dir / "LICENSE").read_text()


def test_vendored_css_fetches_nothing_external() -> None:
    stylesheets = list(ASSETS_DIR.glob("**/*.css"))
    assert len(stylesheets) == 2
    for stylesheet in stylesheets:
        css = stylesheet.read_text(encoding="utf-8")
        assert "@import" not in css
        for target in re.findall(r"""url\(\s*["']?([^"')]*)""", css):
            assert target.startswith("data:"), (stylesheet, target[:80])


def test_page_still_bootstraps_graphiql(page: str) -> None:
    assert '<div id="graphiql"' in page
    assert "GraphiQL.createFetcher(" in page
    assert "fetcher: fetcher" in page
    assert "React.createElement(GraphiQL," in page
    assert "GraphiQLPluginExplorer.explorerPlugin()" in page
    assert 'ReactDOM.createRoot(document.getElementById("graphiql"))' in page
    scripts = [attrs["src"] for tag, attrs in _tags(page) if tag == "script" and attrs.get("src")]
    assert len(scripts) == 5
    stylesheets = [
        attrs["href"]
        for tag, attrs in _tags(page)
        if tag == "link" and attrs.get("rel") == "stylesheet"
    ]
    assert len(stylesheets) == 2


def test_trailing_slash_in_assets_url_is_ignored(page: str) -> None:
    assert graphiql_html(ASSETS_URL + "/") == page


@pytest.mark.parametrize(
    "template",
    [
        # A strawberry upgrade pins a version that is not vendored.
        '<script src="https://unpkg.com/graphiql@99.0.0/graphiql.min.js"></script>',
        # A vendored file, but with another hash.
        '<script src="https://unpkg.com/react@18.2.0/umd/react.production.min.js"'
        f' integrity="sha384-{"A" * 64}"></script>',
        # An unpinned unpkg URL.
        '<script src="https://unpkg.com/graphiql/graphiql.min.js"></script>',
        # Another CDN.
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/graphiql@3.8.3/graphiql.min.css">',
    ],
)
def test_unvendored_assets_raise(monkeypatch: pytest.MonkeyPatch, template: str) -> None:
    monkeypatch.setattr(graphiql_module, "get_graphql_ide_html", lambda graphql_ide: template)
    with pytest.raises(GraphiQLAssetsError):
        graphiql_html(ASSETS_URL)


# -- The page teaches ----------------------------------------------------------------------


def _constants(page: str) -> tuple[str, list[dict[str, Any]]]:
    """The opening text and the default tabs, as the page's script holds them."""
    opening = re.search(r"const EXAMPLE_QUERY = (.*);\n", page)
    tabs = re.search(r"const SIAO_DEFAULT_TABS = (.*);\n", page)
    assert opening is not None
    assert tabs is not None
    return json.loads(opening[1]), json.loads(tabs[1])


@pytest.fixture
async def served(app: Starlette) -> str:
    """The page the service serves to a browser at /graphql (dev)."""
    async with http_client(app, {"Accept": "text/html"}) as client:
        response = await client.get("/graphql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def test_graphiql_opens_on_the_first_query_under_the_token_comment(served: str) -> None:
    opening, tabs = _constants(served)
    first = (EXAMPLES_DIR / "first-look.graphql").read_text(encoding="utf-8")
    assert "query FirstLook {" in first
    comment, query = opening[: -len(first)], opening[-len(first) :]
    assert query == first
    assert TOKEN_COMMAND in comment
    assert "Headers tab" in comment
    assert all(line.startswith("#") for line in comment.splitlines())  # runs as it is
    assert tabs[0] == {"query": opening}  # the opening tab is the query strawberry opens on
    props = served[served.index("React.createElement(GraphiQL, {") :]
    assert props.split("\n")[1].strip() == "defaultTabs: SIAO_DEFAULT_TABS,"


async def test_the_tutorial_steps_are_the_next_default_tabs(served: str) -> None:
    _, tabs = _constants(served)
    steps = tutorial_examples()
    assert len(steps) == 16
    assert len(tabs) == 1 + len(steps)
    for number, (tab, step) in enumerate(zip(tabs[1:], steps, strict=True), start=1):
        assert tab["query"].endswith(step.text), step.path
        assert tab["query"].startswith(f"# Step {number} of 16 of the tutorial"), tab["query"]
        assert f"siao token --user {step.user} --header" in tab["query"]
        assert tab.get("variables") == step.variables, step.path
    for tab in tabs:  # each tab runs as it is: one operation, comments aside
        operations = parse(tab["query"]).definitions
        assert len([d for d in operations if isinstance(d, OperationDefinitionNode)]) == 1


def test_without_the_examples_folder_the_page_still_says_how_to_get_a_token(
    tmp_path: Path,
) -> None:
    opening, tabs = _constants(graphiql_html(ASSETS_URL, examples=tmp_path / "none"))
    assert TOKEN_COMMAND in opening
    assert "query Me { me { displayName role territory } }" in opening
    assert tabs == [{"query": opening}]


def test_the_tabs_cannot_break_out_of_the_script(tmp_path: Path) -> None:
    text = "# user: siao.75@demo.siao\nquery Odd { me { displayName } }\n# </script><!-- &\n"
    (tmp_path / "first-look.graphql").write_text(text, encoding="utf-8")
    page = graphiql_html(ASSETS_URL, examples=tmp_path)
    assert page.count("</script>") == graphiql_html(ASSETS_URL).count("</script>")
    assert "<!--" not in page.split("<script>")[-1]
    opening, _ = _constants(page)
    assert opening.endswith(text)


def test_a_strawberry_page_without_room_for_the_tabs_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # e.g. a strawberry upgrade that renames its welcome text: no silent generic page
    template = get_graphql_ide_html(graphql_ide="graphiql").replace(
        "const EXAMPLE_QUERY =", "const WELCOME ="
    )
    monkeypatch.setattr(graphiql_module, "get_graphql_ide_html", lambda graphql_ide: template)
    with pytest.raises(GraphiQLAssetsError, match="EXAMPLE_QUERY"):
        graphiql_html(ASSETS_URL)


# -- The vendoring tool is outside the runtime --------------------------------------------


def test_the_vendoring_tool_is_not_in_the_runtime_package() -> None:
    assert not hasattr(graphiql_module, "vendor")
    source = Path(graphiql_module.__file__).read_text(encoding="utf-8")
    assert "import subprocess" not in source
    assert "def vendor" not in source


def test_the_vendoring_tool_runs_from_a_clone_and_says_what_it_needs(tmp_path: Path) -> None:
    # without npm on PATH it stops before writing anything, with a message and exit code 1
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "tools/vendor_graphiql.py", "--dest", str(tmp_path / "assets")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "npm is not on PATH" in result.stderr
    assert not (tmp_path / "assets").exists()
