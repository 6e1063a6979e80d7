"""The detectors offline, with their default settings: the public labelled series, faults planted in a
generated day at 1 Hz, a clean day, hysteresis, and the same anomalies live as in a backtest."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from kgtwin.analytics.anomalies.config import DetectorConfig, load_config, parse_config
from kgtwin.analytics.anomalies.detectors import DetectorBank, PointMeta, episodes_of
from kgtwin.analytics.anomalies.scan import read_series, scan
from kgtwin.errors import KgtwinError
from tests.analytics.series import DAY_S, at, room_day
from tests.conftest import SHARED_DATA, run_cli

NAB = SHARED_DATA / "timeseries" / "ambient_temperature_system_failure.csv"
HOUR_MS = 3_600_000


def utc_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=dt.UTC).timestamp() * 1000)


def test_the_labelled_series_is_found_in_its_windows_with_few_alarms_outside(tmp_path: Path) -> None:
    """NAB's ambient temperature with a known system failure (hourly, °F), through `kgtwin anomalies scan`
    with the built-in settings: nothing tuned to this file."""
    result = run_cli("anomalies", "scan", str(NAB), "--format", "json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert all({"start", "end", "kind", "severity"} <= set(a) for a in found)
    labels = json.loads(NAB.with_suffix(".windows.json").read_text())
    windows = [(utc_ms(a), utc_ms(b)) for a, b in next(iter(labels.values()))]

    def window_of(anomaly: dict) -> int | None:
        start = utc_ms(anomaly["start"])
        return next((i for i, (a, b) in enumerate(windows) if a <= start <= b), None)

    firsts = {}
    for anomaly in found:
        firsts.setdefault(window_of(anomaly), anomaly)
    for i, (a, _) in enumerate(windows):
        assert i in firsts, f"nothing found in window {i + 1}"
        # its first anomaly starts inside the window, and nothing before it ran into the window
        assert not any(utc_ms(x["start"]) < a and (x["end"] is None or utc_ms(x["end"]) > a) for x in found)
    # Window 1 (Dec 15-30) is the days of heat around Dec 22; window 2 (Mar 29 - Apr 20) the week the
    # recording stopped (the system failure): the first is a level shift, the second the silence.
    assert firsts[0]["kind"] == "level_shift" and utc_ms(firsts[0]["start"]) < utc_ms("2013-12-23T00:00:00Z")
    assert firsts[1]["kind"] == "silence" and firsts[1]["start"].startswith("2014-04-03")

    outside = [x for x in found if window_of(x) is None]
    # Alarms on values outside the windows would be false: at most one is tolerated (NAB's scoring
    # costs a false positive about a tenth of a detection; two would outweigh what a window is worth).
    assert len([x for x in outside if x["kind"] != "silence"]) <= 1
    # Silences outside are real: every one is a gap in the recording at least 3 intervals long.
    ts, _ = read_series(NAB)
    gaps = [(int(a), int(b)) for a, b in itertools.pairwise(ts) if b - a > 3 * HOUR_MS]
    for alarm in (x for x in outside if x["kind"] == "silence"):
        assert any(a < utc_ms(alarm["start"]) and utc_ms(alarm["end"]) <= b for a, b in gaps), alarm
    assert len(outside) <= len(gaps)


PLANTED = {
    # fault: (first second, last second, the kind of anomaly it should raise)
    "spike": (20_000, 20_000, "outlier"),
    "drift": (32_000, 33_200, "drift"),  # +5 °C over 20 minutes, then it stays off by 5 °C for the day
    "stuck": (46_000, 48_700, "flatline"),  # 45 minutes of one repeated reading
    "dropout": (60_000, 60_600, "silence"),  # 10 minutes without readings
}


def planted_day(seed: int) -> tuple[np.ndarray, np.ndarray]:
    day = room_day(seed)
    values, keep = day.values.copy(), np.ones(DAY_S, bool)
    values[20_000] += 1.5
    second = np.arange(DAY_S)
    values += np.clip((second - 32_000) / 1_200, 0, 1) * 5
    values[46_000:48_700] = values[46_000]
    keep[60_000:60_600] = False
    return day.ts[keep], values[keep]


@pytest.mark.parametrize("seed", [3, 7])
def test_every_planted_fault_is_found_within_its_window(seed: int) -> None:
    ts, values = planted_day(seed)
    found = scan(ts, values, DetectorConfig())
    for fault, (first, last, kind) in PLANTED.items():
        hits = [f for f in found if f.kind == kind and at(first) <= f.start <= at(last) + 1000]
        assert len(hits) == 1, (fault, [(f.kind, f.start, f.message) for f in found])
        assert hits[0].detected <= at(last) + 1000, fault  # raised while the fault was on
    assert len(found) == len(PLANTED), [(f.kind, (f.start - at(0)) // 1000, f.message) for f in found]
    stuck = next(f for f in found if f.kind == "flatline")
    assert stuck.start == at(46_000) and stuck.end == at(48_700)  # from the first repeated reading to the change
    silent = next(f for f in found if f.kind == "silence")
    assert (silent.start, silent.end) == (at(60_000), at(60_600))


@pytest.mark.parametrize(("seed", "correlation", "resolution"), [(11, 0.9, 0.01), (12, 0.98, 0.1)])
def test_a_clean_day_at_1_hz_raises_nothing(seed: int, correlation: float, resolution: float) -> None:
    day = room_day(seed, correlation=correlation, resolution=resolution)
    assert day.ts.size == 86_400
    assert scan(day.ts, day.values, DetectorConfig()) == []


def test_a_long_excursion_is_one_anomaly_from_its_start_to_its_return() -> None:
    day = room_day(5)
    values = day.values.copy()
    values[50_000:57_200] += 3.0  # two hours 3 °C off (a heater next to the sensor), then back
    values[50_010:57_200:97] += np.resize([0.4, -0.4], len(range(50_010, 57_200, 97)))  # flickering on top
    found = scan(day.ts, values, DetectorConfig())
    assert len(found) == 1, [(f.kind, f.start, f.end, f.message) for f in found]
    assert (found[0].start, found[0].end, found[0].kind) == (at(50_000), at(57_200), "outlier")


def test_live_batches_raise_what_the_backtest_raises() -> None:
    ts, values = planted_day(3)
    part = slice(30_000, 50_000)  # drift and stuck sensor
    ts, values = ts[part], values[part]
    backtest = [(f.kind, f.start, f.end) for f in scan(ts, values, DetectorConfig(), interval_ms=1000)]
    bank = DetectorBank(DetectorConfig(), started=int(ts[0]))
    idx = bank.add_point(PointMeta(uid="p", interval_ms=1000))
    changes = []
    for start in range(0, ts.size, 50):  # batches as the pipeline makes them: a few seconds each
        bank.observe(np.full(ts[start : start + 50].size, idx), ts[start : start + 50], values[start : start + 50])
        changes += bank.drain()
    live = sorted((e.kind, e.start, e.end) for e in episodes_of(changes))
    assert live == sorted(backtest) and len(live) == 2


def test_silence_is_checked_on_a_timer_for_reporting_and_never_reporting_points() -> None:
    bank = DetectorBank(DetectorConfig(), started=1_000_000)
    quiet = bank.add_point(PointMeta(uid="quiet", interval_ms=60_000))
    talking = bank.add_point(PointMeta(uid="talking", interval_ms=60_000))
    bank.add_point(PointMeta(uid="unknown-interval"))  # never reported, no interval: nothing to go by
    bank.observe(np.array([talking]), np.array([1_000_000]), np.array([20.0]))
    bank.check_silence(1_000_000 + 170_000)
    assert bank.drain() == []  # under 3 intervals
    bank.check_silence(1_000_000 + 190_000)
    opened = {c.episode.subject: c.episode for c in bank.drain()}
    assert set(opened) == {"quiet", "talking"} and {e.severity for e in opened.values()} == {"warning"}
    assert opened["talking"].start == 1_060_000 and opened["quiet"].start == 1_000_000
    bank.check_silence(1_000_000 + 200_000)
    assert bank.drain() == []  # one anomaly per silence, not one per check
    bank.check_silence(1_000_000 + 21 * 60_000)
    escalated = [(c.what, c.episode.subject, c.episode.severity) for c in bank.drain() if c.what != "seen"]
    assert sorted(escalated) == [("escalated", "quiet", "critical"), ("escalated", "talking", "critical")]
    bank.observe(np.array([quiet]), np.array([1_000_000 + 22 * 60_000]), np.array([20.0]))
    ended = bank.drain()
    assert [(c.what, c.episode.subject, c.episode.end) for c in ended] == [("ended", "quiet", 1_000_000 + 22 * 60_000)]


def test_settings_per_brick_class_reach_subclasses_and_per_point_win(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    path.write_text(
        "defaults:\n  robust_z: {threshold: 10}\n"
        "classes:\n"
        "  Temperature_Sensor:\n    rate: {max: 2, per: 1min}\n    flatline: {duration: 2h}\n"
        "  Air_Temperature_Sensor:\n    flatline: {readings: 30}\n"
        "points:\n  r101-temp:\n    flatline: off\n    limits: {min: 15, max: 28}\n"
    )
    config = load_config(path)
    zone = config.settings_for(("zone-t",), "Zone_Air_Temperature_Sensor")  # below both configured classes
    assert zone.robust_z.threshold == 10 and zone.rate.max == 2 and zone.rate.per == 60_000
    assert (zone.flatline.readings, zone.flatline.duration) == (30, 7_200_000)
    assert config.settings_for(("co2",), "CO2_Sensor").rate.max is None  # not a temperature sensor
    room = config.settings_for(("b:0001", "r101-temp"), "Air_Temperature_Sensor")
    assert not room.flatline.enabled and room.limits.max == 28 and room.rate.max == 2
    assert DetectorConfig().settings_for(("x",), None).robust_z.threshold == 8  # built-in


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("classes:\n  Not_A_Class: {}\n", "not a Brick class"),
        ("defaults:\n  spike: {}\n", "unknown detector 'spike'"),
        ("defaults:\n  robust_z: {windw: 10}\n", "unknown setting 'windw'"),
        ("defaults:\n  flatline: {duration: soon}\n", "not a duration"),
        ("defaults:\n  robust_z: {window: 2}\n", "at least 8"),
        ("conditions:\n  - {name: hot, when: 'temp >'}\n", "expected a value"),
        ("other: 1\n", "unknown section"),
    ],
)
def test_a_bad_detectors_file_is_one_clear_error(text: str, says: str) -> None:
    import yaml

    with pytest.raises(KgtwinError, match=says):
        parse_config(yaml.safe_load(text), "detectors.yaml")


def test_scan_reads_text_and_epoch_timestamps_and_refuses_what_is_not_a_series(tmp_path: Path) -> None:
    good = tmp_path / "s.csv"
    good.write_text("timestamp,value\n2026-01-01 00:00:00,1.5\n1767225660,2.5\n1767225720000,3.5\n")
    ts, values = read_series(good)
    assert ts.tolist() == [1_767_225_600_000, 1_767_225_660_000, 1_767_225_720_000]
    assert values.tolist() == [1.5, 2.5, 3.5]
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-01-01 00:00:00,1.5\nyesterday,2\n")
    result = run_cli("anomalies", "scan", str(bad), data_dir=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: ") and "line 3" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = run_cli("anomalies", "scan", str(good), "--class", "Temprature_Sensor", data_dir=tmp_path)
    assert unknown.returncode == 2 and "not a Brick" in unknown.stderr
