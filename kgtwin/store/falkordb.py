"""FalkorDB through its official async client, embedded (kgtwin's own server) or external."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis.exceptions as redis_errors
from falkordb.asyncio import FalkorDB

from kgtwin.errors import AuthenticationFailed, EngineUnavailable, QueryError, ReadOnlyViolation
from kgtwin.store import falkordb_params
from kgtwin.store import falkordb_replies as replies
from kgtwin.store.base import (
    READ_ONLY_REFUSAL,
    GraphStore,
    IndexSpec,
    Row,
    Transaction,
    first_line,
)

# A restarted server (the supervisor restarts a killed one) takes a moment to load its
# append-only file; statements are retried across that gap. kgtwin's writes are idempotent
# (MERGE on ids, de-duplicated observations), so a retried write cannot double-apply.
RECONNECT_SECONDS = 30.0
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class FalkorStore(GraphStore):
    engine = "falkordb"

    def __init__(self, host: str, port: int, password: str | None, graph: str, timeout_ms: int) -> None:
        super().__init__(f"falkordb://{host}:{port}/{graph}")
        self._db = FalkorDB(host=host, port=port, password=password, socket_connect_timeout=5)
        self._graph_name = graph
        self._graph = self._db.select_graph(graph)
        self._timeout_ms = timeout_ms
        self._names = replies.Names()

    @classmethod
    async def connect(
        cls, host: str, port: int, password: str | None, graph: str, timeout_ms: int = 60_000
    ) -> FalkorStore:
        try:
            # The client's constructor already talks to the server (it asks whether it is a cluster).
            store = cls(host, port, password, graph, timeout_ms)
        except redis_errors.AuthenticationError as exc:
            raise AuthenticationFailed(
                f"FalkorDB at {host}:{port} refused the password; check KGTWIN_GRAPH or KGTWIN_FALKORDB_PASSWORD"
            ) from exc
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise EngineUnavailable(f"cannot reach FalkorDB at {host}:{port}: {first_line(exc)}") from exc
        except redis_errors.ResponseError as exc:
            raise _refused(host, port, exc) from exc
        try:
            await store._db.connection.ping()
            # A read on a graph that does not exist yet fails ("empty key"); a first
            # statement in write mode creates it, so reads on a new graph just find nothing.
            await store._graph.query("RETURN 1")
        except redis_errors.AuthenticationError as exc:
            await store._close_connection()
            raise AuthenticationFailed(
                f"FalkorDB at {host}:{port} refused the password; check KGTWIN_GRAPH or KGTWIN_FALKORDB_PASSWORD"
            ) from exc
        except redis_errors.ResponseError as exc:
            await store._close_connection()
            raise _refused(host, port, exc) from exc
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            await store._close_connection()
            raise EngineUnavailable(f"cannot reach FalkorDB at {host}:{port}: {first_line(exc)}") from exc
        return store

    async def run(self, statement: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> list[Row]:
        command = (
            "GRAPH.QUERY" if write else "GRAPH.RO_QUERY",
            self._graph_name,
            falkordb_params.header(params or {}) + statement,
            "--compact",
            "timeout",
            self._timeout_ms,
        )

        async def call() -> list[Any]:
            reply = await self._db.connection.execute_command(*command)
            if reply and isinstance(reply[-1], redis_errors.ResponseError):  # a run-time error
                raise reply[-1]
            return reply  # type: ignore[no-any-return]

        reply = await self._retrying(call)
        try:
            return replies.rows(reply, self._names)
        except replies.UnknownId:
            await self._refresh_names()
            return replies.rows(reply, self._names)

    async def _refresh_names(self) -> None:
        names = replies.Names()
        for attribute, procedure, column in (
            ("labels", "db.labels()", "label"),
            ("types", "db.relationshipTypes()", "relationshipType"),
            ("keys", "db.propertyKeys()", "propertyKey"),
        ):
            found = await self.run(f"CALL {procedure} YIELD {column} RETURN {column}")
            setattr(names, attribute, [row[column] for row in found])
        self._names = names

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        tx = _QueuedTransaction()
        yield tx
        if not tx.commands:
            return
        # FalkorDB runs each query atomically (a failure undoes all of it), so the transaction
        # is one query: every statement becomes a CALL { } block with its parameters renamed.
        # (MULTI/EXEC is not used: FalkorDB 4.16 asserts '!server.in_exec' when it replays a
        # large MULTI block from its append-only file, which would lose the data on restart.)
        blocks, params = [], {}
        for index, (statement, statement_params) in enumerate(tx.commands):
            prefix = f"t{index}_"
            blocks.append("CALL {\n" + _PARAMETER.sub(lambda m, p=prefix: f"${p}{m.group(1)}", statement) + "\n}")
            params.update({prefix + name: value for name, value in statement_params.items()})
        composed = "\n".join(blocks) + "\nRETURN 1 AS committed"
        await self.run(composed, params, write=True)
        await self.compact_log()

    async def compact_log(self) -> None:
        """Fold the append-only log into a snapshot after a large write.

        Replaying a logged query after a crash runs it again, and while the append-only file
        loads FalkorDB cannot use its indexes, so a logged model load would replay in minutes.
        A snapshot loads in seconds. A rewrite already running, or a server that does not
        allow the command (an external one), is fine: the log stays correct, only slower.
        """
        connection = self._db.connection
        try:
            await connection.execute_command("BGREWRITEAOF")
        except redis_errors.ResponseError:
            return
        for _ in range(1200):  # a load returns once its data is in the snapshot
            info = await connection.info("persistence")
            if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
                return
            await asyncio.sleep(0.1)

    async def explain(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        await self._retrying(lambda: self._graph.explain(statement, dict(params or {})))

    async def ensure_schema(self, indexes: Sequence[IndexSpec]) -> None:
        existing = {(r["label"], p) for r in await self._indexes() for p in r["properties"]}
        for spec in indexes:
            if (spec.label, spec.prop) not in existing:
                await self.run(f"CREATE INDEX FOR (n:{spec.label}) ON (n.{spec.prop})", write=True)
        constraints = {(r["label"], tuple(r["properties"])) for r in await self._constraints()}
        pending = []
        for spec in indexes:
            if spec.unique and (spec.label, (spec.prop,)) not in constraints:
                await self._retrying(
                    lambda s=spec: self._db.connection.execute_command(
                        "GRAPH.CONSTRAINT",
                        "CREATE",
                        self._graph_name,
                        "UNIQUE",
                        "NODE",
                        s.label,
                        "PROPERTIES",
                        1,
                        s.prop,
                    )
                )
                pending.append(spec)
        # FalkorDB builds constraints in the background; callers expect them to hold on return.
        for _ in range(600):
            states = {(r["label"], tuple(r["properties"])): r["status"] for r in await self._constraints()}
            failed = [s for s in pending if states.get((s.label, (s.prop,))) == "FAILED"]
            if failed:
                s = failed[0]
                raise QueryError(f"uniqueness on :{s.label}({s.prop}) cannot hold: the graph has duplicates")
            if all(states.get((s.label, (s.prop,))) == "OPERATIONAL" for s in pending):
                return
            await asyncio.sleep(0.05)
        raise QueryError("FalkorDB did not finish building its uniqueness constraints within 30 s")

    async def _indexes(self) -> list[Row]:
        return await self.run("CALL db.indexes() YIELD label, properties RETURN label, properties")

    async def _constraints(self) -> list[Row]:
        return await self.run(
            "CALL db.constraints() YIELD type, label, properties, status "
            "WHERE type = 'UNIQUE' RETURN label, properties, status"
        )

    async def _retrying(self, call):  # type: ignore[no-untyped-def]
        deadline = asyncio.get_running_loop().time() + RECONNECT_SECONDS
        delay = 0.05
        while True:
            try:
                return await call()
            except redis_errors.ResponseError as exc:
                message = str(exc)
                if "read-only queries" in message:
                    raise ReadOnlyViolation(READ_ONLY_REFUSAL) from exc
                if "LOADING" not in message:
                    raise QueryError(f"FalkorDB rejected the statement: {message}") from exc
            except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise EngineUnavailable(f"lost FalkorDB at {self.description}: {first_line(exc)}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _close_connection(self) -> None:
        await self._db.connection.aclose()


class _QueuedTransaction(Transaction):
    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    async def run(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        self.commands.append((statement, dict(params or {})))


def _refused(host: str, port: int, exc: redis_errors.ResponseError) -> Exception:
    if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) or "invalid password" in str(exc):
        return AuthenticationFailed(
            f"FalkorDB at {host}:{port} refused the connection without the right password; set it in "
            "KGTWIN_GRAPH (falkordb://:PASSWORD@host:port/graph) or KGTWIN_FALKORDB_PASSWORD"
        )
    return EngineUnavailable(f"FalkorDB at {host}:{port} answered: {exc}")
