"""Refresh the GraphiQL assets that the service serves offline (schema/graphiql_assets/).

Run it from the project's folder, after upgrading strawberry (it needs ``npm`` and the
npm registry)::

    python tools/vendor_graphiql.py

then review and commit ``schema/graphiql_assets/``.  For each package strawberry's
GraphiQL page loads from unpkg, it runs ``npm pack <pkg>@<version>`` in a temporary
directory, checks every referenced file against the page's ``integrity`` attribute and
copies it, with the package's LICENSE, to ``schema/graphiql_assets/<pkg>@<version>/``.
Nothing is written unless every file verifies.  The service itself only serves these
files and checks them at each page (``schema.graphiql.graphiql_html``): this tool is not
part of the runtime packages.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # `python tools/vendor_graphiql.py` from a clone
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strawberry.http.ides import get_graphql_ide_html

from schema.graphiql import (
    ASSETS_DIR,
    GraphiQLAssetsError,
    pinned_assets,
    sri,
    sri_matches,
)

__all__ = ["main", "vendor"]

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

logger = logging.getLogger("vendor_graphiql")


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
            "licence applies and add it to _LICENSE_FALLBACKS in tools/vendor_graphiql.py"
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
    assets = pinned_assets(get_graphql_ide_html(graphql_ide="graphiql"))
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
            if asset.integrity is None or not sri_matches(data, asset.integrity):
                msg = (
                    f"{asset.local_path} from npm hashes to {sri(data)}, but "
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--dest", type=Path, default=ASSETS_DIR, help=f"where to vendor (default: {ASSETS_DIR})"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        vendor(args.dest)
    except GraphiQLAssetsError as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
