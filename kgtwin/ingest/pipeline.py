"""The ingestion pipeline: checked readings → a bounded queue (back-pressure) → micro-batches grouped by
point and time bucket → the graph. A message's future resolves only once its observations are durable,
so connectors acknowledge to the field (MQTT PUBACK, HTTP 200) only then."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from kgtwin.errors import EngineUnavailable, QueryError
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Observation, Reading, Registry, Rejection, now_ms
from kgtwin.ingest.payloads import PayloadError
from kgtwin.store import GraphStore

log = logging.getLogger("kgtwin.ingest")
Parser = Callable[[bytes], list[Reading | str]]


@dataclass(frozen=True)
class IngestSettings:
    bucket_ms: int = 15 * 60 * 1000  # bounded buckets: appends stay cheap, KPIs read whole buckets
    # Under load the queue holds many readings per point; large batches group them into few rows.
    batch_observations: int = 200_000
    max_delay_s: float = 0.05
    queue_observations: int = 400_000
    max_payload_bytes: int = 1_000_000
    raw_retention_ms: int | None = None  # None keeps raw observations for ever


@dataclass
class Outcome:
    accepted: int = 0
    rejected: list[str] = field(default_factory=list)
    durable: asyncio.Future[None] | None = None


class Pipeline:
    def __init__(
        self,
        store: GraphStore,
        registry: Registry,
        deadletters: DeadLetterStore,
        settings: IngestSettings | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.deadletters = deadletters
        self.settings = settings or IngestSettings()
        self._queue: asyncio.Queue[tuple[list[Observation], asyncio.Future[None]]] = asyncio.Queue()
        self._queued = 0  # observations queued or being written
        self._space = asyncio.Condition()
        self._writer: asyncio.Task[None] | None = None
        self.written = 0
        self.batches = 0
        self.listeners: list[Callable[[list[Observation]], None]] = []
        self._busy = False

    async def __aenter__(self) -> Pipeline:
        self._writer = asyncio.create_task(self._write_loop(), name="kgtwin-ingest-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()
        if self._writer:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    @property
    def queue_depth(self) -> int:
        return self._queued

    async def drain(self) -> None:
        """Wait until every queued observation is written."""
        while not self._queue.empty() or self._busy:
            await asyncio.sleep(0.01)

    async def submit(
        self, source: str, topic: str, payload: bytes, parse: Parser, *, record_rejections: bool = True
    ) -> Outcome:
        """Check a message, dead-letter what is wrong with it, queue the rest; see Outcome.durable.

        A replay from the dead-letter store passes record_rejections=False: it keeps the letter itself.
        """
        outcome = Outcome()

        def reject(reason: str, body: bytes) -> None:
            if record_rejections:
                self.deadletters.add(source, topic, reason, body)
            outcome.rejected.append(reason)

        if len(payload) > self.settings.max_payload_bytes:
            reject(
                f"oversized payload ({len(payload)} bytes, limit {self.settings.max_payload_bytes})",
                payload[: self.settings.max_payload_bytes],
            )
            return outcome
        try:
            items = parse(payload)
        except PayloadError as exc:
            reject(str(exc), payload)
            return outcome
        return await self._check_and_queue(items, outcome, reject, payload)

    async def submit_readings(self, source: str, topic: str, readings: list[Reading]) -> Outcome:
        """Check readings a connector already decoded (OPC UA values, GraphQL input); see submit."""
        outcome = Outcome()

        def reject(reason: str, body: bytes) -> None:
            self.deadletters.add(source, topic, reason, body)
            outcome.rejected.append(reason)

        return await self._check_and_queue(list(readings), outcome, reject, b"")

    async def _check_and_queue(
        self, items: list[Reading | str], outcome: Outcome, reject: Callable[[str, bytes], None], payload: bytes
    ) -> Outcome:
        arrived = now_ms()
        accepted: list[Observation] = []
        for item in items:
            checked = self.registry.check(item, arrived) if isinstance(item, Reading) else Rejection(item, {})
            retention = self.settings.raw_retention_ms
            if isinstance(checked, Observation) and retention is not None and checked.ts < arrived - retention:
                # Its bucket is rolled up already; a raw value there would pass for an average.
                checked = Rejection(
                    "timestamp older than the raw retention", {"sensor_id": item.point, "ts": checked.ts}
                )
            if isinstance(checked, Observation):
                accepted.append(checked)
                continue
            reject(checked.reason, orjson.dumps(checked.reading) if checked.reading else payload)
        outcome.accepted = len(accepted)
        outcome.durable = asyncio.get_running_loop().create_future()
        if accepted:
            await self.enqueue(accepted, outcome.durable)
        else:
            outcome.durable.set_result(None)
        return outcome

    async def enqueue(self, observations: list[Observation], done: asyncio.Future[None]) -> None:
        limit = self.settings.queue_observations
        async with self._space:  # back-pressure: a full queue makes the connector wait
            await self._space.wait_for(lambda: self._queued == 0 or self._queued + len(observations) <= limit)
            self._queued += len(observations)
        await self._queue.put((observations, done))

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            self._busy = True
            batch = [first]
            size = len(first[0])
            deadline = loop.time() + self.settings.max_delay_s
            while size < self.settings.batch_observations:
                # What is queued already joins at once: waiting for each message gives the loop to the
                # connectors, whose parsing then fills the delay and a backlog leaves in small batches.
                if not self._queue.empty():
                    item = self._queue.get_nowait()
                else:
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._queue.get(), timeout)
                    except TimeoutError:
                        break
                batch.append(item)
                size += len(item[0])
            observations = [o for obs, _ in batch for o in obs]
            await self._write_until_done(observations)
            async with self._space:
                self._queued -= size
                self._space.notify_all()
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
            for listener in self.listeners:
                listener(observations)
            self._busy = not self._queue.empty()

    async def _write_until_done(self, observations: list[Observation]) -> None:
        await self._until_done(lambda: self.write(observations), f"writing {len(observations)} observations")

    async def _until_done(self, write: Callable[[], Awaitable[object]], what: str) -> None:
        """An engine that is down is waited for: acknowledged data is never dropped."""
        delay = 0.2
        while True:
            try:
                await write()
                return
            except (EngineUnavailable, QueryError, OSError) as exc:
                log.warning("%s failed (%s); retrying in %.1f s", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def write_after_queued(self, query: str, params: dict[str, Any]) -> None:
        """A named write that must follow the observations queued now (points marked stale when their source
        goes offline, a status that came without a value): run once those are written, retried like them."""
        await self.drain()
        await self._until_done(lambda: self.store.execute(query, params), query)

    async def write(self, observations: list[Observation]) -> None:
        columns, bound = group(observations, self.settings.bucket_ms, self.registry)
        await self.store.execute("ingest/append", columns)
        for label, targets in bound.items():
            await self.store.execute("ingest/update_bound", {"rows": targets}, label=label)
        self.written += len(observations)
        self.batches += 1


Columns = dict[str, list[Any]]


def group(
    observations: list[Observation], bucket_ms: int, registry: Registry
) -> tuple[Columns, dict[str, list[dict[str, Any]]]]:
    """One row per (point, bucket), as columns, with ascending, de-duplicated times; bound-property rows per label.

    Columns (parallel lists) rather than a list of row maps: the engine reads lists of numbers
    in one piece, where every map would repeat its keys. The grouping runs in numpy: a stable
    sort by point and time keeps the first of repeated (point, time) readings.
    """
    n = len(observations)
    codes_of: dict[str, int] = {}
    codes = np.fromiter((codes_of.setdefault(o.point_uid, len(codes_of)) for o in observations), np.int64, n)
    names = list(codes_of)
    ts = np.fromiter((o.ts for o in observations), np.int64, n)
    order = np.lexsort((ts, codes))
    c, t = codes[order], ts[order]
    keep = np.ones(n, dtype=bool)
    keep[1:] = (c[1:] != c[:-1]) | (t[1:] != t[:-1])  # the same point and time again: the first one counts
    order, c, t = order[keep], c[keep], t[keep]
    values = np.fromiter((o.value for o in observations), float, n)[order]
    quality = np.asarray([o.quality for o in observations], dtype=object)[order]
    start = t - t % bucket_ms
    first = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (start[1:] != start[:-1])])
    newest = np.flatnonzero(np.r_[c[1:] != c[:-1], True])  # each point's last (newest) observation
    newest_of = np.empty(len(names), dtype=np.int64)
    newest_of[c[newest]] = newest
    row_newest = newest_of[c[first]]
    points = [names[code] for code in c[first].tolist()]
    starts = start[first].tolist()
    bounds = [*first.tolist(), len(t)]
    spans = list(itertools.pairwise(bounds))
    t_list, v_list, q_list = t.tolist(), values.tolist(), quality.tolist()
    columns: Columns = {
        "points": points,
        "buckets": [f"{p}@{s}" for p, s in zip(points, starts, strict=True)],
        "starts": starts,
        "ends": [s + bucket_ms for s in starts],
        "ts": [t_list[a:b] for a, b in spans],
        "values": [v_list[a:b] for a, b in spans],
        "quality": [q_list[a:b] for a, b in spans],
        "latestTs": t[row_newest].tolist(),
        "latestValue": values[row_newest].tolist(),
        "latestQuality": quality[row_newest].tolist(),
    }
    bound: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index in newest.tolist():
        point = names[int(c[index])]
        info = registry.points.get(point)
        if not info or not info.bindings:
            continue
        when, reading, good = int(t[index]), float(values[index]), str(quality[index])
        for binding in info.bindings:
            bound[binding.target_label].append(
                {
                    "target": binding.target_uid,
                    "point": point,
                    "ts": when,
                    "property": binding.property,
                    "rule": binding.rule,
                    "props": {
                        binding.property: reading * binding.factor + binding.offset,
                        f"{binding.property}.time": when,
                        f"{binding.property}.source": f"sensor:{point}",
                        f"{binding.property}.quality": good,
                    },
                }
            )
    return columns, bound


def slice_columns(columns: Columns, begin: int, end: int) -> Columns:
    return {name: values[begin:end] for name, values in columns.items()}
