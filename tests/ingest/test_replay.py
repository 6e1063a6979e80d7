"""Replay of the past on both engines: an element's history per bound property, a recorded range replayed at
N× speed onto the same points (the graph unchanged, listeners see it again), onto other points, and to an
MQTT topic, through the library and the real command."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import aiomqtt
import orjson
import pytest

from kgtwin.errors import ConfigError
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.history import HistoryError, element_series
from kgtwin.ingest.observations import Observation, Registry
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.ingest.replay import paced_replay, recorded, replay_into, targets
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore
from tests.conftest import Broker, run_cli
from tests.ingest.test_mqtt import building_with_sensors, sensors_without_a_building

BUCKETS = (
    "MATCH (p:Point)-[:HAS_OBSERVATIONS]->(b) "
    "RETURN p.uid AS p, b.uid AS b, b.count AS n, b.sum AS s, b.ts AS ts ORDER BY p, b"
)


async def recorded_room(store: GraphStore, tmp_path: Path, *, in_a_building: bool = True) -> tuple[str | None, int]:
    """A room's temperature (bound in °F when in a building) and CO2, recorded every 10 s for 10 minutes."""
    if in_a_building:
        _, room = await building_with_sensors(store, tmp_path)
    else:
        room = None
        await sensors_without_a_building(store)
    await load_registry(store, [PointSpec(id="lab-temp", brick_class="Air_Temperature_Sensor", unit="degF")])
    start = (int(time.time()) - 3600) // 600 * 600_000
    readings = [
        {"sensor_id": point, "value": base + i / 10, "timestamp": start + i * 10_000}
        for point, base in (("room-temp", 20.0), ("room-co2", 500.0))
        for i in range(60)
    ]
    async with Pipeline(store, await Registry.load(store), DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        await (await pipeline.submit("test", "t", orjson.dumps(readings), readings_from_json)).durable  # type: ignore[misc]
    return room, start


async def test_an_elements_history_is_each_bound_points_series_in_the_propertys_unit(
    store: GraphStore, tmp_path: Path
) -> None:
    room, start = await recorded_room(store, tmp_path)
    assert room is not None
    global_id = room.split(":", 1)[1]
    found = await element_series(store, global_id, start, start + 600_000, model="b")
    bound = [b for b in found if b.property]
    assert [(b.property, b.point_id, b.unit) for b in bound] == [("airTemperature", "room-temp", "degF")]
    assert list(bound[0].series.ts) == [start + i * 10_000 for i in range(60)]
    assert list(bound[0].series.values) == pytest.approx([(20.0 + i / 10) * 1.8 + 32 for i in range(60)])
    contained = [b for b in found if not b.property]  # the IFC sensors in the room: bound to no property
    assert len(contained) == 4 and all(b.series.ts.size == 0 for b in contained)
    assert [b.point for b in await element_series(store, room, start, start + 600_000)] == [b.point for b in found]
    with pytest.raises(HistoryError, match="no point, element or space"):
        await element_series(store, "nothing-here", start, start + 1)


async def test_replay_onto_the_same_points_changes_nothing_but_listeners_see_it_again_at_n_times_speed(
    store: GraphStore, tmp_path: Path
) -> None:
    _, start = await recorded_room(store, tmp_path, in_a_building=False)
    before = await store.run(BUCKETS)
    seen: list[tuple[float, Observation]] = []
    recordings = await recorded(store, ["room-temp", "room-co2"], start, start + 600_000)
    async with Pipeline(store, await Registry.load(store), DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        pipeline.listeners.append(lambda batch: seen.extend((time.monotonic(), o) for o in batch))
        began = time.monotonic()
        outcome = await replay_into(pipeline, paced_replay(recordings, speed=300))
        took = time.monotonic() - began
    assert outcome.sent == outcome.accepted == 120 and outcome.rejected == 0
    assert len(seen) == 120 and await store.run(BUCKETS) == before  # stored once: the graph is unchanged
    assert 590 / 300 < took < 590 / 300 + 1.5  # ten minutes at 300×: two seconds, the spacing kept
    first = {o.ts: t for t, o in seen if o.point_uid == "room-temp"}
    assert first[start + 300_000] - first[start] == pytest.approx(300 / 300, abs=0.3)


async def test_kgtwin_replay_onto_another_point_and_to_an_mqtt_topic(
    store: GraphStore, broker: Broker, data_dir: Path, tmp_path: Path
) -> None:
    _, start = await recorded_room(store, tmp_path, in_a_building=False)
    env = {"KGTWIN_GRAPH": {"falkordb": "embedded", "neo4j": "local-neo4j"}[store.engine]}
    window = ("--from", str(start), "--to", str(start + 300_000))
    loop = asyncio.get_running_loop()

    def cli(*args: str):  # type: ignore[no-untyped-def]
        return loop.run_in_executor(None, lambda: run_cli(*args, env=env, data_dir=data_dir))

    copied = await cli("replay", "room-temp", *window, "--speed", "max", "--as", "lab-temp")
    assert copied.returncode == 0, copied.stderr
    assert "30 readings replayed through the pipeline: 30 accepted, 0 rejected" in copied.stdout
    rows = await store.run(
        "MATCH (:Point {pointId: 'lab-temp'})-[:HAS_OBSERVATIONS]->(b) RETURN b.ts AS ts, b.values AS v"
    )
    assert [t for r in rows for t in r["ts"]] == [start + i * 10_000 for i in range(30)]  # recorded times kept
    assert [v for r in rows for v in r["v"]] == pytest.approx([(20.0 + i / 10) * 1.8 + 32 for i in range(30)])  # °F

    topic = f"replay/{uuid.uuid4().hex[:8]}"
    received: list[dict] = []  # type: ignore[type-arg]
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"r-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(topic, qos=1)
        sent = await cli("replay", "room-co2", *window, "--speed", "max", "--retime", "--mqtt-topic", topic,
                         "--port", str(broker.port))  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        async with asyncio.timeout(10):
            async for message in client.messages:
                received += orjson.loads(message.payload)  # type: ignore[arg-type]
                if len(received) == 30:
                    break
    assert [r["value"] for r in received] == pytest.approx([500.0 + i / 10 for i in range(30)])
    assert {r["sensor_id"] for r in received} == {"room-co2"}
    assert all(r["timestamp"] > time.time() * 1000 - 60_000 for r in received)  # retimed: stamped as sent

    history = await cli("history", "room-temp", *window, "--every", "1min", "-f", "json")
    assert [row["count"] for row in json.loads(history.stdout)] == [6] * 5


def test_replay_targets_map_points_one_by_one_or_a_whole_model() -> None:
    assert targets(["b:A1", "b:B2"], ["model:c"]) == {"b:A1": "c:A1", "b:B2": "c:B2"}
    assert targets(["b:A1", "b:B2"], ["A1=x"]) == {"b:A1": "x", "b:B2": "b:B2"}
    assert targets(["room-temp"], ["lab-temp"]) == {"room-temp": "lab-temp"}
    with pytest.raises(ConfigError, match="use SRC=DST or model:OTHER"):
        targets(["b:A1", "b:B2"], ["x"])
    with pytest.raises(ConfigError, match="belongs to no model"):
        targets(["room-temp"], ["model:c"])
