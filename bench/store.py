"""Store benchmark: batched UNWIND write throughput and point-lookup latency on both engines, in one run.

    python bench/store.py [--nodes 50000] [--batch 5000] [--lookups 2000]

Each engine is a local server started by kgtwin in a temporary data directory (FalkorDB
embedded; Neo4j 5.26 from Maven Central, skipped with KGTWIN_SKIP_NEO4J=1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from kgtwin.config import Settings
from kgtwin.model.schema import INDEXES
from kgtwin.store import GraphStore, local, open_store

WRITE = (
    "UNWIND $rows AS r CREATE (e:Element {uid: r.uid, model: 'bench', globalId: r.gid, name: r.name, "
    "ifcClass: 'IfcWall', status: 'planned', `pset.Pset_WallCommon.IsExternal`: r.ext, height: r.h})"
)
LOOKUP = "MATCH (e:Element {uid: $uid}) RETURN e.name AS name, e.height AS height"


def rows(start: int, count: int) -> list[dict[str, object]]:
    return [
        {"uid": f"bench:{i:08d}", "gid": f"{i:022d}", "name": f"Wall {i}", "ext": i % 3 == 0, "h": 2.5 + i % 7}
        for i in range(start, start + count)
    ]


async def measure(store: GraphStore, nodes: int, batch: int, lookups: int) -> dict[str, float]:
    await store.ensure_schema(INDEXES)
    await store.run("MATCH (n:Element {model: 'bench'}) DETACH DELETE n", write=True)
    batches = [rows(start, batch) for start in range(0, nodes, batch)]
    began = time.perf_counter()
    for payload in batches:
        await store.run(WRITE, {"rows": payload}, write=True)
    write_seconds = time.perf_counter() - began
    uids = [f"bench:{random.randrange(nodes):08d}" for _ in range(lookups)]
    for uid in uids[:100]:  # warm the plan cache and the connection
        await store.run(LOOKUP, {"uid": uid})
    latencies = []
    for uid in uids:
        t0 = time.perf_counter()
        found = await store.run(LOOKUP, {"uid": uid})
        latencies.append((time.perf_counter() - t0) * 1000)
        assert found, uid
    latencies.sort()
    return {
        "nodes_per_s": nodes / write_seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    engines = ["falkordb"] + ([] if os.environ.get("KGTWIN_SKIP_NEO4J") == "1" else ["neo4j"])
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-") as tmp:
        for engine in engines:
            settings = Settings(graph="embedded" if engine == "falkordb" else "local-neo4j", data_dir=Path(tmp))
            store = await open_store(settings)
            try:
                results[engine] = await measure(store, args.nodes, args.batch, args.lookups)
            finally:
                await store.close()
                local.stop(settings, engine)
    print(f"store benchmark: {args.nodes} nodes in batches of {args.batch}, {args.lookups} lookups by uid")
    print(f"{'engine':<10}{'write nodes/s':>16}{'lookup p50 ms':>16}{'lookup p99 ms':>16}")
    for engine, r in results.items():
        print(f"{engine:<10}{r['nodes_per_s']:>16,.0f}{r['p50_ms']:>16.3f}{r['p99_ms']:>16.3f}")
    if len(results) == 2:
        f, n = results["falkordb"], results["neo4j"]
        print(
            f"ratio falkordb/neo4j: writes {f['nodes_per_s'] / n['nodes_per_s']:.2f}x, "
            f"lookup p50 {n['p50_ms'] / f['p50_ms']:.2f}x faster, p99 {n['p99_ms'] / f['p99_ms']:.2f}x faster"
        )


if __name__ == "__main__":
    asyncio.run(main())
