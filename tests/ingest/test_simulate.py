"""The simulator: realistic, seeded readings for a model's points, faults exactly where its plan says, pacing
that backfills the past quickly; and its transports end to end into both engines (MQTT JSON through the
real command, Sparkplug B edge nodes answering rebirth requests, an OPC UA server)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from kgtwin.errors import ConfigError
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Reading, Registry
from kgtwin.ingest.opcua import NodeMapping as OpcUaMapping
from kgtwin.ingest.opcua import OpcUaIngest, OpcUaSettings, PointServer, serve_readings
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.ingest.simulate import (
    DAY,
    HOUR,
    Pace,
    SimPoint,
    Simulator,
    load_points,
    opcua_node_ids,
    paced,
    parse_fault,
    plan_faults,
    sparkplug_paths,
)
from kgtwin.ingest.sparkplug import DataType, SparkplugHost, point_names, publish_as_edge_nodes
from kgtwin.sources.sensors import SourceMapping
from kgtwin.store import GraphStore
from tests.conftest import Broker, run_cli
from tests.ingest.test_mqtt import Worker, building_with_sensors, sensors_without_a_building, wait_for
from tests.ingest.test_opcua import endpoint
from tests.ingest.test_sparkplug import wait_until

MONDAY = 1_767_571_200_000  # 2026-01-05 00:00 UTC
ROOM = "b:room-1"


def room_points(interval_s: float = 300) -> list[SimPoint]:
    return [
        SimPoint("t", "t", "air_temperature", "degC", interval_s, ROOM, min_limit=10, max_limit=35),
        SimPoint("h", "h", "humidity", "percent", interval_s, ROOM),
        SimPoint("c", "c", "co2", "ppm", interval_s, ROOM),
        SimPoint("o", "o", "occupancy", None, interval_s, ROOM),
        SimPoint("k", "k", "concrete_temperature", "degC", interval_s, "b:storey-0"),
    ]


def series(readings: list[Reading]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    by: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in readings:
        by[r.point].append((int(r.timestamp), float(r.value)))
    return {k: (np.array([t for t, _ in v]), np.array([x for _, x in v])) for k, v in by.items()}


def mean_between(data: tuple[np.ndarray, np.ndarray], start: int, hours: tuple[float, float]) -> float:
    ts, values = data
    keep = (ts >= start + hours[0] * HOUR) & (ts < start + hours[1] * HOUR)
    return float(values[keep].mean())


def test_a_week_of_readings_follows_the_day_the_occupants_and_the_concrete() -> None:
    simulator = Simulator(room_points(), MONDAY, seed=3)
    week = series(simulator.advance(MONDAY + 7 * DAY))
    used = [d for d in range(5) if mean_between(week["o"], MONDAY + d * DAY, (9, 17)) > 0.3]
    assert used, "the room is used on some working day of the week"
    day = MONDAY + used[0] * DAY
    # Air: warmest mid-afternoon, coolest before dawn; humid before dawn; CO2 and occupancy follow people.
    assert mean_between(week["t"], day, (14, 16)) > mean_between(week["t"], day, (3, 5)) + 1.0
    assert mean_between(week["h"], day, (3, 6)) > mean_between(week["h"], day, (15, 18))
    assert mean_between(week["c"], day, (10, 11)) > 600 > 450 > mean_between(week["c"], day, (1, 5))
    assert mean_between(week["o"], day, (1, 5)) == 0 and mean_between(week["o"], day, (9.5, 11.5)) > 0.8
    assert mean_between(week["o"], day, (12.25, 12.75)) < mean_between(week["o"], day, (10, 11))  # lunch
    saturday = MONDAY + 5 * DAY
    assert mean_between(week["o"], saturday, (0, 24)) == 0 and mean_between(week["c"], saturday, (10, 16)) < 450
    # Concrete: hydration heat rises to a peak within two days of pouring, then the slab cools.
    ts, values = week["k"]
    peak = int(ts[values.argmax()])
    assert MONDAY <= peak < MONDAY + 2 * DAY and values.max() > values[-1] + 10
    # One reading per point per interval, in time order; the same seed gives the same readings.
    assert all(np.all(np.diff(t) == 300_000) for t, _ in week.values())
    again = series(Simulator(room_points(), MONDAY, seed=3).advance(MONDAY + DAY))
    assert np.array_equal(again["t"][1], week["t"][1][: again["t"][1].size])
    other = series(Simulator(room_points(), MONDAY, seed=4).advance(MONDAY + DAY))
    assert not np.array_equal(other["t"][1], again["t"][1])


def test_planted_faults_are_exactly_where_the_plan_says() -> None:
    points = room_points(60)
    requested = [
        ("spike", "t", 2 * HOUR, None),
        ("drift", "h", 3 * HOUR, 2 * HOUR),
        ("stuck", "c", 9 * HOUR, HOUR),
        ("dropout", "k", 4 * HOUR, 30 * 60_000),
        ("out-of-range", "t", 6 * HOUR, 20 * 60_000),
    ]
    plan = plan_faults(points, requested, 0, MONDAY, DAY, seed=1)
    clean = series(Simulator(points, MONDAY, seed=1).advance(MONDAY + DAY))
    faulty = series(Simulator(points, MONDAY, seed=1, faults=plan).advance(MONDAY + DAY))
    spike, drift, stuck, dropout, out_of_range = sorted(
        plan, key=lambda f: requested.index(next(r for r in requested if r[0] == f.kind))
    )
    # A spike hits one reading: the first one at or after its start, by the planned magnitude.
    changed = np.flatnonzero(clean["t"][1] != faulty["t"][1])
    ts = clean["t"][0]
    spiked = [i for i in changed if spike.covers(int(ts[i]))]
    assert len(spiked) == 1 and ts[spiked[0]] == spike.start and spike.end - spike.start == 60_000
    assert faulty["t"][1][spiked[0]] - clean["t"][1][spiked[0]] == pytest.approx(spike.magnitude)
    # Out of range: above the point's maximum for the whole window, and only there.
    inside = (ts >= out_of_range.start) & (ts < out_of_range.end)
    assert np.all(faulty["t"][1][inside] > 35) and set(changed) == set(spiked) | set(np.flatnonzero(inside))
    # Drift: grows linearly from zero to its magnitude across the window.
    ts, offset = clean["h"][0], faulty["h"][1] - clean["h"][1]
    inside = (ts >= drift.start) & (ts < drift.end)
    expected = drift.magnitude * (ts[inside] - drift.start) / (drift.end - drift.start)
    assert offset[inside] == pytest.approx(expected, abs=1e-3) and not offset[~inside].any()
    # Stuck: the same value through the window, live values either side.
    ts, values = faulty["c"]
    inside = (ts >= stuck.start) & (ts < stuck.end)
    assert len(set(values[inside])) == 1 and values[inside][0] == clean["c"][1][inside][0]
    assert len(set(values[~inside][-30:])) > 1
    # Dropout: nothing in the window.
    ts = faulty["k"][0]
    assert not ((ts >= dropout.start) & (ts < dropout.end)).any()
    assert clean["k"][0].size - ts.size == 30


def test_random_faults_are_seeded_and_bad_fault_syntax_is_refused() -> None:
    points = room_points(60)
    first = plan_faults(points, [], 6, MONDAY, DAY, seed=9)
    assert first == plan_faults(points, [], 6, MONDAY, DAY, seed=9) != plan_faults(points, [], 6, MONDAY, DAY, seed=8)
    assert all(MONDAY <= f.start < f.end <= MONDAY + DAY for f in first)
    assert not any(f.kind == "drift" and f.point == "o" for f in first)  # a binary point does not drift
    assert parse_fault("drift:room-1-temp@2h+30min") == ("drift", "room-1-temp", "2h", "30min")
    assert parse_fault("dropout") == ("dropout", None, None, None)
    with pytest.raises(ConfigError, match="is not KIND"):
        parse_fault("melt:room-1-temp")
    with pytest.raises(ConfigError, match="no such point"):
        plan_faults(points, [("spike", "nobody", None, None)], 0, MONDAY, DAY, 1)


async def test_a_start_in_the_past_is_backfilled_at_speed_then_runs_live() -> None:
    now = int(time.time() * 1000)
    simulator = Simulator(room_points(10), now - 120_000, seed=1)
    started = time.monotonic()
    seen: list[tuple[float, int]] = []  # (wall seconds, newest reading's time)
    async for batch in paced(simulator, Pace(speed=60, end_ms=now + 1000, tick_s=0.02)):
        seen.append((time.monotonic() - started, max(int(r.timestamp) for r in batch)))
    wall = seen[-1][0]
    assert 1.6 < wall < 4.0  # two simulated minutes at 60x: two seconds, then live for the last one
    assert all(stamp <= now + (t * 1000) + 50 for t, stamp in seen)  # never ahead of the real clock
    assert simulator.emitted == 5 * 12  # every 10 s for two minutes, five points


# --- the transports, end to end ---------------------------------------------------------------------------

COUNT_ALL = "MATCH (p:Point {model: 'b'})-[:HAS_OBSERVATIONS]->(b) RETURN sum(b.count) AS c"


async def test_kgtwin_simulate_over_mqtt_json_lands_in_the_graph_with_its_fault(
    store: GraphStore, broker: Broker, data_dir: Path, tmp_path: Path
) -> None:
    await building_with_sensors(store, tmp_path)
    topic = f"t{uuid.uuid4().hex[:8]}"
    command = (
        "simulate", "--model", "b", "--since", "2h", "--duration", "2h", "--speed", "max", "--interval", "1min",
        "--port", str(broker.port), "--topic", f"{topic}/sim", "--fault", "spike:room-temp@30min",
        "--fault", "dropout:room-co2@1h+10min", "--plan", str(tmp_path / "plan.json"),
    )  # fmt: skip
    env = {"KGTWIN_GRAPH": {"falkordb": "embedded", "neo4j": "local-neo4j"}[store.engine]}
    async with Worker(store, broker, topic, DeadLetterStore(tmp_path / "dl.sqlite"), max_payload_bytes=1_000_000):
        result = await asyncio.get_running_loop().run_in_executor(
            None, lambda: run_cli(*command, env=env, data_dir=data_dir)
        )
        assert result.returncode == 0, result.stderr
        sent = int(result.stdout.strip().splitlines()[-1].split()[0])
        assert await wait_for(store, COUNT_ALL, sent, seconds=60) == sent
    spike, dropout = json.loads((tmp_path / "plan.json").read_text())
    assert spike["kind"] == "spike" and dropout["kind"] == "dropout" and "fault plan (2)" in result.stdout
    points = (await store.run("MATCH (p:Point {model: 'b'}) RETURN count(p) AS c"))[0]["c"]
    assert sent == points * 120 - 10  # a reading a minute for two hours, less the dropout's ten
    rows = await store.run(
        "MATCH (p:Point {pointId: 'room-temp'})-[:HAS_OBSERVATIONS]->(b) RETURN b.ts AS ts, b.values AS v"
    )
    values = {t: v for r in rows for t, v in zip(r["ts"], r["v"], strict=True)}
    assert values[spike["start"]] > max(v for t, v in values.items() if t != spike["start"]) + 10


async def test_sparkplug_edge_nodes_answer_a_rebirth_and_their_data_lands(
    store: GraphStore, broker: Broker, tmp_path: Path
) -> None:
    await sensors_without_a_building(store)
    points = await load_points(store, "b", interval_s=1)
    group = f"g{uuid.uuid4().hex[:6]}"
    paths = sparkplug_paths(points, group, "sim")
    now = int(time.time() * 1000)
    simulator = Simulator(points, now - 20_000, seed=1)
    # The edge node is born before the host listens: the host sees data first and asks for a rebirth.
    edge = asyncio.create_task(
        publish_as_edge_nodes(
            paced(simulator, Pace(speed=20, end_ms=now + 4000)),
            paths,
            {p.key: DataType.Boolean if p.kind == "occupancy" else DataType.Double for p in points},
            {p.key: p.unit for p in points},
            "127.0.0.1",
            broker.port,
            qos=1,
        )
    )
    await asyncio.sleep(1.0)
    mapped = [SourceMapping(path, key) for key, path in paths.items()]
    host = SparkplugHost(await point_names(store, await Registry.load(store), mapped))
    async with Worker(store, broker, f"spBv1.0/{group}", DeadLetterStore(tmp_path / "dl.sqlite"), host):
        sent = await asyncio.wait_for(edge, 60)
        await wait_until(lambda: host.stats.deaths == 1)
    count = (await store.run(COUNT_ALL))[0]["c"]
    assert host.stats.data_before_birth >= 1 and host.stats.rebirths_requested >= 1
    assert host.stats.births >= 2 and host.stats.sequence_gaps == 0
    assert 0 < count <= sent  # what came before the rebirth is dead-lettered, the rest stored
    stale = await store.run("MATCH (p:Point {model: 'b'}) RETURN collect(DISTINCT p.stale) AS s")
    assert stale[0]["s"] == [True]  # the edge node's NDEATH at the end


async def test_the_simulator_serves_its_readings_from_an_opcua_server(store: GraphStore, tmp_path: Path) -> None:
    await sensors_without_a_building(store)
    points = await load_points(store, "b", interval_s=10)
    nodes = opcua_node_ids(points)
    url = endpoint()
    start = int(time.time() * 1000) - 3_600_000
    simulator = Simulator(points, start, seed=2)
    async with PointServer(url, nodes.values()) as server:
        registry = await Registry.load(store)
        async with Pipeline(store, registry, DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
            ingest = OpcUaIngest(
                pipeline, OpcUaSettings(url, publishing_interval_ms=50), [OpcUaMapping(n, k) for k, n in nodes.items()]
            )
            stop, connected = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(ingest.run(stop, connected))
            await asyncio.wait_for(connected.wait(), 20)
            served = await serve_readings(paced(simulator, Pace(speed=None, end_ms=start + 600_000)), server, nodes)
            await wait_until(lambda: ingest.stats.notifications >= served)
            stop.set()
            await task
    assert served == len(points) * 60
    assert await wait_for(store, COUNT_ALL, served) == served


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("simulate", "--fault", "melt:room-temp"), "is not KIND[:POINT][@START[+LENGTH]]"),
        (("ingest", "opcua", "--endpoint", "opc.tcp://plc:4840", "--security", "Basic128,Sign"), "is not one of"),
        (("ingest", "mqtt", "--format", "sparkplug", "--share-group", "w"), "cannot be split over a shared"),
    ],
)
def test_bad_options_are_one_line_errors(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    from tests.test_cli import assert_one_line_error

    assert_one_line_error(run_cli(*args, data_dir=tmp_path), 2, says=says)


def test_bad_settings_are_refused_before_anything_starts(tmp_path: Path) -> None:
    from kgtwin.ingest.mqtt import MqttSettings
    from kgtwin.ingest.simulate import parse_speed

    assert parse_speed("600") == 600 and parse_speed("max") is None
    for text in ("0", "-2", "fast", "inf"):
        with pytest.raises(ConfigError, match="--speed"):
            parse_speed(text)
    with pytest.raises(ConfigError, match=r"must start with opc\.tcp://"):
        OpcUaSettings("http://plc:4840")
    with pytest.raises(ConfigError, match="needs the client's certificate and private key"):
        OpcUaSettings("opc.tcp://plc:4840", security="Basic256Sha256,Sign")
    with pytest.raises(ConfigError, match="is not json, sparkplug or auto"):
        MqttSettings(payload_format="xml")
    assert MqttSettings(share_group="w").filters == ("kgtwin/observations/#",)  # auto: Sparkplug is not shared
