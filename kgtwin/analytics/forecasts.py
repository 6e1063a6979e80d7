"""Forecasts: a point's trend over a horizon with a prediction interval and when it will cross a limit;
concrete maturity (Nurse–Saul) from temperature points in slabs and walls, and when it reaches its target.

The trend is a robust straight line (Huber-weighted least squares) through the recent window: a
few wild readings do not tilt it. Its interval widens with the distance from the data and allows
for autocorrelated residuals (the effective number of readings shrinks with the lag-1 correlation),
so it stays honest for smooth sensor signals; it assumes the trend goes on as it is.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from kgtwin.errors import KgtwinError
from kgtwin.ingest.history import raw_series
from kgtwin.ingest.observations import linear
from kgtwin.model.brick import brick
from kgtwin.store import GraphStore

Z_95 = 1.959964  # two-sided 95% of a normal distribution
HUBER_K = 1.345  # 95% efficiency at the normal distribution
DATUM_C = -10.0  # Nurse–Saul datum temperature (ASTM C1074 uses −10 °C without a mix-specific value)
DEFAULT_TARGET_CH = 2000.0  # °C·h: a common stripping maturity; per element `maturityTarget` overrides it
CONCRETE_CLASSES = (
    "IfcSlab",
    "IfcSlabStandardCase",
    "IfcSlabElementedCase",
    "IfcWall",
    "IfcWallStandardCase",
    "IfcWallElementedCase",
)
HOUR_MS = 3_600_000


class ForecastError(KgtwinError):
    exit_code = 2


@dataclass(frozen=True)
class Crossing:
    """When the trend reaches a limit: by the central line, and by the edges of the interval."""

    limit: str  # "max" or "min"
    value: float
    at: int | None  # epoch ms; None when the central line never gets there
    earliest: int | None  # the interval's edge reaches it
    latest: int | None  # the interval's other edge reaches it (None: not within the look-ahead)
    already: bool = False  # the latest fitted value is beyond it


@dataclass(frozen=True)
class Trend:
    point: str
    unit: str | None
    readings: int
    start: int  # the window used, epoch ms
    end: int  # its last reading
    level: float  # fitted value at `end`
    slope_per_hour: float
    horizon_ms: int
    forecast: float  # fitted value at end + horizon
    lower: float  # 95% prediction interval at the horizon
    upper: float
    residual_sd: float
    crossings: tuple[Crossing, ...] = ()


def robust_line(t: np.ndarray, y: np.ndarray, iterations: int = 20) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Huber-weighted least squares: (intercept, slope, weights, residuals) with t as given."""
    weights = np.ones_like(y)
    intercept = slope = 0.0
    residuals = y - y.mean()
    for _ in range(iterations):
        w_sum = weights.sum()
        t_bar, y_bar = (weights * t).sum() / w_sum, (weights * y).sum() / w_sum
        spread = (weights * (t - t_bar) ** 2).sum()
        slope = float((weights * (t - t_bar) * (y - y_bar)).sum() / spread) if spread > 0 else 0.0
        intercept = float(y_bar - slope * t_bar)
        residuals = y - (intercept + slope * t)
        scale = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
        if scale <= 0:
            break
        updated = np.minimum(1.0, HUBER_K * scale / np.maximum(np.abs(residuals), 1e-300))
        if np.allclose(updated, weights, atol=1e-6):
            break
        weights = updated
    return intercept, slope, weights, residuals


