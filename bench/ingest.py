"""Ingestion benchmark: the raw engine's bucket-append ceiling beside end-to-end MQTT ingestion.

    python bench/ingest.py [--points 1000,10000] [--readings 100000] [--per-message 100]

For each point count, on the embedded FalkorDB in a temporary data directory:
- ceiling: the same observations, already grouped by point, appended with ingest/append directly;
- end to end: a publisher process sends JSON batches (QoS 1) to a local Mosquitto; the worker
  (pipeline + MQTT connector, as `kgtwin ingest mqtt` runs them) writes them; the clock stops
  when the graph holds every reading. Delay is arrival at the worker to durable-and-queryable;
- memory: the engine's used_memory growth per stored observation.
HTTP ingestion is not measured yet (the HTTP endpoint comes with the API).
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

from kgtwin.config import Settings
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.mqtt import MqttSettings, run_mqtt
from kgtwin.ingest.observations import Observation, Registry
from kgtwin.ingest.pipeline import IngestSettings, Pipeline, group, slice_columns
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore, local, open_store

PUBLISHER = """
import asyncio, sys, time, orjson, aiomqtt
port, points, readings, per_message = map(int, sys.argv[1:5])
async def main():
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-pub", max_inflight_messages=1000) as client:
        sent, base = 0, int(time.time() * 1000) - readings // points - 60_000  # unique, past times per point
        while sent < readings:
            batch = [{"sensor_id": f"p{i % points}", "value": float(i), "timestamp": base + i // points}
                     for i in range(sent, min(sent + per_message, readings))]
            await client.publish("bench/obs", orjson.dumps(batch), qos=1)
            sent += len(batch)
asyncio.run(main())
"""


def start_broker(home: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "mosquitto.conf"
    conf.write_text(
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        f"persistence true\npersistence_location {home}/\nmax_inflight_messages 1000\n"
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


async def run(points: int, readings: int, per_message: int, tmp: Path) -> dict[str, float]:
    settings = Settings(graph="embedded", data_dir=tmp / f"data-{points}")
    store = await open_store(settings)
    try:
        specs = [PointSpec(id=f"p{i}", brick_class="Temperature_Sensor", unit="degC") for i in range(points)]
        await load_registry(store, specs)
        registry = await Registry.load(store)
        ingest = IngestSettings()

        # Ceiling: pre-grouped rows straight into the engine (one statement per 2,000 rows).
        now = int(time.time() * 1000) - 10 * 60_000
        observations = [
            Observation(f"p{k % points}", now + k // points, float(k), "good", now) for k in range(readings)
        ]
        columns, _ = group(observations, ingest.bucket_ms, registry)
        began = time.perf_counter()
        for start in range(0, len(columns["points"]), 2000):
            await store.execute("ingest/append", slice_columns(columns, start, start + 2000))
        ceiling = readings / (time.perf_counter() - began)
        await store.run("MATCH (b:ObservationBucket) DETACH DELETE b", write=True)
        memory_before = await used_memory(store)

        broker, port = start_broker(tmp / f"mqtt-{points}")
        delays: list[np.ndarray] = []
        try:
            async with Pipeline(store, registry, DeadLetterStore(tmp / f"dl-{points}.sqlite"), ingest) as pipeline:
                pipeline.listeners.append(
                    lambda written: delays.append(time.time() * 1000 - np.fromiter((o.arrived for o in written), float))
                )
                stop, connected = asyncio.Event(), asyncio.Event()
                worker = asyncio.create_task(
                    run_mqtt(
                        pipeline,
                        MqttSettings(port=port, topics=("bench/#",), client_id=f"bench-{points}"),
                        stop,
                        connected,
                    )
                )
                await asyncio.wait_for(connected.wait(), 20)
                began = time.perf_counter()
                publisher = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", PUBLISHER, str(port), str(points), str(readings), str(per_message)
                )
                while pipeline.written < readings:
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - began
                await publisher.wait()
                stop.set()
                await worker
            assert await stored(store) == readings, "every published reading is in the graph"
        finally:
            broker.terminate()
            broker.wait()
        memory = (await used_memory(store) - memory_before) / readings
        all_delays = np.concatenate(delays)
        return {
            "ceiling": ceiling,
            "mqtt": readings / elapsed,
            "p50": float(np.percentile(all_delays, 50)),
            "p99": float(np.percentile(all_delays, 99)),
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
    args = parser.parse_args()
    print(
        f"{'points':>7}{'ceiling obs/s':>15}{'mqtt obs/s':>12}{'of ceiling':>11}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'bytes/obs':>11}"
    )
    best = 0.0
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-") as tmp:
        for points in (int(p) for p in args.points.split(",")):
            r = await run(points, args.readings, args.per_message, Path(tmp))
            best = max(best, r["mqtt"])
            print(
                f"{points:>7}{r['ceiling']:>15,.0f}{r['mqtt']:>12,.0f}{100 * r['mqtt'] / r['ceiling']:>10.0f}%"
                f"{r['p50']:>9.0f}{r['p99']:>9.0f}{r['bytes']:>11.1f}",
                flush=True,
            )
    print(f"{best:.0f} obs/s")


if __name__ == "__main__":
    asyncio.run(main())
