"""Relay plumbing: the `Node` interface, global ids and connections."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from resolvers.loaders import Later
from resolvers.node import NODE_TYPES, decode_id, decode_uuid
from resolvers.pagination import ResolvedPage

T = TypeVar("T")


def encode_id(type_name: str, raw: uuid.UUID | str) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{raw}".encode()).decode())


# The arguments of every connection.
First = Annotated[
    int | None,
    strawberry.argument(description="Page size (at most 100); null or absent: 20."),
]
After = Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")]


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id, stable over time; pass it to `node(id:)`."
    )


@strawberry.type(description="Where a page stands in its list (Relay cursor pagination).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(
        description="Items precede `startCursor` (always false: pages go forward only)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as `after` for the next page."
    )


@strawberry.type(description="An item of a list, with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass it as `after` to start after this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list that can grow, with its total size.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    _count: strawberry.Private[Callable[[], Later[int]]]

    @strawberry.field(description="Number of items in the whole list (not only this page).")
    def total_count(self) -> Later[int]:
        return self._count()


def connection_of(page: ResolvedPage, convert: Callable[[Any], Any]) -> Connection[Any]:
    cursors = page.cursors
    has_next = page.has_next
    edges = [Edge(cursor=c, node=convert(r)) for c, r in zip(cursors, page.rows, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=False,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        _count=page.count,
    )


__all__ = ["NODE_TYPES", "Node", "decode_id", "decode_uuid", "encode_id"]
