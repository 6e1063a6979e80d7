"""Neo4j 5 through the official async driver: a local server kgtwin runs, or any cluster or Aura."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import neo4j
import neo4j.exceptions as neo4j_errors
from neo4j import AsyncGraphDatabase
from neo4j.graph import Node, Path, Relationship

from kgtwin.errors import AuthenticationFailed, EngineUnavailable, QueryError, ReadOnlyViolation
from kgtwin.store.base import (
    READ_ONLY_REFUSAL,
    GraphStore,
    IndexSpec,
    Row,
    Transaction,
    first_line,
    plain_node,
    plain_relationship,
)


class Neo4jStore(GraphStore):
    engine = "neo4j"

    def __init__(self, driver: neo4j.AsyncDriver, uri: str, database: str | None, timeout_ms: int) -> None:
        super().__init__(uri)
        self._driver = driver
        self._database = database
        self._timeout = timeout_ms / 1000

    @classmethod
    async def connect(
        cls, uri: str, user: str, password: str | None, database: str | None = None, timeout_ms: int = 60_000
    ) -> Neo4jStore:
        driver = AsyncGraphDatabase.driver(
            uri,
            auth=None if password is None else (user, password),
            connection_timeout=5,
            max_transaction_retry_time=60,  # long enough for a killed local server to come back
            # The analysts' queries often name labels a graph does not hold yet; the server's
            # notifications about that are noise in kgtwin's logs.
            notifications_min_severity="OFF",
        )
        try:
            await driver.verify_connectivity()
        except neo4j_errors.AuthError as exc:
            await driver.close()
            if password is None:
                raise AuthenticationFailed(f"Neo4j at {uri} needs a password: set KGTWIN_NEO4J_PASSWORD") from exc
            raise AuthenticationFailed(
                f"Neo4j at {uri} refused user {user!r} with that password; check KGTWIN_NEO4J_PASSWORD"
            ) from exc
        except (neo4j_errors.ServiceUnavailable, neo4j_errors.DriverError, OSError) as exc:
            await driver.close()
            raise EngineUnavailable(f"cannot reach Neo4j at {uri}: {first_line(exc)}") from exc
        except ValueError as exc:
            await driver.close()
            raise EngineUnavailable(f"cannot use Neo4j at {uri}: {exc}") from exc
        return cls(driver, uri, database, timeout_ms)

    async def run(self, statement: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> list[Row]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[Row]:
            result = await tx.run(statement, dict(params or {}))
            return [{k: _plain(v) for k, v in record.items()} async for record in result]

        work = neo4j.unit_of_work(timeout=self._timeout)(work)
        mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
        try:
            async with self._driver.session(database=self._database, default_access_mode=mode) as session:
                if write:
                    return await session.execute_write(work)
                return await session.execute_read(work)
        except neo4j_errors.Neo4jError as exc:
            raise self._user_error(exc) from exc
        except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired) as exc:
            raise EngineUnavailable(f"lost Neo4j at {self.description}: {first_line(exc)}") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        try:
            async with self._driver.session(database=self._database, default_access_mode=neo4j.WRITE_ACCESS) as session:
                tx = await session.begin_transaction(timeout=self._timeout * 10)
                try:
                    yield _ExplicitTransaction(tx)
                    await tx.commit()
                finally:
                    if not tx.closed():
                        await tx.rollback()
        except neo4j_errors.Neo4jError as exc:
            raise self._user_error(exc) from exc
        except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired) as exc:
            raise EngineUnavailable(f"lost Neo4j at {self.description}: {first_line(exc)}") from exc

    @staticmethod
    def _user_error(exc: neo4j_errors.Neo4jError) -> QueryError:
        if exc.code == "Neo.ClientError.Statement.AccessMode":
            return ReadOnlyViolation(READ_ONLY_REFUSAL)
        return QueryError(f"Neo4j rejected the statement: {exc.message}")

    async def explain(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        # EXPLAIN plans without executing, so it is safe in a write session (which a write
        # statement needs even to be planned).
        await self.run(f"EXPLAIN {statement}", params, write=True)

    async def ensure_schema(self, indexes: Sequence[IndexSpec]) -> None:
        for spec in indexes:
            name = f"kgtwin_{spec.label}_{spec.prop}".lower()
            if spec.unique:
                ddl = (
                    f"CREATE CONSTRAINT {name}_unique IF NOT EXISTS "
                    f"FOR (n:{spec.label}) REQUIRE n.{spec.prop} IS UNIQUE"
                )
            else:
                ddl = f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{spec.label}) ON (n.{spec.prop})"
            await self.run(ddl, write=True)
        await self.run("CALL db.awaitIndexes(300)")

    async def _close_connection(self) -> None:
        await self._driver.close()


class _ExplicitTransaction(Transaction):
    def __init__(self, tx: neo4j.AsyncTransaction) -> None:
        self._tx = tx

    async def run(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        result = await self._tx.run(statement, dict(params or {}))
        await result.consume()


def _plain(value: Any) -> Any:
    if isinstance(value, Node):
        return plain_node(value.labels, dict(value))
    if isinstance(value, Relationship):
        return plain_relationship(value.type, dict(value))
    if isinstance(value, Path):
        return {
            "nodes": [_plain(n) for n in value.nodes],
            "relationships": [_plain(r) for r in value.relationships],
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):  # neo4j.time types; kgtwin itself stores epoch milliseconds
        return value.iso_format()
    return value
