"""Reads for one GraphQL request, batched: every field that many nodes ask for at once (the spaces of
twenty storeys, the points of a thousand elements) becomes one named query, whatever the depth of
the query or the number of nodes. The request's store counts its round trips to the graph."""

from __future__ import annotations

import asyncio
import base64
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from kgtwin.api.auth import Principal
from kgtwin.errors import ConfigError
from kgtwin.store import GraphStore, Row
from kgtwin.store.base import Transaction

DEFAULT_PAGE = 50
MAX_PAGE = 1000


class CountingStore(GraphStore):
    """The service's store, counting the statements one request sends."""

    def __init__(self, inner: GraphStore) -> None:
        super().__init__(inner.description)
        self.inner = inner
        self.engine = inner.engine
        self.round_trips = 0

    async def run(self, statement: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> list[Row]:
        self.round_trips += 1
        return await self.inner.run(statement, params, write=write)

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        self.round_trips += 1
        return self.inner.transaction()

    async def explain(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        await self.inner.explain(statement, params)

    async def ensure_schema(self, indexes: Sequence[Any]) -> None:
        await self.inner.ensure_schema(indexes)

    async def _close_connection(self) -> None:
        """The service owns the connection; a request closes nothing."""


@dataclass(frozen=True)
class Page:
    total: int
    offset: int
    items: list[dict[str, Any]]  # {"labels", "props", "link"?}


def page_window(first: int | None, after: str | None) -> tuple[int, int]:
    """(skip, limit) from Relay arguments."""
    limit = DEFAULT_PAGE if first is None else first
    if not 0 <= limit <= MAX_PAGE:
        raise ConfigError(f"first must be between 0 and {MAX_PAGE}")
    return (decode_cursor(after) + 1 if after else 0), limit


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "o" or not offset.isdigit():
            raise ValueError
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"cursor {cursor!r} is not one this API gave out") from None


Fetch = Callable[[tuple[Any, ...], list[str]], Awaitable[Mapping[str, Any]]]


def grouped_loader(fetch: Fetch, default: Any) -> DataLoader[tuple[tuple[Any, ...], str], Any]:
    """A DataLoader of (arguments, uid) keys: one fetch per distinct set of arguments, for all uids."""

    async def load(keys: list[tuple[tuple[Any, ...], str]]) -> list[Any]:
        groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
        for args, uid in keys:
            if uid not in groups[args]:
                groups[args].append(uid)
        found = await asyncio.gather(*(fetch(args, uids) for args, uids in groups.items()))
        results = {
            (args, uid): answer.get(uid, default)
            for (args, uids), answer in zip(groups.items(), found, strict=True)
            for uid in uids
        }
        return [results[key] for key in keys]

    # No cache: a subscription keeps its context for hours, and what it reads must be current.
    return DataLoader(load_fn=load, cache=False)


@dataclass(frozen=True)
class Filters:
    """What a list of elements or points can be narrowed by (all optional)."""

    classes: tuple[str, ...] | None = None  # IFC classes
    statuses: tuple[str, ...] | None = None
    brick_classes: tuple[str, ...] | None = None  # already expanded to subclasses
    prop_key: str | None = None
    prop_op: str | None = None
    prop_value: Hashable | None = None

    def params(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes) if self.classes else None,
            "statuses": list(self.statuses) if self.statuses else None,
            "brickClasses": list(self.brick_classes) if self.brick_classes else None,
            "propKey": self.prop_key,
            "propOp": self.prop_op,
            "propValue": self.prop_value,
        }


