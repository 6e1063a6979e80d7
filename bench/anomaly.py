"""Anomaly detection benchmark: observations/s through the detectors for many points, beside a numpy
baseline over the same arrays, and the monitor's cost on top of the ingestion pipeline.

    PYTHONPATH=. python bench/anomaly.py [--points 10000] [--batches 20] [--pipeline-readings 500000]

1. Detectors alone (in memory), every detector on with its default settings, after a warm-up long
   enough that all of them judge (1,100 readings a point): batches of 10 readings a point (100k
   observations, the pipeline's largest batch) and of 1 reading a point (a 1 Hz stream in small
   batches). Baseline: the least any per-point check costs, numpy sorting the same arrays by
   point and time and taking each point's mean and spread. 1% of the points get a spike per batch,
   so the reading-by-reading hysteresis runs too.
2. Beside the pipeline on the embedded FalkorDB: the same observations written without, with and
   again without the monitor attached (its detectors warmed up first), each into an emptied graph;
   the monitor's own time and how long after the last write it has checked everything.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np

from kgtwin.analytics.anomalies.config import DetectorConfig
from kgtwin.analytics.anomalies.detectors import DetectorBank, PointMeta
from kgtwin.analytics.anomalies.monitor import AnomalyMonitor, MonitorSettings
from kgtwin.config import Settings
from kgtwin.events import EventLog
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Observation, Registry
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import local, open_store

WARM_ROUNDS, WARM_READINGS = 11, 100


class Signals:
    """Room temperatures at 1 Hz for many points: a daily curve, noise, 0.01 °C steps."""

    def __init__(self, points: int, seed: int = 1) -> None:
        self.points = points
        self.rng = np.random.default_rng(seed)
        self.phase = self.rng.uniform(0, 86_400, points)
        self.second = 0

    def next(self, readings: int, spikes: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`readings` per point, as flat arrays (point index, second, value) in arrival order."""
        seconds = self.second + np.arange(readings)
        self.second += readings
        curve = 21 + 3 * np.sin(2 * np.pi * (seconds[None, :] + self.phase[:, None]) / 86_400)
        values = np.round(curve + self.rng.normal(0, 0.05, (self.points, readings)), 2)
        if spikes:
            hit = self.rng.random(self.points) < spikes
            values[hit, -1] += 3.0
        points = np.repeat(np.arange(self.points), readings)
        return points, np.tile(seconds, self.points), values.ravel()


def bank_for(points: int) -> DetectorBank:
    bank = DetectorBank(DetectorConfig(), started=0)
    for i in range(points):
        bank.add_point(PointMeta(uid=f"p{i}", brick_class="Air_Temperature_Sensor", unit="degC", interval_ms=1000))
    return bank


def warm(bank: DetectorBank, signals: Signals, origin_ms: int) -> None:
    index = np.array([bank.index[f"p{i}"] for i in range(signals.points)])
    for _ in range(WARM_ROUNDS):
        points, seconds, values = signals.next(WARM_READINGS)
        bank.observe(index[points], origin_ms + seconds * 1000, values)
    bank.drain()


def baseline(points: np.ndarray, ts: np.ndarray, values: np.ndarray, n: int) -> None:
    order = np.lexsort((ts, points))
    per_point = values[order].reshape(n, -1)
    per_point.mean(axis=1), per_point.std(axis=1)


def detectors_alone(n: int, batches: int) -> None:
    signals = Signals(n)
    bank = bank_for(n)
    origin = 1_767_225_600_000
    started = time.perf_counter()
    warm(bank, signals, origin)
    warm_s = time.perf_counter() - started
    state = sum(a.nbytes for a in bank.state.arrays.values()) + sum(p.ring.nbytes for p in bank.profiles)
    print(
        f"{n:,} points: warm-up {WARM_ROUNDS * WARM_READINGS * n:,} observations in {warm_s:.1f} s; "
        f"detector state {state / n:,.0f} bytes a point"
    )
    header = ("readings/point/batch", 22), ("obs/batch", 11), ("detectors obs/s", 17), ("baseline obs/s", 16)
    print("".join(f"{name:>{width}}" for name, width in header) + f"{'ratio':>7}{'anomaly changes':>17}")
    for per_batch, count in ((10, batches), (1, batches * 5)):
        detect_s = base_s = 0.0
        changes = 0
        for _ in range(count):
            points, seconds, values = signals.next(per_batch, spikes=0.01)
            ts = origin + seconds * 1000
            began = time.perf_counter()
            bank.observe(points, ts, values)
            changes += len(bank.drain())
            detect_s += time.perf_counter() - began
            began = time.perf_counter()
            baseline(points, ts, values, n)
            base_s += time.perf_counter() - began
        total = per_batch * n * count
        print(
            f"{per_batch:>22}{per_batch * n:>11,}{total / detect_s:>17,.0f}{total / base_s:>16,.0f}"
            f"{detect_s / base_s:>6.0f}×{changes:>17,}"
        )


