"""Observations over a real Mosquitto into both engines: the right point, bucket, unit and bound
property; bad messages in the dead-letter store; nothing acknowledged lost across restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import ifcopenshell
import orjson
import pytest

from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.history import downsample, raw_series
from kgtwin.ingest.mqtt import MqttSettings, run_mqtt
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.pipeline import IngestSettings, Pipeline
from kgtwin.ingest.sparkplug import SparkplugHost
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import PointSpec, load_registry, read_registry
from kgtwin.store import GraphStore, local, open_store
from tests.conftest import Broker, engine_settings, require_engine


async def building_with_sensors(store: GraphStore, tmp_path: Path) -> tuple[str, str]:
    """A loaded sample building with a registry point bound to a room; returns (point id, room uid)."""
    model = tmp_path / "b.ifc"
    write_sample(model, SampleSpec(storeys=1, spaces_per_storey=2))
    await load_ifc(store, model, model="b")
    room = ifcopenshell.open(str(model)).by_type("IfcSpace")[0].GlobalId
    registry = tmp_path / "sensors.yaml"
    registry.write_text(
        "model: b\npoints:\n"
        f"  - {{id: room-temp, class: Air_Temperature_Sensor, unit: degC, interval: 60, space: {room},"
        " property: airTemperature, property_unit: degF}\n"
        "  - {id: room-co2, class: CO2_Sensor, unit: ppm}\n"
    )
    result = await load_registry(store, read_registry(registry))
    assert result.bound == 1 and not result.problems
    return "room-temp", f"b:{room}"


ROOM_POINTS = [
    PointSpec(id="room-temp", brick_class="Air_Temperature_Sensor", unit="degC", interval_s=60, model="b"),
    PointSpec(id="room-co2", brick_class="CO2_Sensor", unit="ppm", interval_s=60, model="b"),
]


async def sensors_without_a_building(store: GraphStore) -> None:
    """The registry's two room points, bound to nothing: for tests that need no model (an IFC load is slow)."""
    await load_registry(store, ROOM_POINTS)


async def publish(broker: Broker, topic: str, payloads: list[bytes], retry_until: float = 60.0) -> int:
    """Publish with QoS 1, retrying through broker outages; returns how many the broker acknowledged."""
    acknowledged = 0
    deadline = time.monotonic() + retry_until
    while acknowledged < len(payloads):
        try:
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"pub-{uuid.uuid4().hex[:8]}") as client:
                while acknowledged < len(payloads):
                    await client.publish(topic, payloads[acknowledged], qos=1)
                    acknowledged += 1
        except aiomqtt.MqttError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    return acknowledged


async def wait_for(
    store: GraphStore, statement: str, expected: object, params: dict | None = None, seconds: float = 60
) -> object:
    deadline = time.monotonic() + seconds
    while True:
        rows = await store.run(statement, params or {})
        value = rows[0]["c"] if rows else None
        if value == expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


class Worker:
    """An ingest worker as `kgtwin ingest mqtt` runs it, inside the test's event loop."""

    def __init__(
        self,
        store: GraphStore,
        broker: Broker,
        topic: str,
        deadletters: DeadLetterStore,
        host: SparkplugHost | None = None,
        max_payload_bytes: int = 4096,
        **settings: Any,
    ) -> None:
        self.store, self.broker, self.topic, self.deadletters = store, broker, topic, deadletters
        self.host, self.settings, self.max_payload_bytes = host, settings, max_payload_bytes
        self.stop = asyncio.Event()
        self.connected = asyncio.Event()

    async def __aenter__(self) -> Worker:
        registry = await Registry.load(self.store)
        self.pipeline = Pipeline(
            self.store, registry, self.deadletters, IngestSettings(max_payload_bytes=self.max_payload_bytes)
        )
        await self.pipeline.__aenter__()
        settings = MqttSettings(
            port=self.broker.port, topics=(f"{self.topic}/#",), client_id=f"w-{uuid.uuid4().hex[:8]}", **self.settings
        )
        self.task = asyncio.create_task(run_mqtt(self.pipeline, settings, self.stop, self.connected, self.host))
        await asyncio.wait_for(self.connected.wait(), 20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 60)
        await self.pipeline.__aexit__()


