"""The running twin behind the API: one graph connection, the event bus and log, API keys, and the
ingestion pipeline with the connectors and monitors that the service runs beside it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kgtwin.api.auth import KeyRing
from kgtwin.config import Settings
from kgtwin.events import EventBus, EventLog, tail
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.mqtt import MqttSettings, run_mqtt
from kgtwin.ingest.observations import Observation, Registry
from kgtwin.ingest.pipeline import IngestSettings, Pipeline
from kgtwin.model.schema import INDEXES
from kgtwin.store import GraphStore, open_store

log = logging.getLogger("kgtwin.service")
Task = Callable[["Twin"], Awaitable[None]]


@dataclass
class Twin:
    settings: Settings
    store: GraphStore
    keys: KeyRing
    bus: EventBus = field(default_factory=EventBus)
    pipeline: Pipeline | None = None
    registry: Registry | None = None
    deadletters: DeadLetterStore | None = None
    monitor: Any = None  # the anomaly monitor beside the pipeline
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _beside: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _owns_store: bool = False

    @property
    def log(self) -> EventLog:
        return EventLog(self.store, self.bus)

    @classmethod
    async def open(
        cls, settings: Settings, store: GraphStore | None = None, *, ingest: bool = True, detect: bool = True
    ) -> Twin:
        """Connect (or use `store`), set up the schema, and start ingestion (with anomaly detection) when asked."""
        owns = store is None
        store = store or await open_store(settings)
        try:
            await store.ensure_schema(INDEXES)
            keys = KeyRing.load(settings.key_file, settings.api_keys)
            twin = cls(settings=settings, store=store, keys=keys, _owns_store=owns)
            if ingest:
                await twin._start_pipeline()
                if detect:
                    await twin._start_monitor()
                if settings.mqtt:
                    mqtt = MqttSettings.from_url(settings.mqtt)
                    twin.spawn(lambda t: run_mqtt(t.pipeline, mqtt, t._stop), "mqtt")
            twin.spawn(lambda t: tail(t.store, t.bus, t._stop), "event-tail")
        except BaseException:
            if owns:
                await store.close()
            raise
        return twin

    async def _start_pipeline(self) -> None:
        self.registry = await Registry.load(self.store)
        self.deadletters = DeadLetterStore(self.settings.data_dir / "deadletter.sqlite")
        self.pipeline = Pipeline(self.store, self.registry, self.deadletters, IngestSettings())
        await self.pipeline.__aenter__()
        self.pipeline.listeners.append(self._publish_observations)

    async def _start_monitor(self) -> None:
        from kgtwin.analytics.anomalies.config import load_config
        from kgtwin.analytics.anomalies.monitor import monitoring

        assert self.pipeline is not None
        detectors = load_config()  # KGTWIN_DETECTORS, else the built-in defaults
        self.monitor = await self._beside.enter_async_context(
            monitoring(self.store, self.pipeline, detectors, self.log)
        )

    def _publish_observations(self, observations: list[Observation]) -> None:
        watched = self.bus.watched_points
        if not watched:
            return
        by_point: dict[str, list[Observation]] = {}
        for o in observations:
            if o.point_uid in watched:
                by_point.setdefault(o.point_uid, []).append(o)
        for point, items in by_point.items():
            self.bus.publish_observations(point, sorted(items, key=lambda o: o.ts))

    async def refresh_registry(self) -> None:
        """Points or bindings changed: the pipeline checks readings against the new registry."""
        if self.pipeline is not None:
            self.registry = await Registry.load(self.store)
            self.pipeline.registry = self.registry
            if self.monitor is not None:
                self.monitor.refresh(self.registry)

    def spawn(self, work: Task, name: str) -> None:
        async def guarded() -> None:
            try:
                await work(self)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s stopped", name)

        self._tasks.append(asyncio.create_task(guarded(), name=f"kgtwin-{name}"))

    @property
    def stopping(self) -> asyncio.Event:
        return self._stop

    async def close(self) -> None:
        """Connectors stop taking messages (and ack what is durable), then the pipeline drains."""
        self._stop.set()
        _, running = await asyncio.wait(self._tasks, timeout=30) if self._tasks else (set(), set())
        for task in running:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._beside.aclose()  # the monitor checks what the pipeline still holds
        if self.pipeline is not None:
            await self.pipeline.__aexit__()
        if self.deadletters is not None:
            self.deadletters.close()
        if self._owns_store:
            await self.store.close()
