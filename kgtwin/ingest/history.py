"""Reading the past back: a point's or an element's observations over any range, raw or as
min/max/avg/count per interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kgtwin.errors import KgtwinError
from kgtwin.ingest.observations import linear
from kgtwin.store import GraphStore


class HistoryError(KgtwinError):
    exit_code = 2


@dataclass(frozen=True)
class Series:
    ts: np.ndarray  # epoch ms, ascending
    values: np.ndarray
    quality: np.ndarray | None = None  # per observation; "rollup" where retention averaged it


@dataclass(frozen=True)
class BoundSeries:
    """One point's series as the property of the element or space it is bound to sees it."""

    target: str  # the element's or space's uid
    property: str | None  # None: the point is only contained there, bound to no property
    point: str  # the point's uid
    point_id: str | None
    unit: str | None  # of the values: the property's unit, else the point's
    series: Series


@dataclass(frozen=True)
class Downsampled:
    start: np.ndarray  # interval starts, epoch ms
    count: np.ndarray
    min: np.ndarray
    max: np.ndarray
    avg: np.ndarray


async def raw_series(store: GraphStore, point: str, start_ms: int, end_ms: int) -> Series:
    """Observations with start_ms <= ts < end_ms, sorted (buckets that took late data are not)."""
    rows = await store.execute("ingest/series", {"point": point, "from": start_ms, "to": end_ms})
    return series_from_buckets(rows, start_ms, end_ms)


def bucket_quality(bucket: dict[str, Any]) -> list[str]:
    """A quality per observation: a raw bucket whose readings were all good keeps no list (see
    ingest/append); a rolled-up one has none to give."""
    count = len(bucket["ts"] or ())
    quality = bucket.get("quality") or []
    if len(quality) == count:
        return list(quality)
    return ["good" if bucket.get("kind", "raw") == "raw" else "rollup"] * count


def series_from_buckets(buckets: list[dict[str, Any]], start_ms: int, end_ms: int) -> Series:
    """The observations of some buckets within [start_ms, end_ms), sorted by time."""
    ts = np.asarray([t for b in buckets for t in b["ts"] or ()], dtype=np.int64)
    values = np.asarray([v for b in buckets for v in b["values"] or ()], dtype=float)
    quality = np.asarray([q for b in buckets for q in bucket_quality(b)], dtype=object)
    keep = (ts >= start_ms) & (ts < end_ms)
    order = np.argsort(ts[keep], kind="stable")
    return Series(ts[keep][order], values[keep][order], quality[keep][order])


async def find_point(store: GraphStore, point: str) -> dict[str, str | None] | None:
    """A point by its field id or uid: {uid, pointId, unit}, or None."""
    rows = await store.execute("sensors/point", {"point": point})
    return rows[0] if rows else None


async def element_series(
    store: GraphStore, element: str, start_ms: int, end_ms: int, model: str | None = None
) -> list[BoundSeries]:
    """The series of every point bound to an element or space (by uid, or GlobalId within `model`), in the
    unit of the property each is bound to, with the binding's scale and offset applied."""
    rows = await store.execute("ingest/bound_points", {"target": element, "model": model})
    if not rows:
        raise HistoryError(f"no point, element or space {element!r} with bound points")
    targets = sorted({r["target"] for r in rows})
    if len(targets) > 1:
        raise HistoryError(
            f"{element!r} names {len(targets)} elements ({', '.join(targets[:5])}); give a uid or --model"
        )
    found = []
    for row in rows:
        series = await raw_series(store, row["point"], start_ms, end_ms)
        unit = row["unit"] or row["pointUnit"]
        factor, offset = 1.0, 0.0
        if row["property"] and unit and row["pointUnit"] and unit != row["pointUnit"]:
            factor, offset = linear(row["pointUnit"], unit)
        scale, extra = float(row["scale"] or 1.0), float(row["offset"] or 0.0)
        values = series.values * factor * scale + offset * scale + extra
        found.append(
            BoundSeries(
                row["target"],
                row["property"],
                row["point"],
                row["pointId"],
                unit,
                Series(series.ts, values, series.quality),
            )
        )
    return found


def downsample(series: Series, every_ms: int) -> Downsampled:
    if series.ts.size == 0:
        empty = np.empty(0)
        return Downsampled(np.empty(0, np.int64), np.empty(0, np.int64), empty, empty, empty)
    slots = series.ts - series.ts % every_ms
    starts, index, counts = np.unique(slots, return_inverse=True, return_counts=True)
    sums = np.bincount(index, weights=series.values)
    mins = np.full(starts.size, np.inf)
    maxs = np.full(starts.size, -np.inf)
    np.minimum.at(mins, index, series.values)
    np.maximum.at(maxs, index, series.values)
    return Downsampled(starts, counts, mins, maxs, sums / counts)
