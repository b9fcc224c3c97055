"""Where attachment bytes live, behind a small interface so that another store (an object
store, an encrypted volume) can replace the folder without touching the rest.

`LocalStorage` keeps each file under `<data dir>/attachments/<key[:2]>/<key>`, written to a
temporary name first and renamed into place (a reader never sees half a file; a failed
upload leaves nothing behind once `discard` ran).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

CHUNK = 64 * 1024


class Storage(Protocol):
    def put(self, key: str, source: Path) -> None:
        """Move the finished temporary file `source` to `key` (atomic)."""

    def open_chunks(self, key: str) -> Iterator[bytes]:
        """The bytes stored under `key`."""

    def delete(self, key: str) -> None:
        """Forget `key` (no error if absent)."""

    def temporary(self) -> Path:
        """A new empty temporary file on the same volume, for `put` to move."""


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("storage keys are alphanumeric")
        return self.root / key[:2] / key

    def temporary(self) -> Path:
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=incoming, prefix="upload-")
        os.close(fd)
        return Path(name)

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def open_chunks(self, key: str) -> Iterator[bytes]:
        """The file's bytes in chunks, the file opened now: a file deleted meanwhile raises
        FileNotFoundError here, before a response has started, not in the middle of it."""
        fh = self._path(key).open("rb")

        def chunks() -> Iterator[bytes]:
            with fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        return chunks()

    def modified(self, key: str) -> float:
        """When the file was last written (seconds since the epoch)."""
        return self._path(key).stat().st_mtime

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> list[str]:
        """Every stored key (tests check that refused uploads left nothing)."""
        return sorted(
            p.name for p in self.root.glob("*/*") if p.is_file() and p.parent.name != "incoming"
        )

    def leftovers(self) -> list[Path]:
        """Temporary files still there (none once every upload finished)."""
        incoming = self.root / "incoming"
        return sorted(incoming.iterdir()) if incoming.exists() else []