async def test_readings_land_on_their_point_bucket_and_bound_property(
    store: GraphStore, broker: Broker, tmp_path: Path
) -> None:
    point, room = await building_with_sensors(store, tmp_path)
    topic = f"t{uuid.uuid4().hex[:8]}"
    base = (int(time.time()) - 600) // 60 * 60_000  # a whole minute: interval edges are known
    readings = [
        {"sensor_id": point, "value": 20.0 + i / 10, "unit": "degC", "timestamp": base + i * 1000} for i in range(50)
    ]
    readings.append({"sensor_id": point, "value": 77.0, "unit": "degF", "timestamp": base + 50_000})  # 25 °C
    async with Worker(store, broker, topic, DeadLetterStore(tmp_path / "dl.sqlite")):
        await publish(broker, f"{topic}/room", [orjson.dumps(r) for r in readings[:25]] + [orjson.dumps(readings[25:])])
        count = await wait_for(
            store, "MATCH (:Point {pointId: $p})-[:HAS_OBSERVATIONS]->(b) RETURN sum(b.count) AS c", 51, {"p": point}
        )
    assert count == 51
    rows = await store.run(
        "MATCH (p:Point {pointId: $p})-[:HAS_OBSERVATIONS]->(b) RETURN b.start AS start, b.ts AS ts, b.values AS v, "
        "p.lastValue AS last ORDER BY start",
        {"p": point},
    )
    stamps = [t for r in rows for t in r["ts"]]
    values = [v for r in rows for v in r["v"]]
    assert stamps == [r["timestamp"] for r in readings]
    assert values[:50] == pytest.approx([20.0 + i / 10 for i in range(50)])
    assert values[50] == pytest.approx(25.0) and rows[-1]["last"] == pytest.approx(25.0)
    for r in rows:  # every bucket holds only its own time slice
        assert all(r["start"] <= t < r["start"] + IngestSettings().bucket_ms for t in r["ts"])
    # Read back: raw over a sub-range, and per 10 s interval.
    series = await raw_series(store, point, base + 5_000, base + 45_000)
    assert list(series.ts) == [base + i * 1000 for i in range(5, 45)]
    tens = downsample(await raw_series(store, point, base, base + 60_000), 10_000)
    assert list(tens.count) == [10, 10, 10, 10, 10, 1]
    assert list(tens.start) == [base + k * 10_000 for k in range(6)]
    assert (
        tens.min[0] == pytest.approx(20.0) and tens.max[4] == pytest.approx(24.9) and tens.avg[5] == pytest.approx(25.0)
    )
    bound = await store.run("MATCH (s:Space {uid: $room}) RETURN properties(s) AS p", {"room": room})
    props = bound[0]["p"]
    assert props["airTemperature"] == pytest.approx(77.0)  # bound in °F
    assert props["airTemperature.time"] == base + 50_000 and props["airTemperature.source"] == f"sensor:{point}"


async def test_every_kind_of_bad_message_is_dead_lettered_with_its_reason(
    store: GraphStore, broker: Broker, tmp_path: Path
) -> None:
    point, _ = await building_with_sensors(store, tmp_path)
    topic = f"t{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    bad = {
        b"{this is not json": "malformed JSON",
        orjson.dumps({"sensor_id": "nobody", "value": 1.0}): "unknown point 'nobody'",
        orjson.dumps({"sensor_id": point, "value": "NaN"}): "not a finite number",
        orjson.dumps({"sensor_id": point, "value": "-Infinity"}): "not a finite number",
        orjson.dumps({"sensor_id": point, "value": 5, "unit": "kPa"}): "cannot be converted",
        orjson.dumps({"sensor_id": point, "value": 5, "timestamp": now + 3_600_000}): "in the future",
        orjson.dumps({"sensor_id": point, "value": "warm"}): "is not a number",
        b'{"sensor_id": "room-temp", "value": 1, "pad": "' + b"x" * 5000 + b'"}': "oversized payload",
    }
    good = orjson.dumps({"sensor_id": point, "value": 21.5, "unit": "degC", "timestamp": now - 1000})
    deadletters = DeadLetterStore(tmp_path / "dl.sqlite")
    async with Worker(store, broker, topic, deadletters):
        await publish(broker, f"{topic}/x", [*bad, good])
        assert (
            await wait_for(store, "MATCH (p:Point {pointId: $p}) RETURN p.lastValue AS c", 21.5, {"p": point}) == 21.5
        )
    letters = deadletters.list()
    assert len(letters) == len(bad)
    for letter, (_, reason) in zip(letters, bad.items(), strict=True):
        assert reason in letter.reason, (letter.reason, reason)
        assert letter.topic == f"{topic}/x"
    assert (
        await store.run("MATCH (:Point {pointId: $p})-[:HAS_OBSERVATIONS]->(b) RETURN sum(b.count) AS c", {"p": point})
    )[0]["c"] == 1


@pytest.mark.parametrize("engine", ["falkordb", "neo4j"])
async def test_broker_restart_and_engine_kill_lose_no_acknowledged_reading(
    engine: str, broker: Broker, fresh_data: Path
) -> None:
    require_engine(engine)
    store = await open_store(engine_settings(engine, fresh_data))
    try:
        point, _ = await building_with_sensors(store, fresh_data)
        topic = f"t{uuid.uuid4().hex[:8]}"
        base = (int(time.time()) - 3000) * 1000
        payloads = [
            orjson.dumps(
                [
                    {"sensor_id": point, "value": float(i * 10 + k), "timestamp": base + (i * 10 + k) * 100}
                    for k in range(10)
                ]
            )
            for i in range(200)
        ]
        async with Worker(store, broker, topic, DeadLetterStore(fresh_data / "dl.sqlite")):
            sent = await publish(broker, f"{topic}/r", payloads[:60])
            broker.stop()  # the broker goes away mid-stream and comes back
            await asyncio.sleep(1)
            broker.start()
            sent += await publish(broker, f"{topic}/r", payloads[60:130])
            state = local.read_state(fresh_data / engine)
            os.kill(int(state["server_pid"]), signal.SIGKILL)  # and the graph engine dies
            sent += await publish(broker, f"{topic}/r", payloads[130:])
            count = await wait_for(
                store,
                "MATCH (:Point {pointId: $p})-[:HAS_OBSERVATIONS]->(b) RETURN sum(b.count) AS c",
                2000,
                {"p": point},
                seconds=180,
            )
        assert sent == 200
        assert count == 2000
        rows = await store.run("MATCH (:Point {pointId: $p})-[:HAS_OBSERVATIONS]->(b) RETURN b.ts AS ts", {"p": point})
        stamps = [t for r in rows for t in r["ts"]]
        assert len(stamps) == len(set(stamps)) == 2000  # exactly once
    finally:
        await store.close()
