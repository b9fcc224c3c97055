"""GraphiQL without internet: serve its JS/CSS from our own service.

Why: strawberry's GraphiQL page loads React, GraphiQL, js-cookie and the
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
internet.

How to refresh the assets (needs ``npm`` and the npm registry), e.g. after
upgrading strawberry, from the project root::

    python -c "from schema.graphiql import vendor; vendor()"

then review and commit ``schema/graphiql_assets/``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from strawberry.http.ides import get_graphql_ide_html

__all__ = ["ASSETS_DIR", "GraphiQLAssetsError", "graphiql_html", "vendor"]

ASSETS_DIR: Path = Path(__file__).resolve().parent / "graphiql_assets"

_REFRESH_HINT = (
    'Re-vendor the assets with: python -c "from schema.graphiql import vendor; vendor()"'
)

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

_LICENSE_NAME = re.compile(r"^(?:LICEN[CS]E|COPYING)(?:[.-].*)?$", re.IGNORECASE)

# npm tarballs that ship no LICENSE file: why other packages' LICENSE files
# apply, and those packages (copied verbatim).  Review this when they change.
_LICENSE_FALLBACKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "@graphiql/plugin-explorer": (
        "It is developed in the graphql/graphiql repository, like the graphiql"
        " package, and its dist/index.umd.js bundles graphiql-explorer.",
        ("graphiql@3.8.3", "graphiql-explorer@0.9.0"),
    ),
}

logger = logging.getLogger(__name__)


class GraphiQLAssetsError(RuntimeError):
    """The vendored GraphiQL assets do not match strawberry's GraphiQL page."""


@dataclass(frozen=True)
class _Asset:
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


def _pinned_assets(template: str) -> list[_Asset]:
    """The unpkg files referenced by strawberry's page, with their integrity."""
    integrity = _collect_tags(template).integrity
    assets: dict[str, _Asset] = {}
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
            _Asset(url, match["name"], match["version"], match["path"], integrity.get(url)),
        )
    return list(assets.values())


def _sri(data: bytes, algorithm: str = "sha384") -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode('ascii')}"


def _sri_matches(data: bytes, integrity: str) -> bool:
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
    return _sri(data, strongest) in expected[strongest]


@functools.cache
def _check_vendored(local_path: str, integrity: str | None) -> None:
    """Raise unless ``local_path`` is vendored and matches ``integrity``.

    Successes are cached (files are only read once per process).
    """
    file = ASSETS_DIR / local_path
    if not file.is_file():
        msg = (
            f"strawberry's GraphiQL page needs {local_path}, which is not vendored "
            f"in {ASSETS_DIR}. {_REFRESH_HINT}"
        )
        raise GraphiQLAssetsError(msg)
    if integrity is not None and not _sri_matches(file.read_bytes(), integrity):
        msg = (
            f"{file} does not match the integrity {integrity!r} pinned by "
            f"strawberry's GraphiQL page. {_REFRESH_HINT}"
        )
        raise GraphiQLAssetsError(msg)


def graphiql_html(assets_url: str) -> str:
    """Strawberry's GraphiQL page, loading its assets from ``assets_url``.

    ``assets_url`` is where ``ASSETS_DIR`` is served, e.g. ``"/graphiql-assets"``.
    The page is the one strawberry's ASGI view serves (``get_graphql_ide_html``,
    returned as is), with every ``https://unpkg.com/<pkg>@<ver>/<path>`` replaced
    by ``<assets_url>/<pkg>@<ver>/<path>``; ``integrity`` attributes are kept.

    Raises :class:`GraphiQLAssetsError` if a referenced file is not vendored or
    does not match its integrity hash, or if the page would still load
    anything from another host.
    """
    if re.search(r"""[\s"'<>`\\]""", assets_url):
        msg = f"assets_url must be a plain URL path, got {assets_url!r}"
        raise ValueError(msg)
    base = assets_url.rstrip("/")
    page = get_graphql_ide_html(graphql_ide="graphiql")
    for asset in _pinned_assets(page):
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
    return page


