"""The graph store: one Cypher interface over Neo4j 5 and FalkorDB, local or remote."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kgtwin.config import Settings
from kgtwin.store import local
from kgtwin.store.base import GraphStore, IndexSpec, Row

__all__ = ["GraphStore", "IndexSpec", "Row", "open_store"]


async def open_store(settings: Settings | None = None, report: Callable[[str], None] = lambda _: None) -> GraphStore:
    """Connect to the graph KGTWIN_GRAPH names, starting the local engine when it is one."""
    # An engine's driver is imported when it is used: each takes a fifth of a second to load,
    # which every `kgtwin` command would otherwise pay for both.
    settings = settings or Settings.from_env()
    target = settings.target()
    timeout = settings.query_timeout_ms
    if not target.local:
        if target.engine == "falkordb":
            from kgtwin.store.falkordb import FalkorStore

            return await FalkorStore.connect(target.host, target.port, target.password, target.graph, timeout)
        from kgtwin.store.neo4j import Neo4jStore

        return await Neo4jStore.connect(
            target.uri, settings.neo4j_user, settings.neo4j_password, settings.neo4j_database, timeout
        )
    info, lease = await asyncio.to_thread(local.start, settings, target.engine, persistent=False, report=report)
    try:
        store: GraphStore
        if target.engine == "falkordb":
            from kgtwin.store.falkordb import FalkorStore

            store = await FalkorStore.connect(info.host, info.port, info.password, target.graph, timeout)
        else:
            from kgtwin.store.neo4j import Neo4jStore

            store = await Neo4jStore.connect(f"bolt://{info.host}:{info.port}", "neo4j", info.password, None, timeout)
    except BaseException:
        if lease:
            lease.release()
        raise
    if lease:
        store.on_close(lease.release)
    return store
