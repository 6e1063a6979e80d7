"""OPC UA from a real asyncua server into both engines: data changes land with their source timestamps
and status codes as quality, a server that restarts mid-stream is reconnected to and re-subscribed,
and the security settings (Basic256Sha256 with client certificates, user names) are honoured."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
import uuid
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.history import bucket_quality
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.opcua import (
    APPLICATION_URI,
    NodeMapping,
    OpcUaError,
    OpcUaIngest,
    OpcUaSettings,
    PointServer,
    ServerSecurity,
    mappings_from_graph,
    read_mapping_file,
)
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore
from tests.ingest.test_mqtt import building_with_sensors, sensors_without_a_building, wait_for
from tests.ingest.test_sparkplug import wait_until

RPM, ROOM = "ns=2;s=Fan.RPM", "ns=2;s=Room.Temperature"
COUNT = "MATCH (p:Point {pointId: $p})-[:HAS_OBSERVATIONS]->(b) RETURN sum(b.count) AS c"
SERIES = (
    "MATCH (p:Point {pointId: $p})-[:HAS_OBSERVATIONS]->(b) "
    "RETURN b.start AS start, b.kind AS kind, b.ts AS ts, b.values AS v, b.quality AS quality ORDER BY start"
)


def endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"opc.tcp://127.0.0.1:{s.getsockname()[1]}/kgtwin/"


async def fan_and_room(
    store: GraphStore, tmp_path: Path, *, in_a_building: bool = True
) -> tuple[list[NodeMapping], str | None]:
    """A fan speed point named by its registry entry, and a room temperature named by a mapping file (bound
    to a room of a building when asked for)."""
    if in_a_building:
        _, room = await building_with_sensors(store, tmp_path)
    else:
        room = None
        await sensors_without_a_building(store)
    await load_registry(store, [PointSpec(id="fan-rpm", brick_class="Speed_Sensor", unit="rpm", opcua=RPM)])
    mapping_file = tmp_path / "opcua.yaml"
    mapping_file.write_text(f'mappings:\n  "{ROOM}": {{point: room-temp, unit: degF}}\n')
    _, from_file = read_mapping_file(mapping_file)
    return await mappings_from_graph(store) + from_file, room


class Ingest:
    """`kgtwin ingest opcua` inside the test's event loop."""

    def __init__(self, store: GraphStore, settings: OpcUaSettings, mappings: list[NodeMapping], dl: Path) -> None:
        self.store, self.settings, self.mappings = store, settings, mappings
        self.deadletters = DeadLetterStore(dl)
        self.stop, self.connected = asyncio.Event(), asyncio.Event()

    async def __aenter__(self) -> Ingest:
        self.pipeline = await Pipeline(self.store, await Registry.load(self.store), self.deadletters).__aenter__()
        self.ingest = OpcUaIngest(self.pipeline, self.settings, self.mappings)
        self.stats = self.ingest.stats
        self.task = asyncio.create_task(self.ingest.run(self.stop, self.connected))
        done, _ = await asyncio.wait(
            {self.task, asyncio.create_task(self.connected.wait())}, timeout=20, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            self.task.result()
        assert self.connected.is_set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        await self.pipeline.__aexit__()


def flat(rows: list[dict], key: str) -> list:  # type: ignore[type-arg]
    return list(itertools.chain.from_iterable(r[key] for r in rows))


async def test_data_changes_land_with_source_timestamps_and_status_codes_as_quality(
    store: GraphStore, tmp_path: Path
) -> None:
    mappings, room = await fan_and_room(store, tmp_path)
    url = endpoint()
    base = (int(time.time()) - 600) * 1000
    quality = "MATCH (p:Point {pointId: $p}) RETURN p.lastQuality AS c"
    async with (
        PointServer(url, [RPM, ROOM]) as server,
        Ingest(store, OpcUaSettings(url, publishing_interval_ms=50), mappings, tmp_path / "dl.sqlite") as ingest,
    ):
        for i in range(10):
            await server.write(RPM, 1000.0 + i, base + i * 1000)
        await server.write(RPM, 1200.0, base + 10_000, ua.StatusCodes.UncertainLastUsableValue)
        for i in range(5):
            await server.write(ROOM, 68.0 + i, base + i * 1000)  # °F on the wire, °C on the point
        assert await wait_for(store, COUNT, 11, {"p": "fan-rpm"}) == 11
        # A Bad status comes without a value (OPC UA says so): no observation, but the point's quality.
        await server.write(RPM, None, base + 11_000, ua.StatusCodes.BadSensorFailure)
        assert await wait_for(store, quality, "bad:BadSensorFailure", {"p": "fan-rpm"}) == "bad:BadSensorFailure"
        before = int(time.time() * 1000)
        await server.write(RPM, 1100.0, None)  # no source timestamp: the server's counts
        assert await wait_for(store, COUNT, 12, {"p": "fan-rpm"}) == 12
        assert await wait_for(store, COUNT, 5, {"p": "room-temp"}) == 5
    rows = await store.run(SERIES, {"p": "fan-rpm"})
    ts, values = flat(rows, "ts"), flat(rows, "v")
    assert values == [1000.0 + i for i in range(10)] + [1200.0, 1100.0]
    assert ts[:11] == [base + i * 1000 for i in range(11)] and before <= ts[11] <= int(time.time() * 1000)
    qualities = [q for row in rows for q in bucket_quality(row)]
    assert qualities == ["good"] * 10 + ["uncertain:UncertainLastUsableValue", "good"]
    # Stored: the bucket that took the uncertain reading lists every reading's quality; an all-good one none.
    uncertain = next(row for row in rows if base + 10_000 in row["ts"])
    assert len(uncertain["quality"]) == len(uncertain["ts"])
    assert uncertain["quality"][uncertain["ts"].index(base + 10_000)] == "uncertain:UncertainLastUsableValue"
    assert (await store.run(quality, {"p": "fan-rpm"}))[0]["c"] == "good"
    room_rows = await store.run(SERIES, {"p": "room-temp"})
    assert flat(room_rows, "v") == pytest.approx([(68.0 + i - 32) / 1.8 for i in range(5)])
    assert all(row["quality"] == [] for row in room_rows)
    bound = (await store.run("MATCH (s:Space {uid: $u}) RETURN properties(s) AS p", {"u": room}))[0]["p"]
    assert bound["airTemperature"] == pytest.approx(72.0) and bound["airTemperature.time"] == base + 4000
    assert ingest.deadletters.count() == 0
    assert ingest.stats.notifications == 18 and ingest.stats.without_value == 1


async def test_a_server_restart_is_reconnected_and_nothing_received_is_lost(store: GraphStore, tmp_path: Path) -> None:
    mappings, _ = await fan_and_room(store, tmp_path, in_a_building=False)
    url = endpoint()
    base = (int(time.time()) - 600) * 1000
    settings = OpcUaSettings(url, publishing_interval_ms=50, reconnect_max_delay_s=0.5)
    server = await PointServer(url, [RPM, ROOM]).start()
    written = 0
    async with Ingest(store, settings, mappings, tmp_path / "dl.sqlite") as ingest:
        for _ in range(20):
            await server.write(RPM, float(written), base + written * 1000)
            written += 1
        assert await wait_for(store, COUNT, 20, {"p": "fan-rpm"}) == 20
        await server.stop()  # the server goes away mid-stream...
        stale = "MATCH (p:Point {pointId: 'fan-rpm'}) RETURN p.stale AS c"
        assert await wait_for(store, stale, True) is True
        server = await PointServer(url, [RPM, ROOM]).start()  # ...and comes back on the same port
        deadline = time.monotonic() + 30
        while ingest.stats.notifications <= 20:  # until the re-created subscription delivers
            assert time.monotonic() < deadline, "no data after the server came back"
            await server.write(RPM, float(written), base + written * 1000)
            written += 1
            await asyncio.sleep(0.1)
        for _ in range(20):
            await server.write(RPM, float(written), base + written * 1000)
            written += 1
        await wait_until(lambda: ingest.stats.notifications >= 41 and ingest.pipeline.queue_depth == 0)
        assert await wait_for(store, COUNT, ingest.stats.notifications, {"p": "fan-rpm"})
        assert (await store.run(stale))[0]["c"] is False  # fresh data cleared the mark
    await server.stop()
    assert ingest.stats.lost == 1
    rows = await store.run(SERIES, {"p": "fan-rpm"})
    ts, values = flat(rows, "ts"), flat(rows, "v")
    assert len(ts) == len(set(ts)) == ingest.stats.notifications  # every reading received, exactly once
    assert values[:20] == [float(i) for i in range(20)] and values[-20:] == [
        float(i) for i in range(written - 20, written)
    ]
    assert all(t == base + int(v) * 1000 for t, v in zip(ts, values, strict=True))


def certificate(folder: Path, name: str, uri: str, usage: x509.ObjectIdentifier) -> tuple[Path, Path]:
    key = cert_gen.generate_private_key()
    names = [x509.UniformResourceIdentifier(uri), x509.DNSName("localhost")]
    cert = cert_gen.generate_self_signed_app_certificate(key, name, {}, names, extended=[usage])
    from cryptography.hazmat.primitives.serialization import Encoding

    (folder / f"{name}.der").write_bytes(cert.public_bytes(Encoding.DER))
    (folder / f"{name}.pem").write_bytes(cert_gen.dump_private_key_as_pem(key))
    return folder / f"{name}.der", folder / f"{name}.pem"


async def test_basic256sha256_with_a_client_certificate_and_a_user_name(
    falkordb_store: GraphStore, tmp_path: Path
) -> None:
    store = falkordb_store
    await store.run("MATCH (n) DETACH DELETE n", write=True)
    mappings, _ = await fan_and_room(store, tmp_path, in_a_building=False)
    url = endpoint()
    server_cert, server_key = certificate(tmp_path, "server", APPLICATION_URI, ExtendedKeyUsageOID.SERVER_AUTH)
    client_cert, client_key = certificate(
        tmp_path, "client", f"urn:kgtwin:ingest:{uuid.uuid4().hex[:6]}", ExtendedKeyUsageOID.CLIENT_AUTH
    )
    secure = ServerSecurity(server_cert, server_key, modes=("Basic256Sha256,SignAndEncrypt",))
    base = (int(time.time()) - 600) * 1000
    async with PointServer(url, [RPM, ROOM], security=secure, users={"ingest": "s3cret"}) as server:
        settings = OpcUaSettings(
            url,
            security="Basic256Sha256,SignAndEncrypt",
            certificate=client_cert,
            private_key=client_key,
            username="ingest",
            password="s3cret",
            publishing_interval_ms=50,
        )
        async with Ingest(store, settings, mappings, tmp_path / "dl.sqlite"):
            for i in range(5):
                await server.write(RPM, 900.0 + i, base + i * 1000)
            assert await wait_for(store, COUNT, 5, {"p": "fan-rpm"}) == 5
        refused = [
            (
                OpcUaSettings(
                    url,
                    security="Basic256Sha256,SignAndEncrypt",
                    certificate=client_cert,
                    private_key=client_key,
                    username="ingest",
                    password="wrong",
                ),
                "BadUserAccessDenied",
            ),
            (OpcUaSettings(url, username="ingest", password="s3cret"), "offers no endpoint with security None"),
        ]
        for wrong, says in refused:
            with pytest.raises(OpcUaError, match=says):
                async with Ingest(store, wrong, mappings, tmp_path / "dl2.sqlite"):
                    pass
