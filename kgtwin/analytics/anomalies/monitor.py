"""The anomaly monitor beside ingestion: every batch the pipeline made durable goes through the
detectors and the conditions in a task of its own (the numpy work in a worker thread, so the event
loop keeps writing), a timer looks for silent points, and what changes is written to the graph in
batches and published as events.

The pipeline hands batches over synchronously; they wait in a bounded queue, so detection never
holds up writes. If the monitor falls that far behind, it drops whole batches (counted in
`dropped`, logged) rather than slow ingestion down: detectors then see a gap in those points.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kgtwin.analytics.anomalies.config import DetectorConfig
from kgtwin.analytics.anomalies.detectors import FAMILIES, DetectorBank, PointMeta
from kgtwin.analytics.anomalies.episodes import Change, Episode
from kgtwin.analytics.anomalies.records import AnomalyRecorder
from kgtwin.analytics.conditions import ConditionEngine
from kgtwin.errors import EngineUnavailable, QueryError
from kgtwin.events import PROPERTY_UPDATE, EventBus, EventLog, TwinEvent, tail
from kgtwin.ingest.observations import Observation, PointInfo, Registry
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.store import GraphStore

log = logging.getLogger("kgtwin.anomalies")
FAMILY_OF = {name: family for family, members in FAMILIES.items() for name in members}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class MonitorSettings:
    queue_observations: int = 2_000_000  # about 16 s of a 10k-point, 12 Hz stream
    silence_every_s: float = 5.0  # how often the silence timer looks


def point_meta(info: PointInfo, ids: tuple[str, ...] = ()) -> PointMeta:
    return PointMeta(
        uid=info.uid,
        ids=ids,
        brick_class=info.brick_class,
        unit=info.unit,
        min_limit=info.min_limit,
        max_limit=info.max_limit,
        interval_ms=info.interval * 1000 if info.interval else None,
        model=info.model,
    )


class AnomalyMonitor:
    def __init__(
        self,
        store: GraphStore,
        registry: Registry,
        config: DetectorConfig,
        events: EventLog,
        *,
        settings: MonitorSettings | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.registry = registry
        self.config = config
        self.events = events
        self.settings = settings or MonitorSettings()
        self.clock = clock
        self.bank = DetectorBank(config, started=clock())
        self.conditions = ConditionEngine(config.conditions)
        self.recorder = AnomalyRecorder(store, events)
        self._queue: asyncio.Queue[list[Observation]] = asyncio.Queue()
        self._queued = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._working = asyncio.Lock()  # one of detection, the silence check, a field update at a time
        self.dropped = 0
        self.observed = 0
        self.seconds = 0.0  # time spent detecting (not writing)
        self.recorded = 0  # anomaly changes written
        self.recording_seconds = 0.0
        self._register(registry)

    def _register(self, registry: Registry) -> None:
        ids: dict[str, list[str]] = defaultdict(list)
        for key, info in registry.points.items():
            if key != info.uid:
                ids[info.uid].append(key)
        for info in {info.uid: info for info in registry.points.values()}.values():
            self.bank.add_point(point_meta(info, tuple(ids[info.uid])))

    def refresh(self, registry: Registry) -> None:
        """A reloaded registry: new points join, changed settings apply."""
        self.registry = registry
        self._register(registry)

    # -- beside the pipeline ------------------------------------------------------------------

    def attach(self, pipeline: Pipeline) -> None:
        pipeline.listeners.append(self.offer)

    def offer(self, observations: list[Observation]) -> None:
        """The pipeline's listener: queue a durable batch, or drop it when the monitor is too far behind."""
        if self._queued + len(observations) > self.settings.queue_observations:
            self.dropped += len(observations)
            log.warning("anomaly detection is behind: %d observations not checked so far", self.dropped)
            return
        self._queued += len(observations)
        self._idle.clear()
        self._queue.put_nowait(observations)

    async def __aenter__(self) -> AnomalyMonitor:
        await self._adopt()
        await self._load_condition_targets()
        self._tasks = [
            asyncio.create_task(self._detect_loop(), name="kgtwin-anomaly-detector"),
            asyncio.create_task(self._silence_loop(), name="kgtwin-silence-timer"),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def drain(self) -> None:
        """Wait until every queued batch is checked and its anomalies written."""
        await self._idle.wait()

    async def watch_field(self, bus: EventBus, stop: asyncio.Event) -> None:
        """Conditions on field updates: applied property changes published on the bus (by this process's
        API, or by others through the event tail) are evaluated as they come."""
        async with bus.subscribe(lambda e: e.kind == PROPERTY_UPDATE and bool(e.details.get("applied"))) as heard:
            while not stop.is_set():
                try:
                    event: TwinEvent = await asyncio.wait_for(heard.get(), 0.5)
                except TimeoutError:
                    continue
                await self.on_field_update(event)

    async def on_field_update(self, event: TwinEvent) -> None:
        if not self.conditions or event.details.get("property") not in self.conditions.properties:
            return
        async with self._working:
            if event.subject not in self.conditions.targets:
                await self.conditions.load_targets(self.store, event.subject_label or "Element", [event.subject])
            changed = {event.details["property"]: event.details.get("value")}
            self.conditions.observe(event.subject, changed, event.time)
            await self._record(self.conditions.drain(self.clock()))

    # -- the work -----------------------------------------------------------------------------

    async def _detect_loop(self) -> None:
        while True:
            batch = await self._queue.get()
            while not self._queue.empty():  # catch up: everything waiting in one go
                batch = batch + self._queue.get_nowait()
            try:
                async with self._working:
                    # numpy lets go of the interpreter for most of the work: ingestion goes on meanwhile
                    changes = await asyncio.to_thread(self.detect, batch)
                    await self._record(changes)
            except Exception:  # never let one bad batch stop detection for good
                log.exception("anomaly detection failed on a batch of %d observations", len(batch))
            finally:
                self._queued -= len(batch)
                if self._queue.empty():
                    self._idle.set()

    async def _silence_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.silence_every_s)
            try:
                await self.check_silence()
            except Exception:
                log.exception("the silence check failed")

    async def check_silence(self) -> None:
        async with self._working:
            now = self.clock()
            self.bank.check_silence(now)
            await self._record(self.bank.drain(now))

    def detect(self, observations: list[Observation]) -> list[Change]:
        """Run a batch through the detectors and conditions; the changes to record."""
        started = time.perf_counter()
        index = self.bank.index
        points = np.fromiter((index.get(o.point_uid, -1) for o in observations), np.int64, len(observations))
        if (points < 0).any():  # points declared since the monitor started
            for o in (o for o, p in zip(observations, points, strict=True) if p < 0):
                info = self.registry.points.get(o.point_uid)
                if info is not None and o.point_uid not in index:
                    self.bank.add_point(point_meta(info))
            points = np.fromiter((index.get(o.point_uid, -1) for o in observations), np.int64, len(observations))
        ts = np.fromiter((o.ts for o in observations), np.int64, len(observations))
        values = np.fromiter((o.value for o in observations), float, len(observations))
        known = points >= 0
        if known.any():
            self.bank.observe(points[known], ts[known], values[known])
            if self.conditions:
                self._bound_changes(observations)
        self.observed += len(observations)
        now = self.clock()
        changes = self.bank.drain(now) + (self.conditions.drain(now) if self.conditions else [])
        self.seconds += time.perf_counter() - started
        return changes

    def _bound_changes(self, observations: list[Observation]) -> None:
        """The bound properties each point's newest reading sets, as the pipeline writes them."""
        newest: dict[str, Observation] = {}
        for o in observations:
            if o.point_uid not in newest or o.ts > newest[o.point_uid].ts:
                newest[o.point_uid] = o
        for uid, o in newest.items():
            info = self.registry.points.get(uid)
            for binding in info.bindings if info else ():
                if binding.property in self.conditions.properties:
                    # value in the point's unit * factor + offset = value in the property's unit
                    value = o.value * binding.factor + binding.offset
                    self.conditions.observe(binding.target_uid, {binding.property: value}, o.ts)

    async def _load_condition_targets(self) -> None:
        if not self.conditions:
            return
        by_label: dict[str, set[str]] = defaultdict(set)
        for info in self.registry.points.values():
            for binding in info.bindings:
                if binding.property in self.conditions.properties:
                    by_label[binding.target_label].add(binding.target_uid)
        for label, uids in by_label.items():
            await self.conditions.load_targets(self.store, label, sorted(uids))

    async def _record(self, changes: list[Change]) -> None:
        """Write the changes, waiting out an engine that is down (they are not dropped)."""
        delay = 0.2
        while changes:
            try:
                started = time.perf_counter()
                await self.recorder.record(changes)
                self.recorded += len(changes)
                self.recording_seconds += time.perf_counter() - started
                return
            except (EngineUnavailable, QueryError, OSError) as exc:
                log.warning("recording %d anomaly changes failed (%s); retrying in %.1f s", len(changes), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _adopt(self) -> None:
        """Continue the anomalies that were active when the last monitor stopped."""
        for row in await self.store.execute("anomalies/active"):
            anomaly: dict[str, Any] = row["anomaly"]
            detector = str(anomaly.get("detector") or "")
            if detector.startswith("condition:"):
                subject, family, tracker = anomaly.get("target"), detector, self.conditions.tracker
                extra = {"condition": anomaly.get("condition"), "target_label": "Element"}
            else:
                subject, family, tracker = anomaly.get("point"), FAMILY_OF.get(detector), self.bank.tracker
                extra = {}
                if subject not in self.bank.index:
                    continue
            if not subject or not family:
                continue
            settings = (
                self.bank.settings_of(self.bank.index[subject]).detector(detector)
                if not detector.startswith("condition:")
                else next((c.spec.episode for c in self.conditions.conditions if c.detector == detector), None)
            )
            if settings is None:
                continue
            episode = Episode(
                uid=anomaly["uid"],
                subject=subject,
                detector=detector,
                kind=anomaly.get("kind") or "",
                start=int(anomaly.get("start") or 0),
                detected=int(anomaly.get("detectedAt") or anomaly.get("start") or 0),
                severity=anomaly.get("severity") or "warning",
                value=float(anomaly["value"]) if anomaly.get("value") is not None else float("nan"),
                score=float(anomaly.get("score") or 0.0),
                last_seen=int(anomaly.get("lastSeen") or 0),
                message=anomaly.get("message") or "",
                settings=settings,
                detectors=list(anomaly.get("detectors") or [detector]),
                extra={
                    **extra,
                    "scope": tuple(anomaly.get("scope") or ()),
                    "model": anomaly.get("model"),
                    "point": anomaly.get("point"),
                },
            )
            tracker.adopt((subject, family), episode)
            if family in self.bank.engaged:
                self.bank.engaged[family][self.bank.index[subject]] = True


@contextlib.asynccontextmanager
async def monitoring(
    store: GraphStore,
    pipeline: Pipeline,
    config: DetectorConfig,
    events: EventLog,
    settings: MonitorSettings | None = None,
) -> AsyncIterator[AnomalyMonitor]:
    """`async with monitoring(store, pipeline, config, events) as monitor:` detection beside a pipeline.

    With conditions declared, field updates are evaluated too: those published on `events.bus` (an
    API process publishes its mutations there and tails the others'), or, without a bus, those any
    process records, followed through the graph's event tail.
    """
    monitor = AnomalyMonitor(store, pipeline.registry, config, events, settings=settings)
    monitor.attach(pipeline)
    stop = asyncio.Event()
    helpers = []
    async with monitor:
        if monitor.conditions:
            bus = events.bus
            if bus is None:
                bus = EventBus()
                helpers.append(asyncio.create_task(tail(store, bus, stop), name="kgtwin-condition-tail"))
            helpers.append(asyncio.create_task(monitor.watch_field(bus, stop), name="kgtwin-condition-watch"))
        try:
            yield monitor
        finally:
            await pipeline.drain()
            stop.set()
            await asyncio.gather(*helpers, return_exceptions=True)
