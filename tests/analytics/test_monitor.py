"""Anomalies end to end on both engines: readings through the real pipeline, the monitor beside it,
Anomaly nodes linked to the point and what it measures, events a storey's subscriber hears, the
acknowledge/resolve workflow, silence on the timer, and users' conditions on bound and field-set
properties."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import ifcopenshell
import orjson
import pytest

from kgtwin.analytics.anomalies.config import parse_config
from kgtwin.analytics.anomalies.monitor import MonitorSettings, monitoring
from kgtwin.analytics.anomalies.records import (
    InvalidTransition,
    UnknownAnomaly,
    acknowledge,
    list_anomalies,
    resolve,
)
from kgtwin.events import EventBus, EventLog, TwinEvent
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources.field import set_properties
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import load_registry, read_registry
from kgtwin.store import GraphStore

# Small windows so a test needs few readings; everything else is the built-in defaults.
CONFIG = {
    "defaults": {"robust_z": {"window": 16}},
    "conditions": [
        {"name": "overheat", "when": "airTemperature > 30", "severity": "critical", "for": {"model": "b"}},
        {"name": "cracked", "when": "crackWidth >= 0.3", "clear": "crackWidth < 0.2", "for": {"ifc_class": "IfcWall"}},
    ],
}


class Building:
    def __init__(self, ifc: ifcopenshell.file) -> None:
        self.room = f"b:{ifc.by_type('IfcSpace')[0].GlobalId}"
        self.storey = f"b:{ifc.by_type('IfcBuildingStorey')[0].GlobalId}"
        self.building = f"b:{ifc.by_type('IfcBuilding')[0].GlobalId}"
        self.wall = f"b:{ifc.by_type('IfcWall')[0].GlobalId}"


async def building_with_a_room_sensor(store: GraphStore, tmp_path: Path) -> Building:
    path = tmp_path / "b.ifc"
    write_sample(path, SampleSpec(storeys=1, spaces_per_storey=2))
    await load_ifc(store, path, model="b")
    ifc = ifcopenshell.open(str(path))
    registry = tmp_path / "sensors.yaml"
    registry.write_text(
        "model: b\npoints:\n"
        f"  - {{id: t1, class: Air_Temperature_Sensor, unit: degC, interval: 1, limits: {{min: 10, max: 35}},"
        f" space: {ifc.by_type('IfcSpace')[0].GlobalId}, property: airTemperature}}\n"
    )
    result = await load_registry(store, read_registry(registry))
    assert result.bound == 1 and not result.problems
    return Building(ifc)


async def send(pipeline: Pipeline, readings: list[tuple[int, float]]) -> None:
    payload = orjson.dumps([{"sensor_id": "t1", "value": v, "timestamp": ts} for ts, v in readings])
    outcome = await pipeline.submit("test", "site/t1", payload, readings_from_json)
    assert not outcome.rejected
    await outcome.durable  # type: ignore[misc]


async def heard_until(subscriber: Any, wanted: Any, seconds: float = 10.0) -> list[TwinEvent]:
    """Events until one matches `wanted` (or the time is up)."""
    events: list[TwinEvent] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            event = await asyncio.wait_for(subscriber.get(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        events.append(event)
        if wanted(event):
            return events
    raise AssertionError(f"not heard; heard {[(e.kind, e.details.get('change')) for e in events]}")


async def test_an_excursion_becomes_an_anomaly_on_the_point_and_the_room_and_users_work_it_off(
    store: GraphStore, tmp_path: Path
) -> None:
    place = await building_with_a_room_sensor(store, tmp_path)
    registry = await Registry.load(store)
    bus = EventBus()
    log = EventLog(store, bus)
    now = int(time.time() * 1000)
    start = now - 60_000
    calm = [(start + i * 1000, 21.0 + 0.05 * ((i * 7) % 5)) for i in range(30)]
    hot = [(start + 30_000 + i * 1000, 80.0 + i * 0.1) for i in range(5)]  # the room burns for five seconds
    after = [(start + 35_000 + i * 1000, 21.1) for i in range(5)]
    settings = MonitorSettings(silence_every_s=3600)  # the test looks for silence itself
    async with (
        Pipeline(store, registry, DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline,
        monitoring(store, pipeline, parse_config(CONFIG, "test"), log, settings) as monitor,
        bus.subscribe(lambda e: e.concerns(place.storey)) as storey_events,
    ):
        await send(pipeline, calm)
        await send(pipeline, hot)
        await monitor.drain()
        heard = await heard_until(storey_events, lambda e: e.kind == "alert")
        await send(pipeline, after)
        await monitor.drain()
        ended = await heard_until(storey_events, lambda e: e.details.get("change") == "ended")

        opened = [e for e in heard if e.kind == "anomaly_opened"]
        assert sorted(e.details["kind"] for e in opened) == ["condition", "limit"]
        limit = next(e for e in opened if e.details["kind"] == "limit")
        assert limit.details["point"] == "t1" and limit.details["affected"] == [place.room]
        assert limit.details["severity"] == "warning" and limit.details["start"] == hot[0][0]
        assert {"t1", place.room, place.storey, place.building} <= set(limit.scope)
        alert = next(e for e in heard if e.kind == "alert")
        assert alert.subject == place.room and alert.details["condition"] == "overheat"
        # conditions read bound properties as the pipeline sets them: from each batch's newest reading
        assert alert.details["severity"] == "critical" and alert.details["value"] == {"airTemperature": 80.4}
        assert any(e.subject == limit.subject for e in ended)

        # In the graph: the anomaly hangs off the point and affects the room it measures.
        rows = await store.run(
            "MATCH (p:Point {uid: 't1'})-[:HAS_ANOMALY]->(a:Anomaly {kind: 'limit'})-[:AFFECTS]->(s:Space) "
            "RETURN a.uid AS uid, a.state AS state, a.active AS active, a.start AS start, a.end AS end, "
            "a.severity AS severity, a.detectors AS detectors, a.value AS value, a.storey AS storey, s.uid AS room"
        )
        assert len(rows) == 1
        anomaly = rows[0]
        assert anomaly["room"] == place.room and anomaly["storey"] == place.storey
        assert anomaly["state"] == "open" and anomaly["active"] is False  # over, but nobody has dealt with it
        assert (anomaly["start"], anomaly["end"]) == (hot[0][0], after[0][0])
        assert "robust_z" in anomaly["detectors"] and anomaly["value"] == pytest.approx(80.4)
        condition = await store.run(
            "MATCH (p:Point {uid: 't1'})-[:HAS_ANOMALY]->(a:Anomaly {kind: 'condition'})-[:AFFECTS]->(s:Space) "
            "RETURN a.condition AS condition, a.active AS active, s.uid AS room"
        )
        assert condition == [{"condition": "overheat", "active": False, "room": place.room}]

        # The workflow: acknowledged, then resolved; wrong steps and unknown ids are one clear line.
        uid = anomaly["uid"]
        assert (await acknowledge(store, log, uid, "field:site-lead", "on it"))["state"] == "acknowledged"
        with pytest.raises(InvalidTransition, match="only open anomalies can be acknowledged"):
            await acknowledge(store, log, uid, "field:site-lead")
        resolved = await resolve(store, log, uid, "field:site-lead", "sensor was next to a heater")
        assert resolved["state"] == "resolved" and resolved["resolvedBy"] == "field:site-lead"
        with pytest.raises(InvalidTransition, match="is resolved"):
            await resolve(store, log, uid, "field:x")
        with pytest.raises(UnknownAnomaly, match="no anomaly 'anomaly:nope'"):
            await acknowledge(store, log, "anomaly:nope", "field:x")
        workflow = await heard_until(storey_events, lambda e: e.details.get("state") == "resolved")
        assert [e.details["state"] for e in workflow if e.subject == uid] == ["acknowledged", "resolved"]
        listed = await list_anomalies(store, within=place.storey, kind="limit")
        assert [(a["uid"], a["state"]) for a in listed] == [(uid, "resolved")]
        assert await list_anomalies(store, model="b", state="open", kind="limit") == []

        # No reading for longer than three intervals: the timer opens a silence anomaly; a reading ends it.
        await monitor.check_silence()
        silence = await heard_until(storey_events, lambda e: e.details.get("kind") == "silence")
        assert silence[-1].details["point"] == "t1" and silence[-1].details["severity"] == "critical"
        await send(pipeline, [(int(time.time() * 1000), 21.0)])
        await monitor.drain()
        back = await heard_until(storey_events, lambda e: e.details.get("change") == "ended")
        assert back[-1].subject == silence[-1].subject


async def test_a_condition_on_a_field_set_property_alerts_and_clears_with_hysteresis(
    store: GraphStore, tmp_path: Path
) -> None:
    place = await building_with_a_room_sensor(store, tmp_path)
    bus = EventBus()
    log = EventLog(store, bus)
    pipeline = Pipeline(store, await Registry.load(store), DeadLetterStore(tmp_path / "dl.sqlite"))
    async with (
        pipeline,
        monitoring(store, pipeline, parse_config(CONFIG, "test"), log),
        bus.subscribe(lambda e: e.kind in ("alert", "anomaly_updated")) as heard,
    ):
        t0 = int(time.time() * 1000)
        await set_properties(store, log, "Element", place.wall, {"crackWidth": 0.35}, "field:inspector", when=t0)
        alert = (await heard_until(heard, lambda e: e.kind == "alert"))[-1]
        assert alert.subject == place.wall and alert.details["condition"] == "cracked"
        assert place.storey in alert.scope
        # Below the trigger but above the clear level: still open (hysteresis).
        await set_properties(store, log, "Element", place.wall, {"crackWidth": 0.25}, "field:inspector", when=t0 + 1)
        await set_properties(store, log, "Element", place.wall, {"crackWidth": 0.1}, "field:inspector", when=t0 + 2)
        ended = (await heard_until(heard, lambda e: e.details.get("change") == "ended"))[-1]
        assert ended.details["end"] == t0 + 2
    rows = await store.run(
        "MATCH (a:Anomaly {kind: 'condition'})-[:AFFECTS]->(w:Element) "
        "RETURN a.condition AS condition, a.active AS active, a.start AS start, a.end AS end, w.uid AS wall"
    )
    assert rows == [{"condition": "cracked", "active": False, "start": t0, "end": t0 + 2, "wall": place.wall}]


async def test_a_restarted_monitor_continues_the_anomalies_it_left_open(store: GraphStore, tmp_path: Path) -> None:
    await building_with_a_room_sensor(store, tmp_path)
    registry = await Registry.load(store)
    config = parse_config(CONFIG, "test")
    quiet = MonitorSettings(silence_every_s=3600)
    now = int(time.time() * 1000)
    async with Pipeline(store, registry, DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        async with monitoring(store, pipeline, config, EventLog(store), quiet) as monitor:
            await send(pipeline, [(now - 20_000 + i * 1000, 40.0) for i in range(3)])  # above its 35 °C limit
            await monitor.drain()
        first = await list_anomalies(store, kind="limit")
        assert [(a["active"], a["state"]) for a in first] == [(True, "open")]  # still out of line when it stopped
        pipeline.listeners.clear()
        bus = EventBus()
        async with (
            monitoring(store, pipeline, config, EventLog(store, bus), quiet) as again,
            bus.subscribe(lambda e: e.kind.startswith("anomaly")) as heard,
        ):
            await send(pipeline, [(now - 10_000 + i * 1000, 21.0) for i in range(3)])
            await again.drain()
            ended = await heard_until(heard, lambda e: e.details.get("change") == "ended")
    assert ended[-1].subject == first[0]["uid"]  # the same anomaly ends; no second one opens
    after = await list_anomalies(store, kind="limit")
    assert [(a["uid"], a["active"], a["end"]) for a in after] == [(first[0]["uid"], False, now - 10_000)]


def test_a_monitor_far_behind_drops_batches_instead_of_holding_up_ingestion() -> None:
    from kgtwin.analytics.anomalies.config import DetectorConfig
    from kgtwin.analytics.anomalies.monitor import AnomalyMonitor
    from kgtwin.ingest.observations import Observation, PointInfo

    registry = Registry({"t1": PointInfo(uid="t1", unit="degC")})
    monitor = AnomalyMonitor(None, registry, DetectorConfig(), None, settings=MonitorSettings(queue_observations=10))  # type: ignore[arg-type]
    batch = [Observation("t1", i, 20.0, "good", i) for i in range(6)]
    monitor.offer(batch)  # the pipeline's listener returns at once either way
    monitor.offer(batch)
    assert (monitor.dropped, monitor._queued) == (6, 6)


def test_ingest_refuses_bad_detector_settings_before_it_starts(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    bad = tmp_path / "detectors.yaml"
    bad.write_text("defaults:\n  zscore: {threshold: high}\n")
    result = run_cli("ingest", "mqtt", "--port", "1", "--detectors", str(bad), data_dir=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {bad}: defaults.zscore.threshold: 'high' is not a number"