def trend_forecast(
    ts: np.ndarray,
    values: np.ndarray,
    horizon_ms: int,
    *,
    min_limit: float | None = None,
    max_limit: float | None = None,
    point: str = "",
    unit: str | None = None,
) -> Trend:
    """Fit the window and look `horizon_ms` past its last reading; limits give crossing times."""
    if ts.size < 3:
        raise ForecastError(f"point {point or '?'}: {ts.size} readings in the window, at least 3 are needed")
    hours = (ts - ts[-1]) / HOUR_MS  # time in hours, 0 at the last reading
    intercept, slope, weights, residuals = robust_line(hours, values)
    n = ts.size
    sd = math.sqrt(float((weights * residuals**2).sum() / max(weights.sum() - 2, 1))) if n > 2 else 0.0
    centred = residuals - residuals.mean()
    denominator = float((centred**2).sum())
    rho = float((centred[1:] * centred[:-1]).sum() / denominator) if denominator > 0 else 0.0
    rho = min(max(rho, 0.0), 0.99)
    effective = max(3.0, n * (1 - rho) / (1 + rho))
    t_bar = float(hours.mean())
    spread = float(((hours - t_bar) ** 2).sum()) * effective / n

    def band(at_hours: np.ndarray) -> np.ndarray:
        fit_var = sd**2 * (1 / effective + (at_hours - t_bar) ** 2 / spread) if spread > 0 else sd**2
        return np.asarray(Z_95 * np.sqrt(sd**2 + fit_var))

    horizon_h = horizon_ms / HOUR_MS
    forecast = intercept + slope * horizon_h
    half = float(band(np.array([horizon_h]))[0])
    window_h = float(-hours[0]) or 1.0
    crossings = []
    for name, limit in (("max", max_limit), ("min", min_limit)):
        if limit is not None:
            crossings.append(_crossing(name, float(limit), intercept, slope, band, window_h, int(ts[-1])))
    return Trend(
        point=point,
        unit=unit,
        readings=int(n),
        start=int(ts[0]),
        end=int(ts[-1]),
        level=intercept,
        slope_per_hour=slope,
        horizon_ms=horizon_ms,
        forecast=forecast,
        lower=forecast - half,
        upper=forecast + half,
        residual_sd=sd,
        crossings=tuple(crossings),
    )


def _crossing(
    name: str, limit: float, intercept: float, slope: float, band: Any, window_h: float, end: int
) -> Crossing:
    """Central crossing solved exactly; the interval's edges on a grid up to 10 windows ahead."""
    sign = 1.0 if name == "max" else -1.0
    if sign * (intercept - limit) >= 0:
        return Crossing(name, limit, end, end, end, already=True)
    central = (limit - intercept) / slope if slope != 0 and (limit - intercept) / slope > 0 else None
    ahead = np.linspace(0.0, 10 * window_h, 4001)[1:]
    edge = band(ahead)
    near = intercept + slope * ahead + sign * edge  # the edge nearer the limit
    far = intercept + slope * ahead - sign * edge
    reached_near = np.flatnonzero(sign * (near - limit) >= 0)
    reached_far = np.flatnonzero(sign * (far - limit) >= 0)

    def at(hours: float | None) -> int | None:
        return None if hours is None else end + int(hours * HOUR_MS)

    return Crossing(
        name,
        limit,
        at(central),
        at(float(ahead[reached_near[0]])) if reached_near.size else None,
        at(float(ahead[reached_far[0]])) if reached_far.size else None,
    )


async def forecast_point(
    store: GraphStore, point: str, horizon_ms: int, window_ms: int | None = None, *, now: int | None = None
) -> Trend:
    """A point's trend from its readings over `window_ms` before its latest (default: 4 × the horizon)."""
    rows = await store.execute("forecasts/point", {"point": point})
    if not rows:
        raise ForecastError(f"no point {point!r} (give its field id or uid)")
    meta = rows[0]
    if meta["lastTime"] is None:
        raise ForecastError(f"point {point!r} has no readings yet")
    end = int(meta["lastTime"]) if now is None else now
    window = window_ms or 4 * horizon_ms
    series = await raw_series(store, meta["uid"], end - window, end + 1)
    return trend_forecast(
        series.ts,
        series.values,
        horizon_ms,
        min_limit=meta["minLimit"],
        max_limit=meta["maxLimit"],
        point=meta["pointId"] or meta["uid"],
        unit=meta["unit"],
    )


# -- concrete maturity --------------------------------------------------------------------------


