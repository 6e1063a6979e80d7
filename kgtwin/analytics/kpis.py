"""Aggregate KPIs at any scope (model, building, storey, space, element type or IFC class), rolled up from
the places below it: element counts by status and class, percent complete by count and weighted by
volume or area, points reporting / stale / silent, open anomalies by severity, and observation
statistics over a time window.

Each figure is read once per query at the finest place (building, storey, space) and summed upward
in Python, so a parent's figures are exactly the sum of its children's (plus what sits directly in
the parent), the way hierarchical twins compute aggregates from their children.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kgtwin.model.brick import brick
from kgtwin.sources.field import STATUSES
from kgtwin.store import GraphStore

LEVELS = ("model", "building", "storey", "space")
EXCLUDED_CLASSES = ["IfcOpeningElement", "IfcVirtualElement"]  # not work to be built
DEFAULT_INTERVAL_S = 300
SILENT_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class Scope:
    """Where KPIs are taken: a model, optionally narrowed to a building, storey, space, type or class."""

    model: str
    building: str | None = None
    storey: str | None = None
    space: str | None = None
    element_type: str | None = None
    ifc_class: str | None = None

    @property
    def level(self) -> str:
        for level in ("space", "storey", "building"):
            if getattr(self, level):
                return level
        return "model"

    @property
    def params(self) -> dict[str, Any]:
        return {"model": self.model, "building": self.building, "storey": self.storey, "space": self.space}


@dataclass
class Totals:
    """Figures that add up from children to parents."""

    status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    by_class: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    volume: float = 0.0
    volume_done: float = 0.0
    with_volume: int = 0
    area: float = 0.0
    area_done: float = 0.0
    with_area: int = 0
    points: int = 0
    reporting: int = 0
    stale: int = 0
    silent: int = 0
    anomalies: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # open + acknowledged, by severity
    observations: int = 0
    obs_sum: float = 0.0
    obs_min: float | None = None
    obs_max: float | None = None

    def add(self, other: Totals) -> None:
        for key, n in other.status.items():
            self.status[key] = self.status.get(key, 0) + n
        for key, n in other.by_class.items():
            self.by_class[key] += n
        for name in ("volume", "volume_done", "with_volume", "area", "area_done", "with_area", "points"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("reporting", "stale", "silent", "observations", "obs_sum"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, n in other.anomalies.items():
            self.anomalies[key] += n
        self.obs_min = _min(self.obs_min, other.obs_min)
        self.obs_max = _max(self.obs_max, other.obs_max)

    @property
    def elements(self) -> int:
        return sum(self.status.values())

    @property
    def percent_complete(self) -> float | None:
        total = self.elements
        return round(100.0 * self.status.get("completed", 0) / total, 2) if total else None

    @property
    def percent_complete_by_volume(self) -> float | None:
        return round(100.0 * self.volume_done / self.volume, 2) if self.volume > 0 else None

    @property
    def percent_complete_by_area(self) -> float | None:
        return round(100.0 * self.area_done / self.area, 2) if self.area > 0 else None

    @property
    def obs_avg(self) -> float | None:
        return self.obs_sum / self.observations if self.observations else None


@dataclass
class Kpis:
    level: str  # model, building, storey or space
    uid: str | None  # None for the model level (the model id is in `model`)
    model: str
    totals: Totals
    children: list[Kpis] = field(default_factory=list)


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _place(row: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    return row.get("building"), row.get("storey"), row.get("space")


async def compute(
    store: GraphStore,
    scope: Scope,
    *,
    child_level: str | None = None,
    window: tuple[int, int] | None = None,
    brick_class: str | None = None,
    now_ms: int | None = None,
) -> Kpis:
    """KPIs of a scope, with one child entry per place at `child_level` (e.g. storeys of a building)."""
    now_ms = now_ms or int(time.time() * 1000)
    classes = sorted(brick().subclasses(brick().require(brick_class))) if brick_class else None
    leaves: dict[tuple[str | None, str | None, str | None], Totals] = defaultdict(Totals)
    element_params = {
        **scope.params,
        "elementType": scope.element_type,
        "ifcClass": scope.ifc_class,
        "excluded": EXCLUDED_CLASSES,
    }
    for row in await store.execute("kpis/elements", element_params):
        t = leaves[_place(row)]
        status = row["status"] if row["status"] in t.status else "planned"
        t.status[status] += row["count"]
        t.by_class[row["ifcClass"]] += row["count"]
        t.volume += row["volume"] or 0.0
        t.area += row["area"] or 0.0
        t.with_volume += row["withVolume"]
        t.with_area += row["withArea"]
        if status == "completed":
            t.volume_done += row["volume"] or 0.0
            t.area_done += row["area"] or 0.0
    if scope.element_type is None and scope.ifc_class is None:  # points and anomalies have no type
        point_params = {
            **scope.params,
            "brickClasses": classes,
            "now": now_ms,
            "defaultInterval": DEFAULT_INTERVAL_S,
            "silentAfter": SILENT_AFTER_INTERVALS,
        }
        for row in await store.execute("kpis/points", point_params):
            t = leaves[_place(row)]
            t.points += row["count"]
            t.reporting += row["reporting"]
            t.stale += row["stale"]
            t.silent += row["silent"]
        for row in await store.execute("kpis/anomalies", scope.params):
            leaves[_place(row)].anomalies[row["severity"] or "unknown"] += row["count"]
        if window is not None:
            for row in await window_rows(store, scope, window, classes):
                t = leaves[_place(row)]
                t.observations += row["count"] or 0
                t.obs_sum += row["sum"] or 0.0
                t.obs_min = _min(t.obs_min, row["min"])
                t.obs_max = _max(t.obs_max, row["max"])
    return rollup(scope, leaves, child_level)


def rollup(
    scope: Scope, leaves: Mapping[tuple[str | None, str | None, str | None], Totals], child_level: str | None
) -> Kpis:
    level_index = LEVELS.index(scope.level)
    whole = Totals()
    children: dict[str, Totals] = defaultdict(Totals)
    child_index = LEVELS.index(child_level) if child_level else None
    if child_index is not None and child_index <= level_index:
        raise ValueError(f"children of a {scope.level} are at a level below it, not {child_level}")
    for place, totals in leaves.items():
        whole.add(totals)
        if child_index is not None:
            key = place[child_index - 1]
            if key is not None:
                children[key].add(totals)
    uid = {"model": None, "building": scope.building, "storey": scope.storey, "space": scope.space}[scope.level]
    return Kpis(
        level=scope.level,
        uid=uid,
        model=scope.model,
        totals=whole,
        children=[Kpis(child_level or "", key, scope.model, t) for key, t in sorted(children.items())],
    )


async def window_rows(
    store: GraphStore, scope: Scope, window: tuple[int, int], brick_classes: Iterable[str] | None
) -> list[dict[str, Any]]:
    params = {
        **scope.params,
        "brickClasses": list(brick_classes) if brick_classes is not None else None,
        "points": None,
        "from": window[0],
        "to": window[1],
    }
    return await store.execute("kpis/window", params)


@dataclass
class GroupStats:
    """Observation statistics over a window for one group of points (e.g. one storey of one building)."""

    building: str | None
    storey: str | None
    space: str | None
    points: int
    count: int
    sum: float
    min: float | None
    max: float | None
    latest_avg: float | None

    @property
    def avg(self) -> float | None:
        return self.sum / self.count if self.count else None


async def aggregate(
    store: GraphStore,
    scope: Scope,
    brick_class: str,
    window: tuple[int, int],
    group_by: Iterable[str],
) -> list[GroupStats]:
    """Statistics of every point of a Brick class (and its subclasses), grouped by place.

    "The average of every Temperature_Sensor per storey, for every building of the model" is
    `aggregate(store, Scope(model), "Temperature_Sensor", window, ["building", "storey"])`.
    """
    keys = [k for k in ("building", "storey", "space") if k in set(group_by)]
    unknown = set(group_by) - {"building", "storey", "space"}
    if unknown:
        raise ValueError(f"group by building, storey or space, not {sorted(unknown)}")
    classes = sorted(brick().subclasses(brick().require(brick_class)))
    groups: dict[tuple[str | None, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in await window_rows(store, scope, window, classes):
        groups[tuple(row.get(k) for k in keys)].append(row)
    out = []
    for key, rows in sorted(groups.items(), key=lambda item: tuple(k or "" for k in item[0])):
        place = dict(zip(keys, key, strict=True))
        latest = [r["lastValue"] for r in rows if r["lastValue"] is not None and math.isfinite(r["lastValue"])]
        mins = [r["min"] for r in rows if r["min"] is not None]
        maxs = [r["max"] for r in rows if r["max"] is not None]
        out.append(
            GroupStats(
                building=place.get("building"),
                storey=place.get("storey"),
                space=place.get("space"),
                points=len(rows),
                count=sum(r["count"] or 0 for r in rows),
                sum=sum(r["sum"] or 0.0 for r in rows),
                min=min(mins) if mins else None,
                max=max(maxs) if maxs else None,
                latest_avg=sum(latest) / len(latest) if latest else None,
            )
        )
    return out
