"""Readings as they arrive, checked against the point registry and converted to each point's unit."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pint

from kgtwin.sources.sensors import units
from kgtwin.store import GraphStore

FUTURE_TOLERANCE_MS = 5 * 60 * 1000  # clocks in the field drift; further ahead is an error


class Reading(NamedTuple):
    """One reading as a message states it, before it is checked.

    Readings and observations are named tuples: tens of thousands are made per second, and a
    frozen dataclass costs several times as much to create.
    """

    point: str
    value: Any
    unit: str | None = None
    timestamp: Any = None  # epoch ms, epoch s, or ISO 8601 text
    quality: str = "good"


class Observation(NamedTuple):
    """A checked reading in its point's unit, with measurement and arrival times kept apart."""

    point_uid: str
    ts: int  # measurement time, epoch ms UTC
    value: float
    quality: str
    arrived: int  # arrival time, epoch ms UTC


@dataclass(frozen=True)
class Rejection:
    reason: str
    reading: dict[str, Any]


@dataclass(frozen=True)
class Binding:
    target_uid: str
    target_label: str
    property: str
    factor: float  # value in the point's unit * factor + offset = value in the property's unit
    offset: float
    rule: str = "physical_wins"  # see kgtwin.sources.field


@dataclass
class PointInfo:
    uid: str
    unit: str | None
    bindings: list[Binding] = field(default_factory=list)
    min_limit: float | None = None
    max_limit: float | None = None
    interval: float | None = None
    brick_class: str | None = None
    model: str | None = None


class Registry:
    """Points by the ids the field uses (pointId, else uid), loaded from the graph."""

    def __init__(self, points: dict[str, PointInfo]) -> None:
        self.points = points
        self._conversions: dict[tuple[str, str], tuple[float, float] | None] = {}

    @classmethod
    async def load(cls, store: GraphStore) -> Registry:
        points: dict[str, PointInfo] = {}
        for row in await store.execute("ingest/registry"):
            bindings = []
            for b in row["bindings"]:
                if not b.get("property") or not b.get("target"):
                    continue
                factor, offset = linear(row["unit"] or "dimensionless", b.get("unit") or row["unit"] or "dimensionless")
                label = "Space" if "Space" in b["labels"] else "Element"
                scale, extra = float(b.get("scale") or 1.0), float(b.get("offset") or 0.0)
                bindings.append(
                    Binding(
                        b["target"],
                        label,
                        b["property"],
                        factor * scale,
                        offset * scale + extra,
                        b.get("conflict") or "physical_wins",
                    )
                )
            info = PointInfo(
                uid=row["uid"],
                unit=row["unit"],
                bindings=bindings,
                min_limit=row["minLimit"],
                max_limit=row["maxLimit"],
                interval=row["interval"],
                brick_class=row["brickClass"],
                model=row["model"],
            )
            points[row["uid"]] = info
            if row["pointId"]:
                points[row["pointId"]] = info
        return cls(points)

    def conversion(self, source: str, target: str) -> tuple[float, float] | None:
        """(factor, offset) from one unit to another, or None when they measure different things."""
        key = (source, target)
        if key not in self._conversions:
            try:
                self._conversions[key] = linear(source, target)
            except (pint.errors.DimensionalityError, pint.errors.UndefinedUnitError, ValueError, AttributeError):
                self._conversions[key] = None
        return self._conversions[key]

    def check(self, reading: Reading, arrived: int) -> Observation | Rejection:
        info = self.points.get(reading.point)
        if info is None:
            return Rejection(f"unknown point {reading.point!r}", _as_dict(reading))
        value = reading.value
        if type(value) is not float and type(value) is not int:  # the common cases first: this runs per reading
            if isinstance(value, bool):
                return Rejection(f"value {value!r} is not a number", _as_dict(reading))
            try:
                value = float(value)
            except (TypeError, ValueError):
                return Rejection(f"value {reading.value!r} is not a number", _as_dict(reading))
        value = float(value)
        if not math.isfinite(value):
            return Rejection(f"value {reading.value!r} is not a finite number", _as_dict(reading))
        if reading.unit and info.unit and reading.unit != info.unit:
            conversion = self.conversion(reading.unit, info.unit)
            if conversion is None:
                return Rejection(
                    f"unit {reading.unit!r} cannot be converted to the point's {info.unit!r}", _as_dict(reading)
                )
            value = value * conversion[0] + conversion[1]
        stamp = reading.timestamp
        ts = stamp if type(stamp) is int and stamp >= 100_000_000_000 else parse_time(stamp, arrived)
        if ts is None:
            return Rejection(f"timestamp {reading.timestamp!r} is not a time", _as_dict(reading))
        if ts > arrived + FUTURE_TOLERANCE_MS:
            return Rejection(f"timestamp {reading.timestamp!r} is more than 5 minutes in the future", _as_dict(reading))
        return Observation(info.uid, ts, value, str(reading.quality or "good"), arrived)


def linear(source: str, target: str) -> tuple[float, float]:
    """Unit conversions are affine (temperatures have an offset): y = x * factor + offset."""
    if source == target:
        return 1.0, 0.0
    zero = units.Quantity(0.0, source).to(target).magnitude
    one = units.Quantity(1.0, source).to(target).magnitude
    # pint goes through base units (degC -> K -> degF); 12 significant digits drop its float noise
    return float(f"{one - zero:.12g}"), float(f"{zero:.12g}")


def parse_time(value: Any, default: int) -> int | None:
    """Epoch milliseconds from epoch ms, epoch seconds or ISO 8601; missing means arrival time."""
    import datetime as dt

    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        return int(value * 1000) if value < 1e11 else int(value)  # seconds until year 5138
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return parse_time(float(value), default)
            except ValueError:
                return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    return None


def now_ms() -> int:
    return int(time.time() * 1000)


def _as_dict(reading: Reading) -> dict[str, Any]:
    return {
        "sensor_id": reading.point,
        "value": _jsonable(reading.value),
        "unit": reading.unit,
        "timestamp": _jsonable(reading.timestamp),
        "quality": reading.quality,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
