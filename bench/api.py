"""API benchmark: a storey with its elements and their latest values through GraphQL, at 1, 10 and 50
concurrent clients, beside the raw Cypher of the same data in the same run.

    python bench/api.py [--storeys 10] [--rooms 100] [--seconds 10] [--clients 1,10,50]

On the embedded FalkorDB in a temporary data directory: a generated building (10 x 100 rooms is
about 10k elements) is loaded, every sensor gets a reading, then `kgtwin serve` runs as its own
process and an httpx client process-local to this script sends the query from N concurrent tasks
for a fixed time. The raw baseline runs the statements the API sends for that query (read from the
API's own batched reader) directly on the engine, one after another, in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from service import running_service  # bench/service.py (scripts run from bench/ on sys.path)

from kgtwin.api.auth import Principal, create_key
from kgtwin.api.graphql.loaders import Filters, GraphReader
from kgtwin.config import Settings
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Reading, Registry
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.store import local, open_store

QUERY = """
query Storey($uid: ID!) {
  node(uid: $uid) {
    ... on Storey {
      name
      elements(first: 200) {
        totalCount
        nodes { globalId name ifcClass status boundValues { property value time } }
      }
      points(first: 100) { nodes { pointId brickClass lastValue lastTime lastQuality } }
    }
  }
}
"""


async def prepare(settings: Settings, storeys: int, rooms: int) -> list[str]:
    model = settings.data_dir / "bench.ifc"
    write_sample(model, SampleSpec(storeys=storeys, spaces_per_storey=rooms))
    store = await open_store(settings)
    try:
        result = await load_ifc(store, model, model="bench")
        print(f"model: {result.read.graph.count('Element')} elements, {result.read.graph.count('Point')} points")
        registry = await Registry.load(store)
        now = int(time.time() * 1000)
        readings = [Reading(uid, 20 + random.random(), None, now - 1000) for uid in registry.points]
        async with Pipeline(store, registry, DeadLetterStore(settings.data_dir / "dl.sqlite")) as pipeline:
            outcome = await pipeline.submit_readings("bench", "bench", readings)
            await outcome.durable
        rows = await store.run("MATCH (s:Storey {model: 'bench'}) RETURN s.uid AS uid ORDER BY uid")
        return [r["uid"] for r in rows]
    finally:
        await store.close()


async def raw_baseline(settings: Settings, storeys: list[str], seconds: float) -> tuple[list[float], int]:
    """The statements the API's reader sends for the query, run directly, one request's worth at a time."""
    store = await open_store(settings)
    principal = Principal("bench", frozenset({"admin"}))
    latencies, trips = [], 0
    try:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            uid = random.choice(storeys)
            began = time.perf_counter()
            reader = GraphReader(store, principal)
            await reader.node("Storey", uid)
            elements = await reader.located("Element", "storey", uid, Filters(), 200, None)
            await reader.located("Point", "storey", uid, Filters(), 100, None)
            await asyncio.gather(
                *(
                    reader.related("Element", "HAS_POINT", "Point", e["props"]["uid"], first=1000)
                    for e in elements.items
                )
            )
            latencies.append(time.perf_counter() - began)
            trips = reader.round_trips
    finally:
        await store.close()
    return latencies, trips


async def load(base: str, key: str, storeys: list[str], clients: int, seconds: float) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    trips: list[int] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        headers = {"Authorization": f"Bearer {key}"}
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                response = await client.post(
                    "/graphql", json={"query": QUERY, "variables": {"uid": random.choice(storeys)}}, headers=headers
                )
                body = response.json()
                if response.status_code != 200 or "errors" in body:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - began)
                trips.append(body["extensions"]["roundTrips"])

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, (max(trips) if trips else 0), errors


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storeys", type=int, default=10)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", default="1,10,50")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-api-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        local.start(settings, "falkordb", persistent=True)
        try:
            storeys = await prepare(settings, args.storeys, args.rooms)
            key = create_key(settings.key_file, "bench", ["viewer"])
            async with running_service(settings.data_dir, "--no-ingest") as base:
                await run_clients(base, key, settings, storeys, args)
        finally:
            local.stop(settings, "falkordb")


async def run_clients(base: str, key: str, settings: Settings, storeys: list[str], args: argparse.Namespace) -> None:
    await load(base, key, storeys, 1, 2)  # warm up: the engine plans the statements once
    raw, raw_trips = await raw_baseline(settings, storeys, args.seconds)
    raw_p50 = ms(raw, 50)
    print(
        f"raw Cypher (same statements, sequential): {len(raw) / args.seconds:.1f} req/s, "
        f"p50 {raw_p50:.2f} ms, p99 {ms(raw, 99):.2f} ms, {raw_trips} statements per request"
    )
    print("| clients | requests/s | p50 ms | p99 ms | round trips | p50 / raw p50 | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for clients in (int(c) for c in args.clients.split(",")):
        latencies, trips, errors = await load(base, key, storeys, clients, args.seconds)
        print(
            f"| {clients} | {len(latencies) / args.seconds:.1f} | {ms(latencies, 50):.2f} | "
            f"{ms(latencies, 99):.2f} | {trips} | {ms(latencies, 50) / raw_p50:.2f} | {errors} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