@dataclass(frozen=True)
class Maturity:
    element: str
    name: str | None
    ifc_class: str | None
    point: str
    since: int  # epoch ms: the cast time, or the first reading
    until: int  # the last reading
    readings: int
    maturity: float  # °C·h above the datum
    datum: float
    target: float
    temperature: float | None  # mean of the last 6 h, °C
    reached: int | None  # when the target was reached, if it was
    eta: int | None  # when it will be reached at the recent temperature (None: reached, or never at it)


def nurse_saul(ts: np.ndarray, celsius: np.ndarray, datum: float = DATUM_C) -> np.ndarray:
    """Cumulative temperature-time factor (°C·h) at each reading: the trapezoid of (T − datum)
    between readings, counting nothing below the datum (ASTM C1074)."""
    if ts.size == 0:
        return np.empty(0)
    hours = np.diff(ts) / HOUR_MS
    mean = (celsius[1:] + celsius[:-1]) / 2
    return np.concatenate([[0.0], np.cumsum(np.maximum(mean - datum, 0.0) * hours)])


def maturity_of(
    ts: np.ndarray,
    celsius: np.ndarray,
    *,
    element: str,
    point: str,
    target: float = DEFAULT_TARGET_CH,
    datum: float = DATUM_C,
    name: str | None = None,
    ifc_class: str | None = None,
    recent_ms: int = 6 * HOUR_MS,
) -> Maturity:
    factor = nurse_saul(ts, celsius, datum)
    total = float(factor[-1]) if factor.size else 0.0
    recent = celsius[ts >= ts[-1] - recent_ms] if ts.size else celsius
    temperature = float(recent.mean()) if recent.size else None
    reached_at = np.flatnonzero(factor >= target)
    reached = None
    if reached_at.size:
        i = int(reached_at[0])  # interpolate inside the interval where it got there
        before = factor[i - 1] if i else 0.0
        share = (target - before) / (factor[i] - before) if i and factor[i] > before else 0.0
        reached = int(ts[i - 1] + share * (ts[i] - ts[i - 1])) if i else int(ts[0])
    eta = None
    if reached is None and temperature is not None and temperature > datum:
        eta = int(ts[-1] + (target - total) / (temperature - datum) * HOUR_MS)
    return Maturity(
        element=element,
        name=name,
        ifc_class=ifc_class,
        point=point,
        since=int(ts[0]) if ts.size else 0,
        until=int(ts[-1]) if ts.size else 0,
        readings=int(ts.size),
        maturity=total,
        datum=datum,
        target=target,
        temperature=temperature,
        reached=reached,
        eta=eta,
    )


async def concrete_maturity(
    store: GraphStore,
    model: str,
    *,
    target: float | None = None,
    datum: float | None = None,
    ifc_classes: tuple[str, ...] = CONCRETE_CLASSES,
    now: int | None = None,
) -> list[Maturity]:
    """Maturity of every slab and wall of a model with a temperature point, from its cast time (the
    element's `castTime`, else the point's first reading). The element's `maturityTarget` and
    `maturityDatum` win over the arguments, which win over the defaults."""
    classes = sorted(brick().subclasses("Temperature_Sensor"))
    rows = await store.execute(
        "forecasts/concrete_points", {"model": model, "classes": list(ifc_classes), "pointClasses": classes}
    )
    end = now or int(time.time() * 1000) + 1
    found = []
    for row in rows:
        since = int(row["castTime"]) if row["castTime"] is not None else 0
        series = await raw_series(store, row["point"], since, end)
        if series.ts.size == 0:
            continue
        factor, offset = linear(row["unit"] or "degC", "degC")
        found.append(
            maturity_of(
                series.ts,
                series.values * factor + offset,
                element=row["element"],
                point=row["pointId"] or row["point"],
                target=float(row["target"] if row["target"] is not None else target or DEFAULT_TARGET_CH),
                datum=float(row["datum"] if row["datum"] is not None else DATUM_C if datum is None else datum),
                name=row["name"],
                ifc_class=row["ifcClass"],
            )
        )
    return found
