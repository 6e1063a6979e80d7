"""Sparkplug B over a real Mosquitto into both engines: births teach aliases, data lands on the points the
registry maps to group/edge node/device/metric, deaths mark points stale, and every protocol fault
(malformed protobuf, unknown alias, data before birth, sequence gap) is reported, dead-lettered and
answered with a rebirth request."""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from pathlib import Path

import aiomqtt
import pytest

from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.mqtt import letter_parser
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.sparkplug import (
    DataType,
    EdgeNodeSession,
    MetricSpec,
    PointNames,
    SparkplugHost,
    is_rebirth_command,
    parse_topic,
    point_names,
)
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore
from tests.conftest import Broker
from tests.ingest.test_mqtt import Worker, building_with_sensors, wait_for

COUNT = "MATCH (p:Point {uid: $p})-[:HAS_OBSERVATIONS]->(b) RETURN sum(b.count) AS c"


# --- the schema against the specification's field numbers, byte by byte ----------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | float | bytes | str, wire: str = "varint") -> bytes:
    kinds = {"varint": 0, "double": 1, "bytes": 2, "float": 5}
    key = _varint(number << 3 | kinds[wire])
    if wire == "varint":
        return key + _varint(int(value))  # type: ignore[arg-type]
    if wire == "double":
        return key + struct.pack("<d", value)
    if wire == "float":
        return key + struct.pack("<f", value)
    data = value.encode() if isinstance(value, str) else value
    return key + _varint(len(data)) + data  # type: ignore[arg-type]


def test_payloads_written_by_hand_from_the_specification_decode() -> None:
    # Payload: timestamp 1, metrics 2, seq 3. Metric: name 1, alias 2, timestamp 3, datatype 4,
    # is_null 7, properties 9 (keys 1, values 2: type 1, string_value 8), int_value 10, long_value 11,
    # float_value 12, double_value 13, boolean_value 14, string_value 15.
    unit = _field(1, "engUnit", "bytes") + _field(2, _field(1, DataType.String) + _field(8, "degF", "bytes"), "bytes")
    metrics = [
        _field(1, "Inputs/Temp", "bytes")
        + _field(2, 5)
        + _field(3, 1_700_000_000_500)
        + _field(4, DataType.Double)
        + _field(9, unit, "bytes")
        + _field(13, 70.7, "double"),
        _field(1, "Offset", "bytes") + _field(2, 6) + _field(4, DataType.Int8) + _field(10, 0xFFFFFFFE),
        _field(1, "Count", "bytes") + _field(2, 7) + _field(4, DataType.Int64) + _field(11, (1 << 64) - 3),
        _field(1, "Ratio", "bytes") + _field(2, 8) + _field(4, DataType.Float) + _field(12, 0.5, "float"),
        _field(1, "Open", "bytes") + _field(2, 9) + _field(4, DataType.Boolean) + _field(14, 1),
        _field(1, "Spare", "bytes") + _field(2, 10) + _field(4, DataType.Double) + _field(7, 1),
        _field(1, "Label", "bytes") + _field(2, 11) + _field(4, DataType.String) + _field(15, "x", "bytes"),
    ]
    birth = _field(1, 1_700_000_000_000) + b"".join(_field(2, m, "bytes") for m in metrics) + _field(3, 1)
    names = ["g/edge/dev/Inputs/Temp", "g/edge/dev/Offset", "g/edge/dev/Count", "g/edge/dev/Ratio", "g/edge/dev/Open"]
    host = SparkplugHost(PointNames({"g/edge/dev/Label": "label-point"}, [*names, "g/edge/dev/Spare"]))
    host.decode(parse_topic("spBv1.0/g/NBIRTH/edge"), _field(1, 1) + _field(3, 0))
    readings = host.decode(parse_topic("spBv1.0/g/DBIRTH/edge/dev"), birth)
    assert [(r.point, r.value, r.unit, r.timestamp) for r in readings[:-1]] == [
        (names[0], 70.7, "degF", 1_700_000_000_500),
        (names[1], -2, None, 1_700_000_000_000),  # payload time when the metric has none
        (names[2], -3, None, 1_700_000_000_000),
        (names[3], 0.5, None, 1_700_000_000_000),
        (names[4], True, None, 1_700_000_000_000),
    ]  # Spare is null: no reading
    assert readings[-1] == "metrics of g/edge/dev mapped to points are not numbers: 'Label' (String)"
    data = _field(1, 1_700_000_001_000) + _field(2, _field(2, 5) + _field(13, 71.6, "double"), "bytes") + _field(3, 2)
    (reading,) = host.decode(parse_topic("spBv1.0/g/DDATA/edge/dev"), data)
    assert (reading.point, reading.value, reading.unit, reading.timestamp) == (
        names[0],
        71.6,
        "degF",
        1_700_000_001_000,
    )
    assert host.stats.sequence_gaps == 0 and host.stats.rebirths_requested == 0


