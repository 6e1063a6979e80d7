"""Reading a point's past back: raw observations over any range, or min/max/avg/count per interval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kgtwin.store import GraphStore


@dataclass(frozen=True)
class Series:
    ts: np.ndarray  # epoch ms, ascending
    values: np.ndarray


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
    ts = np.concatenate([np.asarray(r["ts"], dtype=np.int64) for r in rows]) if rows else np.empty(0, np.int64)
    values = np.concatenate([np.asarray(r["values"], dtype=float) for r in rows]) if rows else np.empty(0)
    keep = (ts >= start_ms) & (ts < end_ms)
    order = np.argsort(ts[keep], kind="stable")
    return Series(ts[keep][order], values[keep][order])


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
