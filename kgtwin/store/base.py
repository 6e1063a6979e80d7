"""The one interface every graph engine implements: run Cypher, explain it, set up the schema."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from kgtwin.store.queries import named

Row = dict[str, Any]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class IndexSpec:
    """An index on one property of one label; `unique` makes it a uniqueness constraint."""

    label: str
    prop: str
    unique: bool = False

    def __post_init__(self) -> None:
        # DDL cannot take parameters, so the names are checked before they go into a statement.
        for part in (self.label, self.prop):
            if not _IDENTIFIER.match(part):
                raise ValueError(f"index spec {part!r} is not a plain identifier")


class Transaction(ABC):
    """Statements that take effect together or not at all."""

    @abstractmethod
    async def run(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        """Queue or run a write that returns nothing (FalkorDB runs them all at commit, as one query)."""


class GraphStore(ABC):
    """An open connection to one graph: both engines answer the same Cypher with plain rows."""

    engine: str = ""

    def __init__(self, description: str) -> None:
        self.description = description  # where it is, never with a password
        self._on_close: list[Callable[[], None]] = []

    @abstractmethod
    async def run(self, statement: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> list[Row]:
        """Run one statement; a read (write=False) is refused by the engine if it tries to write."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """`async with store.transaction() as tx:` commits on exit, rolls back on an exception.

        kgtwin's transactional writes are idempotent (MERGE on ids), so a commit that is retried
        after a lost connection cannot apply twice.
        """

    @abstractmethod
    async def explain(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        """Compile a statement without running it; raise QueryError if the engine rejects it."""

    @abstractmethod
    async def ensure_schema(self, indexes: Sequence[IndexSpec]) -> None:
        """Create the indexes and uniqueness constraints that are missing; safe to repeat."""

    @abstractmethod
    async def _close_connection(self) -> None: ...

    async def execute(
        self, name: str, params: Mapping[str, Any] | None = None, **slots: str | int | list[str] | tuple[str, ...]
    ) -> list[Row]:
        """Run a named query from queries/, in the mode its header declares (template slots filled)."""
        query = named(name)
        return await self.run(query.render(**slots), params or {}, write=query.writes)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    async def close(self) -> None:
        try:
            await self._close_connection()
        finally:
            while self._on_close:
                self._on_close.pop()()

    async def __aenter__(self) -> GraphStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def split_removals(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of {uid, props} as (rows setting the non-null values, rows removing one key each).

    Removals go through `graph/remove_keys`, one key per row: see that query for why.
    """
    setting, removing = [], []
    for row in rows:
        props = row["props"]
        setting.append({**row, "props": {k: v for k, v in props.items() if v is not None}})
        removing += [{"uid": row["uid"], "props": {k: None}} for k, v in props.items() if v is None]
    return setting, removing


def plain_node(labels: Sequence[str], properties: Mapping[str, Any]) -> Row:
    """Nodes come back as maps on both engines, labels under `_labels`."""
    return {"_labels": sorted(labels), **properties}


def plain_relationship(rel_type: str, properties: Mapping[str, Any]) -> Row:
    return {"_type": rel_type, **properties}


READ_ONLY_REFUSAL = (
    "this session is read-only: the statement writes to the graph (use --write, or the admin role, to change the graph)"
)


def first_line(exc: BaseException) -> str:
    """An engine's or driver's error as one line for the user."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
