"""Retention: raw buckets older than a setting become roll-ups (count/min/max/avg per interval), so
memory per point stays bounded while the history stays queryable at the roll-up resolution."""

from __future__ import annotations

import numpy as np

from kgtwin.ingest.history import Series, downsample
from kgtwin.store import GraphStore
from kgtwin.store.queries import named


async def compact(store: GraphStore, before_ms: int, every_ms: int, limit: int = 1000) -> int:
    """Roll up every raw bucket that ended before `before_ms`; returns how many were rolled up."""
    done = 0
    while True:
        rows = await store.execute("ingest/raw_buckets_before", {"before": before_ms, "limit": limit})
        if not rows:
            return done
        updates = []
        for row in rows:
            ts = np.asarray(row["ts"], dtype=np.int64)
            order = np.argsort(ts, kind="stable")
            d = downsample(Series(ts[order], np.asarray(row["values"], dtype=float)[order]), every_ms)
            updates.append(
                {
                    "uid": row["uid"],
                    "starts": d.start.tolist(),
                    "counts": d.count.tolist(),
                    "mins": d.min.tolist(),
                    "maxs": d.max.tolist(),
                    "avgs": d.avg.tolist(),
                }
            )
        async with store.transaction() as tx:
            await tx.run(named("ingest/roll_up").text, {"rows": updates, "every": every_ms})
        done += len(updates)
