"""What every answer must be (`problems`, the oracle of every fuzz run), and the request
it answers (`Case`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

ENDPOINT = "/graphql"
ANONYMOUS = "anonymous"
HEADER_VALUE = re.compile(rb"([\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?")

JSON_TYPES = ("application/json", "application/graphql-response+json")
# Text that only Python (or a driver) writes: a client must never read it.
LEAKS = (
    "Traceback",
    'File "',
    "object has no attribute",
    "arg is an empty sequence",
    "NoneType",
    "is not subscriptable",
    "unexpected keyword argument",
    "positional argument",
    "object at 0x",
    "<class '",
    "codec can't",
    "invalid literal for int()",
    "asyncpg",
    "sqlalchemy",
    "(Background on this error",
    "Internal Server Error",
)


@dataclass(frozen=True, slots=True)
class Case:
    """One HTTP request. `role` names the viewer whose bearer token is added, unless
    `headers` carry their own Authorization."""

    kind: str
    role: str = ANONYMOUS
    method: str = "POST"
    body: bytes = b""
    headers: tuple[tuple[str, str | bytes], ...] = (("content-type", "application/json"),)
    params: tuple[tuple[str, str], ...] = ()

    def sendable(self) -> bool:
        """Whether a real HTTP client sends it (h11's rules): no header value with control
        characters or surrounding spaces, no Content-Length its body belies. The others
        are sent to an app in this process only (over TCP the HTTP server, not the app,
        would answer them)."""
        return "content-length" not in dict(self.headers) and all(
            HEADER_VALUE.fullmatch(octets(value)) for _, value in self.headers
        )

    def query_string(self) -> str:
        """`?k=v&...`, percent-encoded from UTF-8 (a lone surrogate as the bytes Python's
        "surrogatepass" gives: not UTF-8, as a hostile client may send)."""
        if not self.params:
            return ""
        return "?" + "&".join(
            f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in self.params
        )

    def describe(self, limit: int = 1500) -> str:
        lines = [f"{self.method} {ENDPOINT}{self.query_string()[:limit]}  (as {self.role})"]
        lines += [f"{name}: {value!r}"[:300] for name, value in self.headers]
        if self.body:
            text = self.body[:limit].decode("utf-8", errors="backslashreplace")
            more = f" … ({len(self.body):,} bytes)" if len(self.body) > limit else ""
            lines.append(f"body: {text}{more}")
        return "\n".join(lines)


def problems(case: Case, status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
    """What is wrong with this answer (empty: nothing). The oracle of every fuzz run."""
    found: list[str] = []
    if status >= 500:
        found.append(f"HTTP {status}")
    if "x-request-id" not in headers:
        found.append("no X-Request-Id")
    if case.method == "HEAD":
        return found
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    accept = dict(case.headers).get("accept", "*/*")  # httpx's default, and browsers'
    ide = case.method == "GET" and not any(k == "query" for k, _ in case.params)
    browser = isinstance(accept, str) and ("text/html" in accept or "*/*" in accept)
    if ide and browser and status == 200 and content_type == "text/html":
        return found  # GraphiQL, asked for by a browser
    text = body.decode("utf-8", errors="replace")
    found += [f"leaks {leak!r}" for leak in LEAKS if leak in text]
    if content_type not in JSON_TYPES:
        found.append(f"not JSON ({content_type or 'no content-type'})")
        return found
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError:
        found.append("body is not JSON")
        return found
    if not isinstance(payload, dict) or not ({"data", "errors"} & payload.keys()):
        found.append("not a GraphQL response (no data, no errors)")
        return found
    errors = payload.get("errors")
    if errors is None:
        if status >= 400:
            found.append(f"HTTP {status} without errors")
        return found
    if not isinstance(errors, list) or not errors:
        found.append("errors is not a non-empty list")
        return found
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if not isinstance(code, str) or not code:
            found.append("an error without extensions.code")
        elif code == "INTERNAL_SERVER_ERROR":
            found.append("INTERNAL_SERVER_ERROR")
    return sorted(set(found), key=found.index)


def octets(value: str | bytes) -> bytes:
    """A header value as sent: latin-1 when it can be, else UTF-8 (lone surrogates too)."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