async def beside_the_pipeline(n: int, readings: int, tmp: Path) -> None:
    settings = Settings(graph="embedded", data_dir=tmp / "data")
    store = await open_store(settings)
    try:
        await load_registry(
            store, [PointSpec(id=f"p{i}", brick_class="Air_Temperature_Sensor", unit="degC") for i in range(n)]
        )
        registry = await Registry.load(store)
        per_point = max(1, readings // n)
        now = int(time.time() * 1000)
        signals = Signals(n, seed=2)
        results = {}
        runs = (("without the monitor", False), ("with the monitor", True), ("without, again", False))
        for turn, (label, detect) in enumerate(runs):
            # Each run on an empty graph of the same points, at its own times (points keep their latest).
            await store.run("MATCH (b:ObservationBucket) DETACH DELETE b", write=True)
            origin = now - 6 * 3_600_000 + turn * 2 * 3_600_000
            monitor = None
            if detect:
                monitor = AnomalyMonitor(
                    store, registry, DetectorConfig(), EventLog(store), settings=MonitorSettings(silence_every_s=3600)
                )
                signals.second = -WARM_ROUNDS * WARM_READINGS  # the minutes before this run's readings
                warm(monitor.bank, signals, origin)
            signals.second = 0
            points, seconds, values = signals.next(per_point, spikes=0.01)
            observations = [
                Observation(f"p{p}", int(origin + s * 1000), float(v), "good", now)
                for p, s, v in zip(points.tolist(), seconds.tolist(), values.tolist(), strict=True)
            ]
            observations.sort(key=lambda o: o.ts)  # as a stream arrives: time first
            async with Pipeline(store, registry, DeadLetterStore(tmp / f"dl-{label}.sqlite")) as pipeline:
                if monitor is not None:
                    monitor.attach(pipeline)
                    await monitor.__aenter__()
                began = time.perf_counter()
                loop = asyncio.get_running_loop()
                for start in range(0, len(observations), 20_000):
                    await pipeline.enqueue(observations[start : start + 20_000], loop.create_future())
                await pipeline.drain()
                written_s = time.perf_counter() - began
                checked_after = 0.0
                if monitor is not None:
                    await monitor.drain()
                    checked_after = time.perf_counter() - began - written_s
                    await monitor.__aexit__(None, None, None)
            results[label] = (
                len(observations) / written_s,
                monitor.seconds if monitor else 0.0,
                monitor.recorded if monitor else 0,
                monitor.recording_seconds if monitor else 0.0,
                checked_after,
            )
        header = ("pipeline", 22), ("obs", 11), ("written obs/s", 15), ("detection s", 13), ("changes", 9)
        print("".join(f"{name:>{width}}" for name, width in header) + f"{'recording s':>13}{'checked after':>15}")
        for label, (rate, detection, changes, recording, after) in results.items():
            print(
                f"{label:>22}{n * per_point:>11,}{rate:>15,.0f}{detection:>13.2f}{changes:>9,}{recording:>13.2f}"
                f"{after:>13.2f} s"
            )
        base = (results["without the monitor"][0] + results["without, again"][0]) / 2
        beside = results["with the monitor"][0]
        print(f"ingestion with detection beside it: {100 * beside / base:.0f}% of the rate without (mean of both)")
    finally:
        await store.close()
        local.stop(settings, "falkordb")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--pipeline-readings", type=int, default=500_000)
    args = parser.parse_args()
    detectors_alone(args.points, args.batches)
    if args.pipeline_readings:
        with tempfile.TemporaryDirectory(prefix="kgtwin-bench-") as tmp:
            await beside_the_pipeline(args.points, args.pipeline_readings, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
