"""IFC load benchmark: elements/s, peak memory and the parse/extract/write split, both engines, one run.

    python bench/ifc_load.py [--sizes 1k,10k,100k]

Generated buildings of about 1k, 10k and 100k elements (kgtwin's own sample generator) are
loaded into a fresh graph on each engine, each load in a child process so that its peak
memory (max RSS) is its own. Parsing is ifcopenshell opening the file; extracting is kgtwin
turning it into graph rows; writing is the graph transaction (diff, upserts, links, sweep).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"1k": (5, 20), "10k": (20, 50), "100k": (50, 200)}  # storeys, rooms per storey


def child(path: str, engine: str, data: str) -> None:
    from kgtwin.config import Settings
    from kgtwin.sources.ifc import load_ifc
    from kgtwin.store import open_store

    async def go() -> dict[str, float]:
        settings = Settings.from_env().with_overrides(
            graph="embedded" if engine == "falkordb" else "local-neo4j", data_dir=Path(data)
        )
        store = await open_store(settings)
        try:
            began = time.perf_counter()
            result = await load_ifc(store, Path(path), model="bench")
            total = time.perf_counter() - began
        finally:
            await store.close()
        return {
            "elements": result.read.graph.count("Element"),
            "parse": result.read.parse_seconds,
            "extract": result.read.extract_seconds,
            "write": result.written.write_seconds,
            "total": total,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }

    print(json.dumps(asyncio.run(go())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1k,10k,100k")
    parser.add_argument("--engines", default="falkordb,neo4j", help="KGTWIN_NEO4J_HEAP sizes the local Neo4j")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from kgtwin.config import Settings
    from kgtwin.sources.ifc.sample import SampleSpec, write_sample
    from kgtwin.store import local

    engines = [e for e in args.engines.split(",") if not (e == "neo4j" and os.environ.get("KGTWIN_SKIP_NEO4J") == "1")]
    print(
        f"{'size':<6}{'engine':<10}{'elements':>9}{'elem/s':>10}{'parse s':>9}{'extract s':>10}{'write s':>9}"
        f"{'write %':>9}{'peak MiB':>10}"
    )
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-") as tmp:
        for size in args.sizes.split(","):
            storeys, rooms = SIZES[size]
            path = Path(tmp) / f"sample-{size}.ifc"
            write_sample(path, SampleSpec(storeys=storeys, spaces_per_storey=rooms))
            for engine in engines:
                data = Path(tmp) / f"data-{size}-{engine}"
                settings = Settings.from_env().with_overrides(data_dir=data)
                # The engine is started once beforehand so that the figure is the load, not the JVM start.
                local.start(settings, engine, persistent=True)
                try:
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", str(path), engine, str(data)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                finally:
                    local.stop(settings, engine)
                r = json.loads(done.stdout.strip().splitlines()[-1])
                share = 100 * r["write"] / r["total"]
                print(
                    f"{size:<6}{engine:<10}{r['elements']:>9}{r['elements'] / r['total']:>10,.0f}{r['parse']:>9.2f}"
                    f"{r['extract']:>10.2f}{r['write']:>9.2f}{share:>8.0f}%{r['peak_rss_mib']:>10.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
