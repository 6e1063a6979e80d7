"""Forecasts: a trend against known lines, when it crosses a limit, and concrete maturity (Nurse–Saul)
worked by hand and through the graph on both engines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import ifcopenshell
import numpy as np
import orjson
import pytest

from kgtwin.analytics.forecasts import (
    HOUR_MS,
    concrete_maturity,
    forecast_point,
    maturity_of,
    nurse_saul,
    trend_forecast,
)
from kgtwin.events import EventLog
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources.field import set_properties
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import load_registry, read_registry
from kgtwin.store import GraphStore
from tests.conftest import run_cli

START = 1_767_225_600_000


def hourly(hours: float, every_min: int = 1) -> np.ndarray:
    return START + (np.arange(0, hours * 60, every_min) * 60_000).astype(np.int64)


def test_a_rising_trend_is_forecast_within_its_interval_with_the_time_it_crosses_the_limit() -> None:
    ts = hourly(24)
    hours = (ts - START) / HOUR_MS
    rng = np.random.default_rng(1)
    values = 20 + 0.5 * hours + rng.normal(0, 0.1, ts.size)
    values[::97] += 50  # a few wild readings do not tilt it
    trend = trend_forecast(ts, values, 6 * HOUR_MS, max_limit=40.0, min_limit=0.0)
    assert trend.slope_per_hour == pytest.approx(0.5, abs=0.01)
    truth = 20 + 0.5 * (hours[-1] + 6)
    assert trend.forecast == pytest.approx(truth, abs=0.1) and trend.lower < truth < trend.upper
    assert 0.2 < trend.upper - trend.lower < 1.5
    high, low = trend.crossings
    crossing_h = (high.at - START) / HOUR_MS  # 20 + 0.5 h = 40 at h = 40
    assert crossing_h == pytest.approx(40, abs=0.3)
    assert high.earliest is not None and high.latest is not None and high.earliest <= high.at <= high.latest
    assert (low.limit, low.at, low.already) == ("min", None, False)  # rising: never down to 0


def test_a_flat_series_never_crosses_and_one_beyond_its_limit_says_so() -> None:
    ts = hourly(6)
    flat = trend_forecast(ts, np.full(ts.size, 21.0) + np.sin(np.arange(ts.size)) * 0.01, HOUR_MS, max_limit=25.0)
    assert abs(flat.slope_per_hour) < 0.01 and flat.crossings[0].at is None
    beyond = trend_forecast(ts, np.full(ts.size, 30.0), HOUR_MS, max_limit=25.0)
    assert beyond.crossings[0].already and beyond.crossings[0].at == int(ts[-1])


def test_nurse_saul_worked_by_hand() -> None:
    # 10, 20, 30 °C two hours apart, datum -10 °C: (15 + 10) × 2 + (25 + 10) × 2 = 120 °C·h
    ts = np.array([START, START + 2 * HOUR_MS, START + 4 * HOUR_MS])
    assert nurse_saul(ts, np.array([10.0, 20.0, 30.0])).tolist() == [0.0, 50.0, 120.0]
    # below the datum nothing matures: -20 °C for an hour adds nothing, -5 °C adds 5 °C·h per hour
    assert nurse_saul(ts[:2], np.array([-20.0, -20.0]))[-1] == 0.0
    assert nurse_saul(ts[:2], np.array([-5.0, -5.0]), datum=-10.0)[-1] == pytest.approx(10.0)
    # 20 °C for 48 h: 30 × 48 = 1440 °C·h; a 2000 °C·h target is 560 / 30 = 18.67 h further on
    day2 = START + np.arange(49) * HOUR_MS
    warm = maturity_of(day2, np.full(49, 20.0), element="e", point="p", target=2000.0)
    assert warm.maturity == pytest.approx(1440.0) and warm.reached is None
    assert (warm.eta - day2[-1]) / HOUR_MS == pytest.approx(560 / 30)
    done = maturity_of(day2, np.full(49, 20.0), element="e", point="p", target=1000.0)
    assert (done.reached - START) / HOUR_MS == pytest.approx(1000 / 30) and done.eta is None


async def test_maturity_of_slabs_from_their_temperature_points_through_the_graph(
    store: GraphStore, tmp_path: Path
) -> None:
    path = tmp_path / "b.ifc"
    write_sample(path, SampleSpec(storeys=1, spaces_per_storey=2))
    await load_ifc(store, path, model="b")
    ifc = ifcopenshell.open(str(path))
    slab = ifc.by_type("IfcSlab")[0]
    sensor = next(s for s in ifc.by_type("IfcSensor") if "Concrete" in (s.Name or ""))
    registry = tmp_path / "sensors.yaml"
    # The slab's IFC sensor gets a field id; it reports in °F, maturity is in °C.
    registry.write_text(
        f"model: b\npoints:\n  - {{id: slab-t1, ifc: {sensor.GlobalId}, class: Temperature_Sensor, unit: degF}}\n"
    )
    assert (await load_registry(store, read_registry(registry))).aliased == 1
    first = (int(time.time() * 1000) // HOUR_MS - 30) * HOUR_MS
    readings = [{"sensor_id": "slab-t1", "value": 68.0, "timestamp": first + h * HOUR_MS} for h in range(25)]
    async with Pipeline(store, await Registry.load(store), DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        outcome = await pipeline.submit("test", "t", orjson.dumps(readings), readings_from_json)
        await outcome.durable  # type: ignore[misc]
    found = await concrete_maturity(store, "b", target=1000.0)
    assert [(m.element, m.point) for m in found] == [(f"b:{slab.GlobalId}", "slab-t1")]
    slab_now = found[0]
    assert slab_now.maturity == pytest.approx(30 * 24) and slab_now.temperature == pytest.approx(20.0)
    assert (slab_now.eta - slab_now.until) / HOUR_MS == pytest.approx((1000 - 720) / 30)
    # Cast 12 hours after the first reading, with its own target: counted from then, against that.
    await set_properties(
        store,
        EventLog(store),
        "Element",
        f"b:{slab.GlobalId}",
        {"castTime": first + 12 * HOUR_MS, "maturityTarget": 300.0},
        "field:site",
    )
    later = (await concrete_maturity(store, "b", target=1000.0))[0]
    assert later.maturity == pytest.approx(30 * 12) and later.target == 300.0
    assert (later.reached - (first + 12 * HOUR_MS)) / HOUR_MS == pytest.approx(10.0) and later.eta is None
    trend = await forecast_point(store, "slab-t1", 6 * HOUR_MS, 24 * HOUR_MS)
    assert trend.slope_per_hour == pytest.approx(0.0, abs=1e-9) and trend.forecast == pytest.approx(68.0)


async def test_forecast_and_anomaly_commands(falkordb_store: GraphStore, data_dir: Path, tmp_path: Path) -> None:
    store = falkordb_store
    await store.run("MATCH (n) DETACH DELETE n", write=True)
    registry = tmp_path / "sensors.yaml"
    registry.write_text(
        "points:\n  - {id: tank, class: Temperature_Sensor, unit: degC, interval: 60, limits: {max: 90}}\n"
    )
    await load_registry(store, read_registry(registry))
    now = int(time.time() * 1000)
    readings = [{"sensor_id": "tank", "value": 60 + m * 0.1, "timestamp": now - (119 - m) * 60_000} for m in range(120)]
    async with Pipeline(store, await Registry.load(store), DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        await (await pipeline.submit("test", "t", orjson.dumps(readings), readings_from_json)).durable  # type: ignore[misc]
    result = run_cli("forecast", "point", "tank", "--horizon", "1h", "-f", "json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["slopePerHour"] == pytest.approx(6.0, abs=1e-6) and row["forecast"] == pytest.approx(
        71.9 + 6.0, abs=1e-6
    )
    # 90 °C at 6 °C/h from 71.9 °C: about 3 h after the last reading
    assert row["maxLimit"] == 90 and row["maxCrossing"] is not None
    missing = run_cli("forecast", "point", "nope", data_dir=data_dir)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no point 'nope' (give its field id or uid)"

    await store.run(
        "CREATE (:Anomaly {uid: 'anomaly:cli', model: 'm', point: 'tank', kind: 'outlier', severity: 'warning', "
        "state: 'open', active: false, start: 1, scope: ['tank']})",
        write=True,
    )
    listed = run_cli("anomalies", "list", "--state", "open", "-f", "json", data_dir=data_dir)
    assert [a["uid"] for a in json.loads(listed.stdout)] == ["anomaly:cli"]
    acked = run_cli(
        "anomalies", "acknowledge", "anomaly:cli", "--by", "field:me", "--note", "looking", data_dir=data_dir
    )
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    again = run_cli("anomalies", "acknowledge", "anomaly:cli", data_dir=data_dir)
    assert again.returncode == 2 and again.stderr.startswith("error: anomaly anomaly:cli is acknowledged")
    assert run_cli("anomalies", "resolve", "anomaly:cli", data_dir=data_dir).returncode == 0
    unknown = run_cli("anomalies", "resolve", "anomaly:none", data_dir=data_dir)
    assert unknown.returncode == 2 and "no anomaly 'anomaly:none'" in unknown.stderr
    rows = await store.run("MATCH (a:Anomaly {uid: 'anomaly:cli'}) RETURN a.state AS s, a.acknowledgedBy AS by")
    assert rows == [{"s": "resolved", "by": "field:me"}]
