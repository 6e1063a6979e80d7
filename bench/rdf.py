"""RDF export benchmark: triples/s and peak memory of kgtwin's streamed N-Triples export of a
~100k-element generated building, beside rdflib's own serializer on the same triples, one run.

    python bench/rdf.py [--storeys 50 --rooms 200]

The building (kgtwin's sample generator; 50 storeys of 200 rooms is about 100k elements) is loaded
once into an embedded FalkorDB. Each measurement then runs in a child process of its own, so its
peak memory (VmHWM, its peak resident set) is its own:

- fetch: the model's triples read from the graph page by page and dropped (the graph side alone);
- kgtwin nt: the same pages written as N-Triples to a file as they arrive (`kgtwin export rdf -f nt`);
- rdflib nt: the same triples added to an rdflib Graph, then written by rdflib's N-Triples
  serializer (`Graph.serialize(format="nt")`), the way an export that builds the graph works.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(mode: str, data: str, out: str) -> None:
    import rdflib

    from kgtwin.config import Settings
    from kgtwin.export.rdf import model_triples, ntriples
    from kgtwin.store import open_store

    async def go() -> dict[str, float]:
        settings = Settings.from_env().with_overrides(data_dir=Path(data))
        store = await open_store(settings)
        triples, serialize = 0, 0.0
        began = time.perf_counter()
        try:
            if mode == "fetch":
                async for batch in model_triples(store, "bench", settings):
                    triples += len(batch)
            elif mode == "kgtwin":
                with open(out, "wb") as f:
                    async for batch in model_triples(store, "bench", settings):
                        f.write(ntriples(batch).encode("utf-8"))
                        triples += len(batch)
            else:
                graph = rdflib.Graph()
                async for batch in model_triples(store, "bench", settings):
                    for triple in batch:
                        graph.add(triple)
                triples = len(graph)
                started = time.perf_counter()
                with open(out, "wb") as f:
                    graph.serialize(f, format="nt", encoding="utf-8")
                serialize = time.perf_counter() - started
        finally:
            await store.close()
        return {
            "triples": triples,
            "seconds": time.perf_counter() - began,
            "serialize": serialize,
            "bytes": Path(out).stat().st_size if Path(out).exists() else 0,
            "peak_rss_mib": peak_rss_mib(),
        }

    print(json.dumps(asyncio.run(go())))


def peak_rss_mib() -> float:
    """This process's own peak resident memory (VmHWM). getrusage's ru_maxrss would also count the
    pages of the parent it was forked from, which Linux carries over exec into the child's figure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(ifc: str, data: str) -> None:
    """Load the building in a process of its own, so that the measuring children start small."""
    from kgtwin.config import Settings
    from kgtwin.sources.ifc import load_ifc
    from kgtwin.store import open_store

    async def go() -> int:
        store = await open_store(Settings.from_env().with_overrides(data_dir=Path(data)))
        try:
            return (await load_ifc(store, Path(ifc), model="bench")).read.graph.count("Element")
        finally:
            await store.close()

    print(json.dumps({"elements": asyncio.run(go())}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storeys", type=int, default=50)
    parser.add_argument("--rooms", type=int, default=200, help="rooms per storey")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, data, out = args.child
        if mode == "load":
            load(out, data)
        else:
            child(mode, data, out)
        return
    from kgtwin.config import Settings
    from kgtwin.sources.ifc.sample import SampleSpec, write_sample
    from kgtwin.store import local

    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-rdf-") as tmp:
        ifc, data = Path(tmp) / "building.ifc", Path(tmp) / "data"
        began = time.perf_counter()
        stats = write_sample(ifc, SampleSpec(storeys=args.storeys, spaces_per_storey=args.rooms))
        print(f"generated {stats.elements} elements ({stats.sensors} sensors) in {time.perf_counter() - began:.0f} s")
        settings = Settings.from_env().with_overrides(data_dir=data)
        local.start(settings, "falkordb", persistent=True)
        try:
            began = time.perf_counter()
            loaded = subprocess.run(
                [sys.executable, __file__, "--child", "load", str(data), str(ifc)],
                capture_output=True,
                text=True,
                check=True,
            )
            elements = json.loads(loaded.stdout.strip().splitlines()[-1])["elements"]
            print(f"loaded {elements} elements into FalkorDB in {time.perf_counter() - began:.0f} s", flush=True)
            print(
                f"{'export':<12}{'triples':>11}{'seconds':>9}{'triples/s':>11}{'serialize s':>13}"
                f"{'MiB out':>9}{'peak MiB':>10}"
            )
            for mode, name in (("fetch", "fetch only"), ("kgtwin", "kgtwin nt"), ("rdflib", "rdflib nt")):
                out = Path(tmp) / f"{mode}.nt"
                done = subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(data), str(out)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                r = json.loads(done.stdout.strip().splitlines()[-1])
                serialize = f"{r['serialize']:.1f}" if mode == "rdflib" else "-"
                print(
                    f"{name:<12}{r['triples']:>11,}{r['seconds']:>9.1f}{r['triples'] / r['seconds']:>11,.0f}"
                    f"{serialize:>13}{r['bytes'] / 2**20:>9.0f}{r['peak_rss_mib']:>10,.0f}",
                    flush=True,
                )
                out.unlink(missing_ok=True)
        finally:
            local.stop(settings, "falkordb")


if __name__ == "__main__":
    main()
