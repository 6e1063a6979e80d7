"""Connector benchmark: decoding Sparkplug B beside JSON, the simulator's generation rate, and OPC UA
data-change notifications from a local asyncua server, each with its baseline in the same run.

    python bench/connectors.py [--metrics 100] [--messages 2000] [--variables 100] [--seconds 5]

- Sparkplug B: DDATA messages of N metrics by alias, decoded by the host into readings, against the
  JSON batch form of the same readings parsed by the JSON connector (the baseline); bytes per reading.
- simulator: readings/s generated for a 1,000-point building (five kinds of points), against creating the
  same Reading objects with a constant value (the floor of producing the stream at all).
- OPC UA: an asyncua server in its own process writing V variables as fast as it can, our collector
  subscribed (50 ms publishing interval): notifications/s received, against the server's writes/s.
No graph engine is involved: these are the connectors' own costs in front of the pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time

import numpy as np
import orjson
from asyncua import Client, ua

from kgtwin.ingest.observations import Reading
from kgtwin.ingest.opcua import _Collector, _monitored_items
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.simulate import SimPoint, Simulator
from kgtwin.ingest.sparkplug import DataType, EdgeNodeSession, MetricSpec, PointNames, SparkplugHost, parse_topic


def sparkplug_against_json(metrics: int, messages: int) -> None:
    names = [f"m{i}" for i in range(metrics)]
    session = EdgeNodeSession("bench", "edge", {"dev": [MetricSpec(n, DataType.Double, "degC") for n in names]})
    host = SparkplugHost(PointNames({}, [f"bench/edge/dev/{n}" for n in names]))
    births = session.births(1_700_000_000_000)
    for topic, payload in births:
        host.decode(parse_topic(topic), payload)
    rng = np.random.default_rng(1)
    frames = []
    for k in range(messages):
        stamp = 1_700_000_000_000 + k * 1000
        values = [(n, float(v), stamp) for n, v in zip(names, rng.normal(21, 1, metrics), strict=True)]
        topic, payload = session.data("dev", values, stamp)
        as_json = orjson.dumps(
            [{"sensor_id": f"bench/edge/dev/{n}", "value": v, "unit": "degC", "timestamp": t} for n, v, t in values]
        )
        frames.append((parse_topic(topic), payload, as_json))
    started = time.perf_counter()
    decoded = sum(len(host.decode(topic, payload)) for topic, payload, _ in frames)
    sparkplug_s = time.perf_counter() - started
    started = time.perf_counter()
    parsed = sum(len(readings_from_json(as_json)) for _, _, as_json in frames)
    json_s = time.perf_counter() - started
    readings = metrics * messages
    assert decoded == parsed == readings, (decoded, parsed)
    spb_bytes = sum(len(p) for _, p, _ in frames) / readings
    json_bytes = sum(len(j) for _, _, j in frames) / readings
    print(
        f"sparkplug B decode: {readings / sparkplug_s:,.0f} readings/s ({metrics} metrics a message), "
        f"{spb_bytes:.1f} bytes/reading"
    )
    print(f"JSON batch parse (baseline): {readings / json_s:,.0f} readings/s, {json_bytes:.1f} bytes/reading")
    print(f"  ratio sparkplug/json: {json_s / sparkplug_s:.2f}x the rate, {spb_bytes / json_bytes:.2f}x the bytes")


def simulator_rate() -> None:
    kinds = ["air_temperature", "humidity", "co2", "occupancy", "concrete_temperature"]
    points = [SimPoint(f"p{i}", f"p{i}", kinds[i % 5], None, 60.0, f"room-{i // 5}") for i in range(1000)]
    simulator = Simulator(points, 1_767_571_200_000, seed=1)
    started = time.perf_counter()
    readings = simulator.advance(1_767_571_200_000 + 6 * 3_600_000)  # six hours, one a minute each
    took = time.perf_counter() - started
    started = time.perf_counter()
    floor = [Reading(r.point, 21.0, None, r.timestamp, "good") for r in readings]
    floor_s = time.perf_counter() - started
    print(f"simulator: {len(readings) / took:,.0f} readings/s for 1,000 points ({len(readings):,} readings)")
    print(f"  the same Reading objects with a constant value (baseline): {len(floor) / floor_s:,.0f} /s")


SERVER = """
import asyncio, sys, time
from kgtwin.ingest.opcua import PointServer
url, variables, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
async def main():
    nodes = [f"ns=2;s=v{i}" for i in range(variables)]
    async with PointServer(url, nodes) as server:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the server answers while we wait
        writes, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for node in nodes:
                await server.write(node, float(writes), 1_700_000_000_000 + writes)
                writes += 1
            await asyncio.sleep(0)
        print(writes, time.perf_counter() - started, flush=True)
        await asyncio.sleep(2)
asyncio.run(main())
"""


async def opcua_notifications(variables: int, seconds: float) -> None:
    """The server writes in a process of its own, as fast as it can; we count what our subscription gets."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"opc.tcp://127.0.0.1:{s.getsockname()[1]}/bench/"
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, url, str(variables), str(seconds),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert server.stdin and server.stdout
    await server.stdout.readline()
    client = Client(url)
    await client.connect()
    collector = _Collector()
    subscription = await client.create_subscription(50, collector)
    nodes = [ua.NodeId.from_string(f"ns=2;s=v{i}") for i in range(variables)]
    await subscription.create_monitored_items(_monitored_items(nodes, queue_size=1000))
    await asyncio.sleep(0.5)
    collector.buffer.clear()
    server.stdin.write(b"go\n")
    await server.stdin.drain()
    started = time.perf_counter()
    writes, wrote = (await server.stdout.readline()).split()
    await asyncio.sleep(1.5)  # what the server still queues arrives
    received, took = len(collector.buffer), time.perf_counter() - started - 1.5
    await client.disconnect()
    await server.wait()
    print(
        f"OPC UA: {received / took:,.0f} notifications/s received ({variables} variables, 50 ms publishing), "
        f"{received:,} of {int(writes):,} writes"
    )
    print(f"  server writes in its own process (baseline): {int(writes) / float(wrote):,.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--variables", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    sparkplug_against_json(args.metrics, args.messages)
    simulator_rate()
    asyncio.run(opcua_notifications(args.variables, args.seconds))


if __name__ == "__main__":
    main()