# --- over the broker, into the graph ----------------------------------------------------------------------


class EdgeNode:
    """A hand-driven edge node publishing over the real broker (QoS 1, so every message is acknowledged)."""

    def __init__(self, broker: Broker, group: str, session: EdgeNodeSession) -> None:
        self.broker, self.group, self.session = broker, group, session

    async def publish(self, *messages: tuple[str, bytes]) -> None:
        async with aiomqtt.Client("127.0.0.1", self.broker.port, identifier=f"edge-{uuid.uuid4().hex[:8]}") as c:
            for topic, payload in messages:
                await c.publish(topic, payload, qos=1)


def ahu(group: str) -> EdgeNodeSession:
    return EdgeNodeSession(
        group,
        "ahu-1",
        {
            None: [MetricSpec("Uptime", DataType.Int64)],  # mapped to no point: counted, not stored
            "sensors": [MetricSpec("SAT", DataType.Double, "degF")],
            "fan": [MetricSpec("speed", DataType.Float, "percent")],
        },
        bd_seq=1,
    )


async def declare_ahu_points(
    store: GraphStore, tmp_path: Path, group: str, *, in_a_building: bool = True
) -> tuple[str, str, str | None]:
    """The AHU's points, its supply air temperature bound to a room of a building when asked for;
    returns (sat, fan, room uid)."""
    room = (await building_with_sensors(store, tmp_path))[1] if in_a_building else None
    specs = [
        PointSpec(
            id="ahu1-sat",
            brick_class="Supply_Air_Temperature_Sensor",
            unit="degC",
            sparkplug=f"{group}/ahu-1/sensors/SAT",
            model="b",
            space=room.split(":", 1)[1] if room else None,
            property="supplyAirTemperature" if room else None,
        ),
        PointSpec(id=f"{group}/ahu-1/fan/speed", brick_class="Speed_Sensor", unit="percent"),  # the path is its id
    ]
    result = await load_registry(store, specs)
    assert result.bound == (1 if room else 0) and not result.problems
    return "ahu1-sat", f"{group}/ahu-1/fan/speed", room


async def test_births_and_data_by_alias_land_on_mapped_points_and_deaths_mark_them_stale(
    store: GraphStore, broker: Broker, tmp_path: Path
) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    sat, fan, room = await declare_ahu_points(store, tmp_path, group)
    edge = EdgeNode(broker, group, ahu(group))
    base = (int(time.time()) - 600) * 1000
    births = edge.session.births(base - 1000)
    data = [
        edge.session.data("sensors", [("SAT", 59.0 + i * 0.9, base + i * 1000)], base + i * 1000) for i in range(20)
    ] + [edge.session.data("fan", [("speed", 40.0 + i, base + i * 1000)], base + i * 1000) for i in range(20)]
    host = SparkplugHost(await point_names(store, await Registry.load(store)))
    async with Worker(store, broker, f"spBv1.0/{group}", DeadLetterStore(tmp_path / "dl.sqlite"), host):
        await edge.publish(*births, *data)
        assert await wait_for(store, COUNT, 20, {"p": sat}) == 20
        assert await wait_for(store, COUNT, 20, {"p": fan}) == 20
        rows = await store.run(
            "MATCH (p:Point)-[:HAS_OBSERVATIONS]->(b) WHERE p.uid IN $ps "
            "RETURN p.uid AS point, b.start AS start, b.ts AS ts, b.values AS v ORDER BY point, start",
            {"ps": [sat, fan]},
        )
        sat_values = [v for r in rows if r["point"] == sat for v in r["v"]]
        assert sat_values == pytest.approx([(59.0 + i * 0.9 - 32) / 1.8 for i in range(20)])  # °F in, °C stored
        assert [t for r in rows if r["point"] == sat for t in r["ts"]] == [base + i * 1000 for i in range(20)]
        assert [v for r in rows if r["point"] == fan for v in r["v"]] == pytest.approx([40.0 + i for i in range(20)])
        bound = (await store.run("MATCH (s:Space {uid: $u}) RETURN properties(s) AS p", {"u": room}))[0]["p"]
        assert bound["supplyAirTemperature"] == pytest.approx((59.0 + 19 * 0.9 - 32) / 1.8)  # in the point's unit
        assert host.stats.births == 3 and host.stats.unmapped_metrics >= 1 and host.stats.sequence_gaps == 0

        await edge.publish(edge.session.death())  # the node goes offline: every point under it is stale
        stale = "MATCH (p:Point) WHERE p.uid IN $ps RETURN collect(p.stale) AS c"
        assert await wait_for(store, stale, [True, True], {"ps": [sat, fan]}) == [True, True]
        # Back online: births again, then data; new data clears the mark.
        later = base + 60_000
        await edge.publish(*edge.session.births(later), edge.session.data("fan", [("speed", 55.0, later)], later))
        assert await wait_for(store, "MATCH (p:Point {uid: $p}) RETURN p.stale AS c", False, {"p": fan}) is False
    assert host.stats.deaths == 1 and host.stats.sequence_gaps == 0 and host.stats.rebirths_requested == 0