class GraphReader:
    """The batched reads of one request, within the caller's scope."""

    def __init__(self, store: GraphStore, principal: Principal) -> None:
        self.store = CountingStore(store)
        self.principal = principal
        self._nodes: dict[str, DataLoader[str, dict[str, Any] | None]] = {}
        self._located = grouped_loader(self._fetch_located, Page(0, 0, []))
        self._related = grouped_loader(self._fetch_related, Page(0, 0, []))
        self._hosts = grouped_loader(self._fetch_hosts, [])
        self._series = grouped_loader(self._fetch_series, [])
        self._window = grouped_loader(self._fetch_window, None)
        self._events = grouped_loader(self._fetch_events, [])
        self._anomalies = grouped_loader(self._fetch_anomalies, [])

    @property
    def round_trips(self) -> int:
        return self.store.round_trips

    @property
    def scope(self) -> dict[str, Any]:
        return self.principal.scope_params

    # --- nodes by uid -----------------------------------------------------------------------

    async def node(self, label: str, uid: str) -> dict[str, Any] | None:
        if label not in self._nodes:

            async def load(uids: list[str], label: str = label) -> list[dict[str, Any] | None]:
                rows = await self.store.execute("api/nodes", {"uids": uids, **self.scope}, label=label)
                found = {r["uid"]: {"labels": r["labels"], "props": r["props"]} for r in rows}
                return [found.get(uid) for uid in uids]

            self._nodes[label] = DataLoader(load_fn=load, cache=False)
        return await self._nodes[label].load(uid)

    async def nodes(self, label: str, uids: Sequence[str]) -> list[dict[str, Any] | None]:
        return list(await asyncio.gather(*(self.node(label, uid) for uid in uids)))

    async def any_node(self, uid: str) -> dict[str, Any] | None:
        rows = await self.store.execute("api/node_any", {"uid": uid})
        if not rows:
            return None
        props = rows[0]["props"]
        if not self.principal.sees(props.get("model"), props.get("building"), props.get("uid")):
            return None
        return {"labels": rows[0]["labels"], "props": props}

    # --- pages of located and related nodes -------------------------------------------------

    async def located(
        self, label: str, key: str, uid: str, filters: Filters, first: int | None, after: str | None
    ) -> Page:
        skip, limit = page_window(first, after)
        return await self._located.load(((label, key, filters, skip, limit), uid))

    async def _fetch_located(self, args: tuple[Any, ...], uids: list[str]) -> dict[str, Page]:
        label, key, filters, skip, limit = args
        params = {"uids": uids, "skip": skip, "limit": limit, **filters.params(), **self.scope}
        rows = await self.store.execute("api/located", params, label=label, key=key)
        return {r["uid"]: Page(r["total"], skip, r["items"]) for r in rows}

    async def related(
        self,
        start: str,
        rel_type: str,
        end: str,
        uid: str,
        *,
        incoming: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Page:
        """Nodes linked from `uid` (a `start` node) by `rel_type`, or linking to it (an `end` node) when incoming."""
        skip, limit = page_window(first, after)
        return await self._related.load(((start, rel_type, end, incoming, skip, limit), uid))

    async def _fetch_related(self, args: tuple[Any, ...], uids: list[str]) -> dict[str, Page]:
        start, rel_type, end, incoming, skip, limit = args
        params = {"uids": uids, "skip": skip, "limit": limit, **self.scope}
        name = "api/related_in" if incoming else "api/related"
        rows = await self.store.execute(name, params, start=start, type=rel_type, end=end)
        return {r["uid"]: Page(r["total"], skip, r["items"]) for r in rows}

    # --- points and their data ---------------------------------------------------------------

    async def hosts(self, point_uid: str) -> list[dict[str, Any]]:
        return await self._hosts.load(((), point_uid))

    async def _fetch_hosts(self, _: tuple[Any, ...], uids: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in await self.store.execute("api/point_hosts", {"uids": uids}):
            props = row["props"]
            if self.principal.sees(props.get("model"), props.get("building"), props.get("uid")):
                found[row["uid"]].append(row)
        return found

    async def series(self, point_uid: str, start: int, end: int) -> list[dict[str, Any]]:
        return await self._series.load(((start, end), point_uid))

    async def _fetch_series(self, args: tuple[Any, ...], uids: list[str]) -> dict[str, list[dict[str, Any]]]:
        start, end = args
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in await self.store.execute("api/series", {"uids": uids, "from": start, "to": end}):
            found[row["uid"]].append(row)
        return found

    async def window(self, point_uid: str, start: int, end: int) -> dict[str, Any] | None:
        return await self._window.load(((start, end), point_uid))

    async def _fetch_window(self, args: tuple[Any, ...], uids: list[str]) -> dict[str, dict[str, Any]]:
        start, end = args
        params = {
            "points": uids,
            "model": None,
            "building": None,
            "storey": None,
            "space": None,
            "brickClasses": None,
            "from": start,
            "to": end,
        }
        return {r["point"]: r for r in await self.store.execute("kpis/window", params)}

    # --- history and anomalies ---------------------------------------------------------------

    async def events(self, subject: str, kinds: tuple[str, ...], start: int, end: int, limit: int) -> list[Row]:
        return await self._events.load(((kinds, start, end, limit), subject))

    async def _fetch_events(self, args: tuple[Any, ...], uids: list[str]) -> dict[str, list[Row]]:
        kinds, start, end, limit = args
        params = {"subjects": uids, "kinds": list(kinds), "from": start, "to": end, "limit": limit}
        found: dict[str, list[Row]] = defaultdict(list)
        for row in await self.store.execute("api/events_of", params):
            found[row["subject"]].append(row)
        return found

    async def anomalies_of(self, uid: str, states: tuple[str, ...] | None, limit: int) -> list[Row]:
        """Anomalies raised on a point, or affecting a node, or located in a place (newest first)."""
        return await self._anomalies.load(((states, limit), uid))

    async def _fetch_anomalies(self, args: tuple[Any, ...], uids: list[str]) -> dict[str, list[Row]]:
        states, limit = args
        params = {"uids": uids, "states": list(states) if states else None, "limit": limit, **self.scope}
        return {r["uid"]: r["anomalies"] for r in await self.store.execute("api/anomalies_of", params)}
