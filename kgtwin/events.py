"""Changes in the twin as events: written to the graph as its history, fanned out in-process to live
subscribers, and picked up from the graph when another process wrote them.

An event is about one node (its `subject`) and carries the uids of where that node is (`scope`:
the subject, what it is bound to, its space, storey and building), so a subscriber to a storey
hears about its rooms without a graph lookup per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from kgtwin.model.graph import LOCATION_KEYS
from kgtwin.store import GraphStore

log = logging.getLogger("kgtwin.events")

# What happened. Detectors, the schedule and field updates add their own details.
STATUS_CHANGE = "status_change"  # details: {from, to}
PROPERTY_UPDATE = "property_update"  # details: {property, value, previous, confidence, applied, rule}
ANOMALY_OPENED = "anomaly_opened"  # details: {kind, severity, point, ...}
ANOMALY_UPDATED = "anomaly_updated"  # details: {state, previous, ...} (acknowledged, resolved, escalated)
BINDING_CHANGE = "binding_change"  # details: {point, property, bound: bool}
PROGRESS_UPDATE = "progress_update"  # details: {percentComplete, actualStart, actualFinish}
ALERT = "alert"  # a user-declared condition became true; details: {condition, severity, value}


@dataclass(frozen=True)
class TwinEvent:
    kind: str
    subject: str  # uid of the node the event is about
    subject_label: str  # its keyed label (Element, Space, Point, Anomaly, Activity, ...)
    model: str | None
    source: str  # who or what: 'field:<key name>', 'sensor:<point id>', 'schedule', 'detector:<name>'
    details: Mapping[str, Any] = field(default_factory=dict)
    scope: tuple[str, ...] = ()  # uids the event concerns besides the subject: bound targets, space, storey, building
    time: int = field(default_factory=lambda: int(time.time() * 1000))
    uid: str = field(default_factory=lambda: f"event:{uuid.uuid4().hex}")

    def concerns(self, uid: str) -> bool:
        return uid == self.subject or uid in self.scope

    def as_row(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "kind": self.kind,
            "subject": self.subject,
            "model": self.model,
            "time": self.time,
            "source": self.source,
            "details": orjson.dumps(dict(self.details)).decode(),
            "scope": list(self.scope),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TwinEvent:
        return cls(
            kind=row["kind"],
            subject=row["subject"],
            subject_label=row.get("label") or "",
            model=row.get("model"),
            source=row.get("source") or "",
            details=orjson.loads(row["details"]) if row.get("details") else {},
            scope=tuple(row.get("scope") or ()),
            time=int(row["time"]),
            uid=row["uid"],
        )


def scope_of(props: Mapping[str, Any], *also: str | None) -> tuple[str, ...]:
    """Where a node is, from its location keys, plus any other uids the event concerns."""
    uids = [u for u in also if u] + [props[k] for k in LOCATION_KEYS if props.get(k)]
    return tuple(dict.fromkeys(uids))


class EventBus:
    """In-process fan-out of events to live subscribers, each with a bounded queue of its own.

    A subscriber that falls behind loses its oldest events rather than slowing the writers; it
    is told how many it missed. Events are de-duplicated by uid, so the same event published by
    its writer and found again by the graph tail reaches each subscriber once.
    """

    def __init__(self, remember: int = 10_000) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._observers: dict[str, set[_Subscriber]] = defaultdict(set)

    def publish(self, events: Iterable[TwinEvent]) -> None:
        for event in events:
            if event.uid in self._seen:
                continue
            self._seen[event.uid] = None
            if len(self._seen) > self._remember:
                self._seen.popitem(last=False)
            for subscriber in list(self._subscribers):
                if subscriber.accept(event):
                    subscriber.put(event)

    def seen(self, uid: str) -> bool:
        return uid in self._seen

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers) + len({id(s) for group in self._observers.values() for s in group})

    @contextlib.asynccontextmanager
    async def subscribe(
        self, accept: Callable[[TwinEvent], bool] | None = None, queue_size: int = 1000
    ) -> AsyncIterator[_Subscriber]:
        subscriber = _Subscriber(accept or (lambda _: True), queue_size)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    # Live observations are too many to become events; they are fanned out by point uid.

    def publish_observations(self, point_uid: str, items: Sequence[Any]) -> None:
        for subscriber in list(self._observers.get(point_uid, ())):
            for item in items:
                subscriber.put(item)

    @property
    def watched_points(self) -> set[str]:
        return {uid for uid, subscribers in self._observers.items() if subscribers}

    @contextlib.asynccontextmanager
    async def watch_points(self, point_uids: Iterable[str], queue_size: int = 10_000) -> AsyncIterator[_Subscriber]:
        subscriber = _Subscriber(lambda _: True, queue_size)
        uids = list(point_uids)
        for uid in uids:
            self._observers[uid].add(subscriber)
        try:
            yield subscriber
        finally:
            for uid in uids:
                self._observers[uid].discard(subscriber)
                if not self._observers[uid]:
                    del self._observers[uid]


class _Subscriber:
    def __init__(self, accept: Callable[[TwinEvent], bool], queue_size: int) -> None:
        self.accept = accept
        self._queue: asyncio.Queue[Any] = asyncio.Queue(queue_size)
        self.missed = 0

    def put(self, item: Any) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.missed += 1
        self._queue.put_nowait(item)

    async def get(self) -> Any:
        return await self._queue.get()

    def __aiter__(self) -> _Subscriber:
        return self

    async def __anext__(self) -> Any:
        return await self._queue.get()


class EventLog:
    """Writes events into the graph (the twin's history) and publishes them on the bus, if any."""

    def __init__(self, store: GraphStore, bus: EventBus | None = None) -> None:
        self.store = store
        self.bus = bus

    async def record(self, events: Sequence[TwinEvent]) -> None:
        if not events:
            return
        by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            by_label[event.subject_label or "Event"].append(event.as_row())
        for label, rows in by_label.items():
            await self.store.execute("events/record", {"rows": rows}, label=label)
        if self.bus is not None:
            self.bus.publish(events)


async def tail(store: GraphStore, bus: EventBus, stop: asyncio.Event, every_s: float = 0.25) -> None:
    """Publish events other processes wrote (a CLI update, a separate ingest worker) as they appear.

    Reads a little behind the newest time seen, since writers' clocks and commits interleave;
    the bus drops what it has already published.
    """
    newest = int(time.time() * 1000)
    overlap, limit = 5_000, 2_000
    lower = newest
    while not stop.is_set():
        try:
            rows = await store.execute("events/since", {"since": lower, "limit": limit})
            fresh = [TwinEvent.from_row(r) for r in rows if not bus.seen(r["uid"])]
            if fresh:
                bus.publish(fresh)
            if rows:
                newest = max(newest, int(rows[-1]["time"]))
            if len(rows) == limit:  # a burst: page on without the overlap (and past a full millisecond)
                lower = newest + (1 if int(rows[0]["time"]) == newest else 0)
                continue
            lower = newest - overlap
        except Exception as exc:  # the engine restarting: keep tailing once it is back
            log.warning("event tail paused: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
