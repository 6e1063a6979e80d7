"""Replay of the past: a recorded range of points' or elements' observations sent again at N× speed,
through the pipeline (onto the same points, or other ones) or to an MQTT topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from kgtwin.errors import ConfigError
from kgtwin.ingest.history import HistoryError, find_point, raw_series
from kgtwin.ingest.observations import Reading, Registry, now_ms
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.store import GraphStore


@dataclass(frozen=True)
class Recorded:
    """A point's recorded readings: its uid, its unit, and the readings (time order)."""

    point: str
    unit: str | None
    readings: list[Reading]


async def recorded(
    store: GraphStore, sources: Iterable[str], start_ms: int, end_ms: int, model: str | None = None
) -> list[Recorded]:
    """What points (by id or uid) or elements and spaces (by uid or GlobalId: their bound points) recorded
    between two times, in each point's own unit, as it is stored."""
    found: dict[str, Recorded] = {}
    for source in sources:
        point = await find_point(store, source)
        if point is not None:
            uids = [(point["uid"], point["unit"])]
        else:
            rows = await store.execute("ingest/bound_points", {"target": source, "model": model})
            if not rows:
                raise HistoryError(f"no point, element or space {source!r} with bound points")
            uids = [(r["point"], r["pointUnit"]) for r in rows]
        for uid, unit in uids:
            if uid in found:
                continue
            series = await raw_series(store, uid, start_ms, end_ms)
            qualities = series.quality if series.quality is not None else ["good"] * series.ts.size
            found[uid] = Recorded(
                uid,
                unit,
                [
                    Reading(uid, float(v), unit, int(t), str(q))
                    for t, v, q in zip(series.ts, series.values, qualities, strict=True)
                ],
            )
    return list(found.values())


def targets(points: Iterable[str], mapping: Iterable[str]) -> dict[str, str]:
    """Where each recorded point goes: `SRC=DST` pairs, `model:OTHER` (the same GlobalIds in another
    model), or a single `DST` when one point is replayed; unmapped points go to themselves."""
    points = list(points)
    out = {p: p for p in points}
    for rule in mapping:
        if rule.startswith("model:"):
            other = rule.removeprefix("model:")
            for p in points:
                if ":" not in p:
                    raise ConfigError(f"point {p!r} belongs to no model's GlobalIds; map it with --as {p}=OTHER")
                out[p] = f"{other}:{p.split(':', 1)[1]}"
        elif "=" in rule:
            source, _, target = rule.partition("=")
            matching = [p for p in points if source in (p, p.split(":", 1)[-1])]
            if not matching:
                raise ConfigError(f"--as {rule}: {source!r} is not among the replayed points")
            for p in matching:
                out[p] = target
        elif len(points) == 1:
            out[points[0]] = rule
        else:
            raise ConfigError(f"--as {rule}: {len(points)} points are replayed; use SRC=DST or model:OTHER")
    return out


async def paced_replay(
    recordings: Iterable[Recorded],
    speed: float | None,
    onto: Mapping[str, str] | None = None,
    *,
    retime: bool = False,
    tick_s: float = 0.02,
    max_batch: int = 10_000,
) -> AsyncIterator[list[Reading]]:
    """The recorded readings in time order, each sent (t - t0) / speed after the first; speed None sends
    them all at once. With `retime` they are stamped with the time they are sent at (the original spacing
    divided by the speed), so they arrive as live data; otherwise they keep their recorded times."""
    onto = onto or {}
    merged = sorted((r for rec in recordings for r in rec.readings), key=lambda r: int(r.timestamp))
    if not merged:
        return
    first, begun, begun_ms = int(merged[0].timestamp), time.monotonic(), now_ms()
    index = 0
    while index < len(merged):
        if speed is None:
            due = min(index + max_batch, len(merged))
        else:
            elapsed_ms = (time.monotonic() - begun) * 1000 * speed
            due = index
            while due < len(merged) and due - index < max_batch and int(merged[due].timestamp) - first <= elapsed_ms:
                due += 1
        if due > index:
            batch = []
            for r in merged[index:due]:
                stamp = int(r.timestamp)
                if retime:
                    stamp = begun_ms + int((stamp - first) / (speed or float("inf")))
                batch.append(Reading(onto.get(r.point, r.point), r.value, r.unit, stamp, r.quality))
            index = due
            yield batch
            continue
        assert speed is not None
        wait = (int(merged[index].timestamp) - first) / 1000 / speed - (time.monotonic() - begun)
        await asyncio.sleep(min(max(wait, tick_s), 1.0))


@dataclass
class ReplayOutcome:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0


async def replay_into(pipeline: Pipeline, batches: AsyncIterator[list[Reading]]) -> ReplayOutcome:
    """Through the pipeline: onto the same points the graph stores them once (nothing changes) while its
    listeners (detectors, live subscriptions) see them again; onto other points they are new data."""
    outcome = ReplayOutcome()
    waiting = []
    async for batch in batches:
        result = await pipeline.submit_readings("replay", "replay", batch)
        outcome.sent += len(batch)
        outcome.accepted += result.accepted
        outcome.rejected += len(result.rejected)
        if result.durable is not None:
            waiting.append(result.durable)
    await asyncio.gather(*waiting)
    return outcome


def check_targets(registry: Registry, onto: Mapping[str, str]) -> None:
    unknown = sorted({t for t in onto.values() if t not in registry.points})
    if unknown:
        raise ConfigError(f"no point {', '.join(repr(u) for u in unknown[:5])} to replay onto")
