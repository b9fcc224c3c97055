"""What came back (`Outcome`) and the run's report: answers counted, failures grouped by
cause with the smallest request of each."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.fuzz.oracle import Case


@dataclass
class Outcome:
    case: Case
    status: int
    content_type: str
    body: bytes
    problems: list[str]
    logs: list[str]
    seconds: float = 0.0

    @property
    def codes(self) -> list[str]:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            errors = json.loads(self.body).get("errors") or []
            return sorted({str((e.get("extensions") or {}).get("code")) for e in errors})
        return []

    def exception(self) -> str:
        """The server's exception, as `Type: message` and its innermost frame of this
        repository (the cause a failure class is grouped by)."""
        for text in reversed(self.logs):
            lines = text.splitlines()
            raised = [line for line in lines if EXCEPTION_LINE.match(line)]
            frames = [
                line.strip()
                for line in lines
                if line.strip().startswith('File "') and "site-packages" not in line
            ]
            if raised and frames:
                where = re.sub(r'File ".*?([^/]+/[^/]+)", line \d+, in', r"\1:", frames[-1])
                return f"{_normal(raised[-1])[:120]} at {where}"
        return ""

    def signature(self) -> str:
        message = ""
        with contextlib.suppress(ValueError, AttributeError, TypeError, IndexError, KeyError):
            message = str(json.loads(self.body)["errors"][0]["message"])
        if not self.body.lstrip().startswith(b"{"):
            message = self.body[:80].decode("utf-8", "replace")
        cause = self.exception() or _normal(message)[:90]
        return f"{'; '.join(self.problems)} | HTTP {self.status} {','.join(self.codes)} | {cause}"


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")


def _normal(text: str) -> str:
    """A message without what varies between requests (quoted values, numbers, ids)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", text)
    return re.sub(r"[0-9a-f]{32}|\d+", "N", text)


@dataclass
class Report:
    """Every answer counted; failures grouped by cause, each with its smallest request."""

    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[Outcome]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # The slowest answers (seconds, kind, role): not a failure, but where to look first.
    slowest: list[tuple[float, str, str]] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.sent[outcome.case.kind.split(":")[0]] += 1
        self.slowest.append((outcome.seconds, outcome.case.kind, outcome.case.role))
        self.slowest = sorted(self.slowest, reverse=True)[:5]
        self.statuses[outcome.status] += 1
        self.codes.update(outcome.codes)
        if not outcome.problems:
            return
        key = outcome.signature()
        self.counts[key] += 1
        kept = self.failures.setdefault(key, [])
        kept.append(outcome)
        kept.sort(key=lambda o: len(o.case.body) + sum(len(v) for _, v in o.case.params))
        del kept[3:]

    @property
    def failed(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        sent = ", ".join(f"{n:,} {k}" for k, n in sorted(self.sent.items()))
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(self.statuses.items()))
        codes = ", ".join(f"{c}: {n:,}" for c, n in self.codes.most_common())
        return (
            f"{sum(self.sent.values()):,} requests ({sent}) in {self.seconds:.0f}s; "
            f"HTTP {statuses}; codes {codes or 'none'}; "
            f"{self.failed:,} failed in {len(self.failures)} class(es); slowest: "
            + ", ".join(f"{t:.1f}s {kind} ({role})" for t, kind, role in self.slowest[:3])
        )

    def describe(self, limit: int = 30) -> str:
        """The failure classes, most frequent first, with a reproducer each."""
        out = [self.summary()]
        for key, count in self.counts.most_common(limit):
            example = self.failures[key][0]
            out.append(f"\n=== {count:,} × {key}")
            out.append(example.case.describe())
            body = example.body[:600].decode("utf-8", "backslashreplace")
            out.append(f"--> HTTP {example.status} {example.content_type}: {body}")
            for text in example.logs[-2:]:
                out.append("server log: " + "\n".join(text.splitlines()[-8:]))
        # printable whatever the server echoed (a lone surrogate cannot be written out)
        return "\n".join(out).encode("utf-8", "backslashreplace").decode()

    def as_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "codes": dict(self.codes),
            "failures": [
                {
                    "class": key,
                    "count": count,
                    "request": self.failures[key][0].case.describe(),
                    "status": self.failures[key][0].status,
                    "body": self.failures[key][0].body[:2000].decode("utf-8", "replace"),
                    "logs": self.failures[key][0].logs[-2:],
                }
                for key, count in self.counts.most_common()
            ],
        }
