"""GraphiQL must work offline: its assets are served by us, not by unpkg.com."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import PurePosixPath

import pytest

import schema.graphiql as graphiql_module
from schema.graphiql import ASSETS_DIR, GraphiQLAssetsError, graphiql_html

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