def _npm_unpack(npm: str, spec: str, workdir: Path) -> Path:
    """``npm pack spec`` into ``workdir``, extract it, return the package root."""
    out = workdir / re.sub(r"[^A-Za-z0-9._-]", "_", spec)
    out.mkdir(parents=True)
    result = subprocess.run(
        [npm, "pack", spec, "--ignore-scripts", "--pack-destination", str(out)],
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        msg = f"`npm pack {spec}` failed:\n{result.stderr.strip()}"
        raise GraphiQLAssetsError(msg)
    tarballs = list(out.glob("*.tgz"))
    if len(tarballs) != 1:
        msg = f"`npm pack {spec}` produced {tarballs}, expected one tarball"
        raise GraphiQLAssetsError(msg)
    extracted = out / "extracted"
    with tarfile.open(tarballs[0], "r:gz") as tar:
        tar.extractall(extracted, filter="data")
    roots = [path for path in extracted.iterdir() if path.is_dir()]
    if len(roots) != 1:
        msg = f"unexpected layout of the npm tarball of {spec}: {roots}"
        raise GraphiQLAssetsError(msg)
    meta = json.loads((roots[0] / "package.json").read_text(encoding="utf-8"))
    if f"{meta.get('name')}@{meta.get('version')}" != spec:
        msg = f"`npm pack {spec}` returned {meta.get('name')}@{meta.get('version')}"
        raise GraphiQLAssetsError(msg)
    return roots[0]


def _license_files(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and _LICENSE_NAME.match(p.name))


class _Unpacker:
    """Packs and extracts each npm package once per vendoring run."""

    def __init__(self, npm: str, workdir: Path) -> None:
        self._npm = npm
        self._workdir = workdir
        self._roots: dict[str, Path] = {}

    def __call__(self, spec: str) -> Path:
        if spec not in self._roots:
            logger.info("npm pack %s", spec)
            self._roots[spec] = _npm_unpack(self._npm, spec, self._workdir)
        return self._roots[spec]


def _fallback_license(package: str, root: Path, unpack: _Unpacker) -> str:
    name = package.rpartition("@")[0]
    if name not in _LICENSE_FALLBACKS:
        msg = (
            f"the npm tarball of {package} ships no LICENSE file; find out which "
            "licence applies and add it to _LICENSE_FALLBACKS in schema/graphiql.py"
        )
        raise GraphiQLAssetsError(msg)
    reason, sources = _LICENSE_FALLBACKS[name]
    meta = json.loads((root / "package.json").read_text(encoding="utf-8"))
    repository = meta.get("repository")
    if isinstance(repository, dict):
        repository = repository.get("url")
    parts = [
        f"{package} ships no LICENSE file in its npm tarball; its package.json "
        f'declares "license": {json.dumps(meta.get("license"))} '
        f"(repository: {repository}).\n{reason}\n"
        f"Below are verbatim copies of the LICENSE files of the npm packages "
        f"{', '.join(sources)}.\n",
    ]
    for source in sources:
        files = _license_files(unpack(source))
        if not files:
            msg = f"{source}, the licence source for {package}, has no LICENSE file"
            raise GraphiQLAssetsError(msg)
        for file in files:
            parts.append(f"\n===== {source}: {file.name} =====\n\n")
            parts.append(file.read_text(encoding="utf-8"))
    return "".join(parts)


def _replace_tree(staging: Path, dest: Path) -> None:
    if dest.exists():
        # Every top-level entry is "<package>@<version>" or an "@scope" folder.
        foreign = sorted(p.name for p in dest.iterdir() if "@" not in p.name)
        if foreign:
            msg = f"refusing to replace {dest}: it contains {foreign}"
            raise GraphiQLAssetsError(msg)
        shutil.rmtree(dest)
    shutil.copytree(staging, dest)


def vendor(dest: Path = ASSETS_DIR) -> None:
    """Re-vendor the assets strawberry's GraphiQL page pins into ``dest``.

    For each package referenced from unpkg, runs ``npm pack <pkg>@<version>``
    in a temporary directory, extracts it, checks every referenced file against
    the page's ``integrity`` attribute and copies it, with the package's
    LICENSE, to ``dest/<pkg>@<version>/``.  Nothing is written unless all
    files verify; ``dest`` is then replaced as a whole (old versions go away).
    """
    npm = shutil.which("npm")
    if npm is None:
        msg = "npm is not on PATH; it is needed to vendor the GraphiQL assets"
        raise GraphiQLAssetsError(msg)
    assets = _pinned_assets(get_graphql_ide_html(graphql_ide="graphiql"))
    if not assets:
        msg = "strawberry's GraphiQL page references no unpkg file; nothing to vendor"
        raise GraphiQLAssetsError(msg)
    unpinned = [asset.url for asset in assets if not asset.integrity]
    if unpinned:
        msg = f"no integrity attribute for {unpinned}; refusing to vendor unverified files"
        raise GraphiQLAssetsError(msg)

    with tempfile.TemporaryDirectory(prefix="graphiql-vendor-") as tmp:
        unpack = _Unpacker(npm, Path(tmp) / "packs")
        staging = Path(tmp) / "assets"
        for asset in assets:
            source = unpack(asset.package) / asset.path
            if not source.is_file():
                msg = f"the npm tarball of {asset.package} has no {asset.path}"
                raise GraphiQLAssetsError(msg)
            data = source.read_bytes()
            if asset.integrity is None or not _sri_matches(data, asset.integrity):
                msg = (
                    f"{asset.local_path} from npm hashes to {_sri(data)}, but "
                    f"strawberry's page pins {asset.integrity}"
                )
                raise GraphiQLAssetsError(msg)
            target = staging / asset.local_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

        for package in dict.fromkeys(asset.package for asset in assets):
            root = unpack(package)
            licenses = _license_files(root)
            for file in licenses:
                shutil.copyfile(file, staging / package / file.name)
            if not licenses:
                text = _fallback_license(package, root, unpack)
                (staging / package / "LICENSE").write_text(text, encoding="utf-8")

        _replace_tree(staging, dest)
    logger.info("vendored %d GraphiQL assets into %s", len(assets), dest)
