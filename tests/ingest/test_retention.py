"""Retention rolls old raw buckets up without losing their totals, and history still reads them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.history import downsample, raw_series
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.pipeline import IngestSettings, Pipeline
from kgtwin.ingest.retention import compact
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore

HOUR = 3_600_000


async def test_old_raw_buckets_become_rollups_with_the_same_totals(store: GraphStore, tmp_path: Path) -> None:
    await load_registry(store, [PointSpec(id="boiler", brick_class="Temperature_Sensor", unit="degC")])
    registry = await Registry.load(store)
    start = (int(time.time() * 1000) - 48 * HOUR) // HOUR * HOUR
    stamps = np.arange(start, start + 3 * HOUR, 10_000)  # three hours at 0.1 Hz, two days ago
    values = 60 + 5 * np.sin(np.arange(stamps.size) / 50)
    readings = [
        {"sensor_id": "boiler", "value": float(v), "timestamp": int(t)} for t, v in zip(stamps, values, strict=True)
    ]
    async with Pipeline(store, registry, DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        outcome = await pipeline.submit("test", "t", orjson.dumps(readings), readings_from_json)
        await outcome.durable
    before = await store.run(
        "MATCH (b:ObservationBucket) RETURN sum(b.count) AS n, sum(b.sum) AS s, min(b.min) AS lo, max(b.max) AS hi"
    )
    hourly_raw = downsample(await raw_series(store, "boiler", start, start + 3 * HOUR), HOUR)

    rolled = await compact(store, int(time.time() * 1000) - 24 * HOUR, 60_000)
    assert rolled == 12  # three hours of 15-minute buckets
    assert await compact(store, int(time.time() * 1000) - 24 * HOUR, 60_000) == 0  # nothing raw is left there
    after = await store.run(
        "MATCH (b:ObservationBucket) RETURN sum(b.count) AS n, sum(b.sum) AS s, min(b.min) AS lo, max(b.max) AS hi"
    )
    assert after == before  # totals that KPIs aggregate are untouched
    rows = await store.run("MATCH (b:ObservationBucket) RETURN DISTINCT b.kind AS kind, b.interval AS every")
    assert rows == [{"kind": "rollup", "every": 60_000}]
    rows = await store.run("MATCH (b:ObservationBucket) RETURN b.counts AS c ORDER BY b.start LIMIT 1")
    assert rows[0]["c"] == [6] * 15  # six readings a minute, fifteen minutes a bucket
    per_minute = await raw_series(store, "boiler", start, start + 3 * HOUR)
    assert per_minute.ts.size == 180
    hourly = downsample(per_minute, HOUR)
    assert hourly.avg == pytest.approx(hourly_raw.avg)  # equal-sized minutes: the mean of means is the mean


async def test_readings_older_than_the_raw_retention_are_dead_lettered(store: GraphStore, tmp_path: Path) -> None:
    await load_registry(store, [PointSpec(id="boiler", brick_class="Temperature_Sensor", unit="degC")])
    deadletters = DeadLetterStore(tmp_path / "dl.sqlite")
    settings = IngestSettings(raw_retention_ms=24 * HOUR)
    async with Pipeline(store, await Registry.load(store), deadletters, settings) as pipeline:
        old = int(time.time() * 1000) - 30 * HOUR
        outcome = await pipeline.submit(
            "test", "t", orjson.dumps({"sensor_id": "boiler", "value": 1, "timestamp": old}), readings_from_json
        )
    assert outcome.rejected == ["timestamp older than the raw retention"]
    assert [d.reason for d in deadletters.list()] == ["timestamp older than the raw retention"]


async def test_history_gives_each_reading_its_quality_whether_its_bucket_lists_them_or_not(
    store: GraphStore, tmp_path: Path
) -> None:
    """A bucket of good readings keeps no quality list; the first other quality writes the list out in full."""
    await load_registry(store, [PointSpec(id="boiler", brick_class="Temperature_Sensor", unit="degC")])
    registry = await Registry.load(store)
    start = (int(time.time() * 1000) - 2 * HOUR) // HOUR * HOUR
    minute = 60_000
    batches = [
        [{"sensor_id": "boiler", "value": 60.0 + i, "timestamp": start + i * minute} for i in range(3)],
        [
            {"sensor_id": "boiler", "value": 70.0, "timestamp": start + 20 * minute},
            {"sensor_id": "boiler", "value": 71.0, "timestamp": start + 21 * minute, "quality": "bad:BadSensorFailure"},
        ],
        [{"sensor_id": "boiler", "value": 72.0, "timestamp": start + 22 * minute}],
        [{"sensor_id": "boiler", "value": 61.5, "timestamp": start + 90_000}],  # late, into the all-good bucket
    ]
    async with Pipeline(store, registry, DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        for batch in batches:
            outcome = await pipeline.submit("test", "t", orjson.dumps(batch), readings_from_json)
            await outcome.durable
    stored = await store.run("MATCH (b:ObservationBucket) RETURN b.quality AS q, b.count AS n ORDER BY b.start")
    assert stored == [{"q": [], "n": 4}, {"q": ["good", "bad:BadSensorFailure", "good"], "n": 3}]
    series = await raw_series(store, "boiler", start, start + HOUR)
    assert series.values.tolist() == [60.0, 61.0, 61.5, 62.0, 70.0, 71.0, 72.0]
    assert series.quality.tolist() == ["good"] * 5 + ["bad:BadSensorFailure", "good"]
