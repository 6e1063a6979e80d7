"""Ingestion benchmark: the raw engine's bucket-append ceiling beside end-to-end ingestion over MQTT and HTTP.

    python bench/ingest.py [--points 1000,10000] [--readings 200000] [--per-message 100] [--per-request 1000]
                           [--connections 16]

For each point count, on the embedded FalkorDB in a temporary data directory:
- ceiling: the same observations, already grouped by point, appended with ingest/append directly;
- MQTT: a publisher process sends JSON arrays (QoS 1) to a local Mosquitto; the worker (pipeline +
  MQTT connector, as `kgtwin ingest mqtt` runs them) writes them; the clock stops when the graph
  holds every reading;
- HTTP: `kgtwin serve` in its own process; a client process posts JSON arrays to POST /ingest over
  --connections connections at once (a fleet of gateways), each request answered once its readings are durable;
- delay: from publish (the publisher writes its clock into each reading's value) to durable and
  queryable, p50 and p99;
- memory: the engine's used_memory growth per stored observation.
The last line is the best end-to-end figure, as `N obs/s`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
from service import free_port, running_service  # bench/service.py (scripts run from bench/ on sys.path)

from kgtwin.api.auth import create_key
from kgtwin.config import Settings
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.mqtt import MqttSettings, run_mqtt
from kgtwin.ingest.observations import Observation, Registry
from kgtwin.ingest.pipeline import IngestSettings, Pipeline, group, slice_columns
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore, local, open_store

# Both clients put their own clock (epoch ms) in each reading's value: the worker's listener then
# knows when every reading was sent. Readings of a point are a millisecond apart, in the past.
MQTT_PUBLISHER = """
import asyncio, sys, time, orjson, aiomqtt
port, points, readings, per_message, offset = map(int, sys.argv[1:6])
async def main():
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-pub", max_inflight_messages=2000) as client:
        sent, base = 0, int(time.time() * 1000) - readings // points - 60_000
        while sent < readings:
            now = time.time() * 1000
            batch = [{"sensor_id": f"p{i % points}", "value": now, "timestamp": base + offset + i // points}
                     for i in range(sent, min(sent + per_message, readings))]
            await client.publish("bench/obs", orjson.dumps(batch), qos=1)
            sent += len(batch)
asyncio.run(main())
"""

HTTP_CLIENT = """
import asyncio, sys, time, orjson, httpx
base, key, points, readings, per_request, offset, connections = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:8])
delays = []
async def main():
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        start = int(time.time() * 1000) - readings // points - 60_000
        chunks = iter(range(0, readings, per_request))
        async def worker():
            for first in chunks:
                now = time.time() * 1000
                batch = [{"sensor_id": f"p{i % points}", "value": now, "timestamp": start + offset + i // points}
                         for i in range(first, min(first + per_request, readings))]
                response = await client.post("/ingest", content=orjson.dumps(batch),
                                             headers={"Authorization": f"Bearer {key}"})
                assert response.status_code == 200 and response.json()["accepted"] == len(batch), response.text
                delays.append(time.time() * 1000 - now)  # answered once durable: publish to queryable
        await asyncio.gather(*(worker() for _ in range(connections)))
asyncio.run(main())
sys.stdout.write(orjson.dumps(delays).decode())
"""


def start_broker(home: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "mosquitto.conf"
    conf.write_text(
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        f"persistence true\npersistence_location {home}/\nmax_inflight_messages 2000\n"
        "max_queued_messages 0\nlog_dest none\n"
    )
    broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return broker, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


async def used_memory(store: GraphStore) -> int:
    return int((await store._db.connection.info("memory"))["used_memory"])  # type: ignore[attr-defined]


async def stored(store: GraphStore) -> int:
    rows = await store.run("MATCH (b:ObservationBucket) RETURN sum(b.count) AS c")
    return int(rows[0]["c"] or 0)


async def ceiling(store: GraphStore, registry: Registry, points: int, readings: int) -> float:
    """Pre-grouped rows straight into the engine (one statement per 2,000 rows)."""
    now = int(time.time() * 1000) - 10 * 60_000
    observations = [Observation(f"p{k % points}", now + k // points, float(k), "good", now) for k in range(readings)]
    columns, _ = group(observations, IngestSettings().bucket_ms, registry)
    began = time.perf_counter()
    for start in range(0, len(columns["points"]), 2000):
        await store.execute("ingest/append", slice_columns(columns, start, start + 2000))
    rate = readings / (time.perf_counter() - began)
    await store.run("MATCH (b:ObservationBucket) DETACH DELETE b", write=True)
    return rate


async def over_mqtt(
    store: GraphStore, registry: Registry, tmp: Path, points: int, readings: int, per_message: int
) -> tuple[float, np.ndarray]:
    broker, port = start_broker(tmp / f"mqtt-{points}")
    delays: list[np.ndarray] = []
    try:
        ingest = IngestSettings()
        async with Pipeline(store, registry, DeadLetterStore(tmp / f"dl-{points}.sqlite"), ingest) as pipeline:
            pipeline.listeners.append(
                lambda written: delays.append(time.time() * 1000 - np.fromiter((o.value for o in written), float))
            )
            stop, connected = asyncio.Event(), asyncio.Event()
            settings = MqttSettings(port=port, topics=("bench/#",), client_id=f"bench-{points}")
            worker = asyncio.create_task(run_mqtt(pipeline, settings, stop, connected))
            await asyncio.wait_for(connected.wait(), 20)
            began = time.perf_counter()
            publisher = await asyncio.create_subprocess_exec(
                sys.executable, "-c", MQTT_PUBLISHER, str(port), str(points), str(readings), str(per_message), "0"
            )
            while pipeline.written < readings:
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - began
            await publisher.wait()
            stop.set()
            await worker
    finally:
        broker.terminate()
        broker.wait()
    return readings / elapsed, np.concatenate(delays)


async def over_http(
    settings: Settings, points: int, readings: int, per_request: int, connections: int
) -> tuple[float, np.ndarray]:
    """`kgtwin serve` and a posting client, each its own process; delays are the requests' round trips."""
    key = create_key(settings.key_file, f"bench-{points}", ["operator"])
    async with running_service(settings.data_dir, "--no-detect") as base:
        store = await open_store(settings)
        try:
            before = await stored(store)
            began = time.perf_counter()
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                HTTP_CLIENT,
                base,
                key,
                str(points),
                str(readings),
                str(per_request),
                str(readings // points + 1),  # after the MQTT run's times: nothing is a duplicate
                str(connections),
                stdout=asyncio.subprocess.PIPE,
            )
            output, _ = await client.communicate()
            assert client.returncode == 0, "the HTTP client failed"
            elapsed = time.perf_counter() - began
            assert await stored(store) - before == readings, "every posted reading is in the graph"
        finally:
            await store.close()
    return readings / elapsed, np.asarray(orjson.loads(output))


async def run(
    points: int, readings: int, per_message: int, per_request: int, connections: int, tmp: Path
) -> dict[str, float]:
    settings = Settings(graph="embedded", data_dir=tmp / f"data-{points}")
    local.start(settings, "falkordb", persistent=True)
    store = await open_store(settings)
    try:
        specs = [PointSpec(id=f"p{i}", brick_class="Temperature_Sensor", unit="degC") for i in range(points)]
        await load_registry(store, specs)
        registry = await Registry.load(store)
        top = await ceiling(store, registry, points, readings)
        memory_before = await used_memory(store)
        mqtt, mqtt_delays = await over_mqtt(store, registry, tmp, points, readings, per_message)
        assert await stored(store) == readings, "every published reading is in the graph"
        memory = (await used_memory(store) - memory_before) / readings
        http, http_delays = await over_http(settings, points, readings, per_request, connections)
        return {
            "ceiling": top,
            "mqtt": mqtt,
            "mqtt_p50": float(np.percentile(mqtt_delays, 50)),
            "mqtt_p99": float(np.percentile(mqtt_delays, 99)),
            "http": http,
            "http_p50": float(np.percentile(http_delays, 50)),
            "http_p99": float(np.percentile(http_delays, 99)),
            "bytes": memory,
        }
    finally:
        await store.close()
        local.stop(settings, "falkordb")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="1000,10000")
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--per-request", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(
        "| points | ceiling obs/s | MQTT obs/s | of ceiling | MQTT p50 / p99 ms | HTTP obs/s | of ceiling | "
        "HTTP p50 / p99 ms | bytes/obs |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    best = 0.0
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-") as tmp:
        for points in (int(p) for p in args.points.split(",")):
            r = await run(points, args.readings, args.per_message, args.per_request, args.connections, Path(tmp))
            best = max(best, r["mqtt"], r["http"])
            print(
                f"| {points:,} | {r['ceiling']:,.0f} | {r['mqtt']:,.0f} | {100 * r['mqtt'] / r['ceiling']:.0f}% | "
                f"{r['mqtt_p50']:,.0f} / {r['mqtt_p99']:,.0f} | {r['http']:,.0f} | "
                f"{100 * r['http'] / r['ceiling']:.0f}% | {r['http_p50']:,.0f} / {r['http_p99']:,.0f} | "
                f"{r['bytes']:.1f} |",
                flush=True,
            )
    print(f"{best:.0f} obs/s")


if __name__ == "__main__":
    asyncio.run(main())
