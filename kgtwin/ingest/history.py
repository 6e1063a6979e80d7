"""Reading a point's past back: raw observations over any range, or min/max/avg/count per interval."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kgtwin.store import GraphStore


@dataclass(frozen=True)
class Series:
    ts: np.ndarray  # epoch ms, ascending
    values: np.ndarray
    quality: list[str] = field(default_factory=list)  # per observation, when the buckets keep it


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


def series_from_buckets(buckets: list[dict[str, Any]], start_ms: int, end_ms: int) -> Series:
    """The observations of some buckets within [start_ms, end_ms), sorted by time."""
    ts = np.asarray([t for b in buckets for t in b["ts"] or ()], dtype=np.int64)
    values = np.asarray([v for b in buckets for v in b["values"] or ()], dtype=float)
    quality = [q for b in buckets for q in (b.get("quality") or ["good"] * len(b["ts"] or ()))]
    keep = (ts >= start_ms) & (ts < end_ms)
    order = np.argsort(ts[keep], kind="stable")
    kept = np.asarray(quality, dtype=object)[keep][order] if len(quality) == len(ts) else np.empty(0, dtype=object)
    return Series(ts[keep][order], values[keep][order], [str(q) for q in kept])


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
