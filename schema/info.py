"""The `info` argument of every field resolver, typed with this project's context.

`info.context` is then a `resolvers.context.Context` for the type checker too (strawberry's
bare `Info` types it `Any`). The root value is unused: None.
"""

from __future__ import annotations

from typing import TypeAlias

import strawberry

from resolvers.context import Context

Info: TypeAlias = strawberry.Info[Context, None]

__all__ = ["Info"]
