"""What space footprints cost an IFC load: the same sample loaded with and without them, alternately, one run.

    python bench/footprints.py [--storeys 20] [--rooms 50] [--rounds 3]

The sample (about 10k elements by default) is loaded into the embedded FalkorDB, each load into an
empty graph; the baseline is the same load with the footprint step switched off. Loads alternate so
that other work on the machine weighs on both alike; the table gives the median of each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from kgtwin.config import Settings
from kgtwin.sources.ifc import load_ifc, reader
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.store import open_store


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storeys", type=int, default=20)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with_footprints = reader.add_footprints
    own: list[float] = []  # the footprint step alone, inside the loads with footprints

    def timed(*args: object) -> None:
        began = time.perf_counter()
        with_footprints(*args)  # type: ignore[arg-type]
        own.append(time.perf_counter() - began)

    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-") as tmp:
        path = Path(tmp) / "sample.ifc"
        write_sample(path, SampleSpec(storeys=args.storeys, spaces_per_storey=args.rooms))
        store = await open_store(Settings(graph="embedded", data_dir=Path(tmp) / "data"))
        times: dict[str, list[float]] = {"without": [], "with": []}
        extract: dict[str, list[float]] = {"without": [], "with": []}
        elements = spaces = 0
        try:
            for _ in range(args.rounds):
                for variant in ("without", "with"):
                    reader.add_footprints = timed if variant == "with" else (lambda *_: None)  # type: ignore[assignment]
                    await store.run("MATCH (n) DETACH DELETE n", write=True)
                    began = time.perf_counter()
                    result = await load_ifc(store, path, model="bench")
                    times[variant].append(time.perf_counter() - began)
                    extract[variant].append(result.read.extract_seconds)
                    elements = result.read.graph.count("Element")
                    spaces = sum(1 for p in result.read.graph.props_of.values() if "footprint" in p) or spaces
        finally:
            reader.add_footprints = with_footprints
            await store.close()
    base, new = statistics.median(times["without"]), statistics.median(times["with"])
    print(f"{elements} elements, {spaces} nodes with a footprint, {args.rounds} rounds (median)")
    print(f"{'load':<22}{'total s':>9}{'extract s':>11}")
    print(f"{'without footprints':<22}{base:>9.2f}{statistics.median(extract['without']):>11.2f}")
    print(f"{'with footprints':<22}{new:>9.2f}{statistics.median(extract['with']):>11.2f}")
    print(f"cost: {new - base:+.2f} s ({100 * (new - base) / base:+.1f} % of the load)")
    step = statistics.median(own)
    print(f"the footprint step alone: {step:.2f} s ({1000 * step / spaces:.2f} ms per footprint)")


if __name__ == "__main__":
    asyncio.run(main())
