"""Backtesting: the configured detectors run offline over a recorded `timestamp,value` series."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgtwin.analytics.anomalies.config import DetectorConfig
from kgtwin.analytics.anomalies.detectors import DetectorBank, PointMeta, episodes_of
from kgtwin.errors import ConfigError
from kgtwin.ingest.observations import parse_time


@dataclass(frozen=True)
class Found:
    """An anomaly a backtest found (times in epoch ms; `end` None while it was still going at the end)."""

    start: int
    end: int | None
    detected: int
    kind: str
    detector: str
    severity: str
    value: float | None
    score: float
    message: str


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times (epoch ms) and values of a CSV whose first two columns are a timestamp and a number.

    A header line is allowed; timestamps are ISO 8601 text (UTC unless they say otherwise), epoch
    seconds or epoch milliseconds. Rows are sorted by time.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    ts, values = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise ConfigError(f"{path}, line {number}: expected timestamp,value")
            moment = parse_time(row[0].strip(), 0)
            try:
                value = float(row[1])
            except ValueError:
                value = None
            if number == 1 and (moment in (None, 0) or value is None):
                continue  # the header
            if moment is None or value is None:
                raise ConfigError(f"{path}, line {number}: {row[0]!r},{row[1]!r} is not a timestamp and a number")
            ts.append(moment)
            values.append(value)
    if len(ts) < 2:
        raise ConfigError(f"{path}: fewer than two readings")
    order = np.argsort(np.asarray(ts, dtype=np.int64), kind="stable")
    return np.asarray(ts, dtype=np.int64)[order], np.asarray(values, dtype=float)[order]


def scan(
    ts: np.ndarray,
    values: np.ndarray,
    config: DetectorConfig,
    *,
    brick_class: str | None = None,
    interval_ms: float | None = None,
    min_limit: float | None = None,
    max_limit: float | None = None,
    unit: str | None = None,
) -> list[Found]:
    """The anomalies the detectors raise over one series, oldest first.

    The series is one point (of `brick_class`, whose configuration applies); its expected interval
    is the median spacing of the readings unless given, and a gap counts as silence exactly as the
    live timer would have seen it.
    """
    if interval_ms is None:
        interval_ms = float(np.median(np.diff(ts))) if ts.size > 1 else None
    bank = DetectorBank(config, started=int(ts[0]), silence_from_gaps=True)
    meta = PointMeta(
        uid="series",
        brick_class=brick_class,
        unit=unit,
        min_limit=min_limit,
        max_limit=max_limit,
        interval_ms=interval_ms,
    )
    idx = bank.add_point(meta)
    bank.observe(np.full(ts.size, idx, dtype=np.int64), ts, values)
    found = [
        Found(
            start=e.start,
            end=e.end,
            detected=e.detected,
            kind=e.kind,
            detector=e.detector,
            severity=e.severity,
            value=e.value if np.isfinite(e.value) else None,
            score=e.score,
            message=e.message,
        )
        for e in episodes_of(bank.drain())
    ]
    return sorted(found, key=lambda f: (f.start, f.detector))