async def listen_for_rebirths(broker: Broker, group: str, got: list[bytes], ready: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"l-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"spBv1.0/{group}/NCMD/#")
        ready.set()
        async for message in client.messages:
            got.append(bytes(message.payload))  # type: ignore[arg-type]


async def test_protocol_faults_are_reported_dead_lettered_and_answered_with_a_rebirth_request(
    store: GraphStore, broker: Broker, tmp_path: Path
) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    sat, fan, _ = await declare_ahu_points(store, tmp_path, group, in_a_building=False)
    session = ahu(group)
    edge = EdgeNode(broker, group, session)
    base = (int(time.time()) - 600) * 1000
    commands: list[bytes] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(listen_for_rebirths(broker, group, commands, ready))
    await asyncio.wait_for(ready.wait(), 10)
    deadletters = DeadLetterStore(tmp_path / "dl.sqlite")
    host = SparkplugHost(await point_names(store, await Registry.load(store)), rebirth_interval_s=0)
    try:
        async with Worker(store, broker, f"spBv1.0/{group}", deadletters, host):
            # Data before any birth: by alias, so nothing says what it is.
            await edge.publish(session.data("fan", [("speed", 1.0, base)], base))
            await wait_until(lambda: host.stats.data_before_birth == 1 and commands)
            births = session.births(base)  # they carry the current values, 1.0 among them
            await edge.publish(*births, session.data("fan", [("speed", 2.0, base + 1000)], base + 1000))
            assert await wait_for(store, COUNT, 2, {"p": fan}) == 2
            # A sequence gap: one message lost on the way. Its data still counts; a rebirth is asked for.
            session.data("fan", [("speed", 3.0, base + 2000)], base + 2000)  # never published
            await edge.publish(session.data("fan", [("speed", 4.0, base + 3000)], base + 3000))
            assert await wait_for(store, COUNT, 3, {"p": fan}) == 3
            await wait_until(lambda: host.stats.sequence_gaps == 1 and len(commands) == 2)
            # An alias no birth declared, a payload that is not protobuf, a DATA without a sequence number.
            topic, payload = session.data("fan", [("speed", 5.0, base + 4000)], base + 4000)
            stray = payload.replace(bytes([0x10, session.aliases[("fan", "speed")]]), bytes([0x10, 99]))
            await edge.publish(
                (topic, stray),
                (topic, b"\xff\xff\xff\xff"),
                (topic, b"\x08\x01"),  # timestamp only
                session.data("sensors", [("SAT", 68.0, base + 5000)], base + 5000),
            )
            await wait_until(lambda: deadletters.count() == 4)
            assert await wait_for(store, COUNT, 1, {"p": sat}) == 1
            # An NDEATH left over from an earlier connection (another bdSeq) does not kill the live node.
            await edge.publish(EdgeNodeSession(group, "ahu-1", {}, bd_seq=0).death())
            await wait_until(lambda: host.stats.ignored_deaths == 1)
            assert (await store.run("MATCH (p:Point {uid: $p}) RETURN p.stale AS s", {"p": fan}))[0]["s"] is False
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    reasons = [d.reason for d in deadletters.list()]
    assert reasons[0].startswith(f"unknown alias 3 in DDATA from {group}/ahu-1/fan (no birth declared them")
    assert "unknown alias 99 in DDATA" in reasons[1]
    assert reasons[2] == "malformed Sparkplug B payload (not a protobuf Payload message)"
    assert reasons[3] == "DDATA without a sequence number from 0 to 255"
    assert all(d.source == "sparkplug" and d.topic == topic for d in deadletters.list())
    assert all(is_rebirth_command(c) for c in commands) and len(commands) == 3
    assert host.stats.data_before_birth == 1 and host.stats.sequence_gaps == 1 and host.stats.unknown_aliases == 2
    # `kgtwin deadletter replay` reads such letters as Sparkplug B again: what no birth declared stays unknown.
    again = SparkplugHost(await point_names(store, await Registry.load(store)))
    letter = deadletters.list()[1]
    assert letter_parser(letter.topic, letter.payload, again)(letter.payload)[-1] == letter.reason


async def wait_until(condition, seconds: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
