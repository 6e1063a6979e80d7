"""Detector settings: built-in defaults, then a YAML file's defaults, Brick classes (most general
first, so a subclass wins) and single points; conditions are declared in the same file.

    defaults:                        # every point
      robust_z: {window: 64, threshold: 8}
    classes:                         # a Brick class and every class below it
      Temperature_Sensor:
        rate: {max: 2, per: 1min}
      CO2_Sensor:
        limits: {max: 2000, critical_max: 5000}
    points:                          # a point by its field id or uid
      r101-temp:
        flatline: off
    conditions:
      - {name: overspeed, when: spindleRpm > 10000, severity: warning, for: {ifc_class: IfcPump}}

A detector given as `off` (or `false`) is switched off there; a mapping changes only the keys it names.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from kgtwin.errors import ConfigError
from kgtwin.model.brick import brick

SEVERITIES = ("info", "warning", "critical")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h|d|w)\s*$")
_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "sec": 1000,
    "min": 60_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}


def parse_duration(value: Any, where: str) -> int:
    """Milliseconds from `90s`, `15min`, `2h`, `1d` (a bare number is seconds)."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not a duration such as 30s, 15min, 2h or 1d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{where}: a duration cannot be negative")
        return int(value * 1000)
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{where}: {value!r} is not a duration such as 30s, 15min, 2h or 1d")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


@dataclass(frozen=True)
class Detector:
    """What every detector shares: when an anomaly opens, escalates, ends, and whether it resolves itself.

    `persist`/`persist_for`: readings out of line must last this many readings and this long before
    an anomaly opens (its start is the first of them). `clear_after`: readings back to normal
    before it ends. `cooldown`: a new excursion this soon after the end continues the same anomaly.
    `accept_after`: an excursion that lasts longer has become the normal level; the anomaly ends.
    """

    enabled: bool = True
    severity: str = "warning"
    persist: int = 1
    persist_for: int = 0  # ms
    clear_after: int = 3
    cooldown: int = 10 * 60_000  # ms
    accept_after: int | None = None  # ms
    auto_resolve: bool = False


@dataclass(frozen=True)
class Limits(Detector):
    """Fixed limits: the point's minLimit/maxLimit unless set here; beyond critical_* is critical."""

    min: float | None = None
    max: float | None = None
    critical_min: float | None = None
    critical_max: float | None = None
    deadband: float = 0.0  # back inside by at least this much before it counts as normal


@dataclass(frozen=True)
class RobustZ(Detector):
    """A reading far from the median of the readings before it, in units of their spread (MAD)."""

    window: int = 64
    threshold: float = 8.0
    critical: float = 16.0
    clear: float = 3.0
    min_scale: float = 0.0  # a floor on the spread (the sensor's resolution), in the point's unit
    accept_after: int | None = 86_400_000


@dataclass(frozen=True)
class ZScore(Detector):
    """A level far from the exponentially weighted mean of about `window` readings, in standard deviations."""

    window: int = 1000
    threshold: float = 4.0
    critical: float = 8.0
    clear: float = 2.0
    persist: int = 3
    persist_for: int = 10 * 60_000
    accept_after: int | None = 86_400_000


@dataclass(frozen=True)
class Drift(Detector):
    """The trend (slope over about `span` readings) far from its usual values over about `window` readings."""

    span: int = 300
    window: int = 3000
    threshold: float = 8.0
    critical: float = 16.0
    clear: float = 3.0
    accept_after: int | None = 86_400_000


@dataclass(frozen=True)
class Rate(Detector):
    """A change between consecutive readings faster than `max` per `per`; off until `max` is set."""

    max: float | None = None
    per: int = 1000  # ms
    critical: float | None = None  # a rate (per `per`) that is critical


@dataclass(frozen=True)
class Flatline(Detector):
    """A stuck sensor: readings that differ by at most `tolerance` for `readings` readings and `duration`."""

    tolerance: float = 0.0
    readings: int = 12
    duration: int = 30 * 60_000  # ms
    clear_after: int = 1


@dataclass(frozen=True)
class Silence(Detector):
    """No reading for `factor` × the expected interval (the point's, `interval` here, or learned)."""

    factor: float = 3.0
    critical: float = 20.0
    interval: int | None = None  # ms
    clear_after: int = 1


DETECTOR_TYPES: dict[str, type[Detector]] = {
    "limits": Limits,
    "robust_z": RobustZ,
    "zscore": ZScore,
    "drift": Drift,
    "rate": Rate,
    "flatline": Flatline,
    "silence": Silence,
}
# What an anomaly of each detector is, for the graph's `kind`.
KIND_OF = {
    "limits": "limit",
    "robust_z": "outlier",
    "zscore": "level_shift",
    "drift": "drift",
    "rate": "rate",
    "flatline": "flatline",
    "silence": "silence",
}
_DURATION_KEYS = {"persist_for", "cooldown", "accept_after", "per", "duration", "interval"}


@dataclass(frozen=True)
class PointSettings:
    """Every detector's settings for one point (hashable: points with equal settings share state arrays)."""

    limits: Limits = field(default_factory=Limits)
    robust_z: RobustZ = field(default_factory=RobustZ)
    zscore: ZScore = field(default_factory=ZScore)
    drift: Drift = field(default_factory=Drift)
    rate: Rate = field(default_factory=Rate)
    flatline: Flatline = field(default_factory=Flatline)
    silence: Silence = field(default_factory=Silence)

    def detector(self, name: str) -> Detector:
        return getattr(self, name)  # type: ignore[no-any-return]


Overrides = dict[str, dict[str, Any]]  # detector name -> the keys a section changes


def _check_section(section: Any, where: str) -> Overrides:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: expected a mapping of detectors ({', '.join(DETECTOR_TYPES)})")
    checked: Overrides = {}
    for name, body in section.items():
        if name not in DETECTOR_TYPES:
            raise ConfigError(f"{where}: unknown detector {name!r} (known: {', '.join(DETECTOR_TYPES)})")
        checked[name] = _check_detector(DETECTOR_TYPES[name], body, f"{where}.{name}")
    return checked


def _check_detector(kind: type[Detector], body: Any, where: str) -> dict[str, Any]:
    if body is None or body is True:
        return {"enabled": True}
    if body is False or body == "off":
        return {"enabled": False}
    if not isinstance(body, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, or off")
    known = {f.name: f for f in fields(kind)}
    values: dict[str, Any] = {"enabled": True}
    for key, value in body.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        spot = f"{where}.{key}"
        if key in _DURATION_KEYS:
            values[key] = None if value is None else parse_duration(value, spot)
        elif key == "severity":
            if value not in SEVERITIES:
                raise ConfigError(f"{spot}: {value!r} is not one of {', '.join(SEVERITIES)}")
            values[key] = value
        elif key in ("enabled", "auto_resolve"):
            if not isinstance(value, bool):
                raise ConfigError(f"{spot}: expected true or false")
            values[key] = value
        elif key in ("window", "span", "readings", "persist", "clear_after"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{spot}: expected a whole number of readings (1 or more)")
            values[key] = value
        else:
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ConfigError(f"{spot}: {value!r} is not a number")
            values[key] = None if value is None else float(value)
    if values.get("window") is not None and kind in (RobustZ, ZScore, Drift) and values["window"] < 8:
        raise ConfigError(f"{where}.window: at least 8 readings")
    return values


def _apply(settings: PointSettings, overrides: Overrides) -> PointSettings:
    changed = {name: replace(settings.detector(name), **values) for name, values in overrides.items()}
    return replace(settings, **changed)


@dataclass(frozen=True)
class ConditionSpec:
    """A user's rule on properties of elements or spaces, as declared (parsed by kgtwin.analytics.conditions)."""

    name: str
    when: str
    severity: str = "warning"
    clear: str | None = None
    critical: str | None = None
    model: str | None = None
    ifc_class: str | None = None
    element: str | None = None
    space: str | None = None
    episode: Detector = field(default_factory=Detector)


@dataclass(frozen=True)
class DetectorConfig:
    defaults: Overrides = field(default_factory=dict)
    classes: dict[str, Overrides] = field(default_factory=dict)
    points: dict[str, Overrides] = field(default_factory=dict)
    conditions: tuple[ConditionSpec, ...] = ()
    source: str = "built-in defaults"

    @cached_property
    def _class_depth(self) -> dict[str, int]:
        tree = brick()
        return {name: len(tree.superclasses(name)) for name in self.classes}

    def settings_for(self, point_ids: tuple[str | None, ...], brick_class: str | None) -> PointSettings:
        """Built-in defaults, the file's defaults, each configured class the point's class falls under
        (most general first), then the point's own section (by any of its ids)."""
        settings = _apply(PointSettings(), self.defaults)
        if brick_class and self.classes:
            above = brick().superclasses(brick_class) if brick().is_class(brick_class) else {brick_class}
            for name in sorted((c for c in self.classes if c in above), key=lambda c: self._class_depth[c]):
                settings = _apply(settings, self.classes[name])
        for point_id in point_ids:
            if point_id and point_id in self.points:
                settings = _apply(settings, self.points[point_id])
                break
        return settings


def parse_config(data: Any, where: str) -> DetectorConfig:
    if data is None:
        return DetectorConfig(source=where)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping with defaults, classes, points and conditions")
    unknown = set(data) - {"defaults", "classes", "points", "conditions"}
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {sorted(unknown)} (use defaults, classes, points, conditions)")
    defaults = _check_section(data.get("defaults") or {}, f"{where}: defaults")
    classes: dict[str, Overrides] = {}
    tree = brick()
    for name, section in (data.get("classes") or {}).items():
        if not tree.is_class(str(name)):
            raise ConfigError(f"{where}: classes.{name} is not a Brick class (names are like Air_Temperature_Sensor)")
        classes[str(name)] = _check_section(section or {}, f"{where}: classes.{name}")
    points = {
        str(pid): _check_section(section or {}, f"{where}: points.{pid}")
        for pid, section in (data.get("points") or {}).items()
    }
    conditions = tuple(
        _check_condition(c, f"{where}: conditions[{i}]") for i, c in enumerate(data.get("conditions") or [])
    )
    names = [c.name for c in conditions]
    if len(names) != len(set(names)):
        raise ConfigError(f"{where}: condition names must be unique")
    return DetectorConfig(defaults, classes, points, conditions, where)


def _check_condition(entry: Any, where: str) -> ConditionSpec:
    from kgtwin.analytics.conditions import parse_expression

    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping with name, when (or condition) and severity")
    known = {"name", "when", "condition", "severity", "clear", "critical", "for", *(f.name for f in fields(Detector))}
    unknown = set(entry) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    name = entry.get("name")
    when = entry.get("when", entry.get("condition"))
    if not name or not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]{1,64}$", name):
        raise ConfigError(f"{where}: needs a name of letters, digits, '_', '-' or '.'")
    where = f"{where} ({name})"
    if not isinstance(when, str):
        raise ConfigError(f"{where}: needs `when: <expression>`, such as `spindleRpm > 10000`")
    for key in ("when", "clear", "critical"):
        text = when if key == "when" else entry.get(key)
        if text is not None:
            parse_expression(str(text), f"{where}.{key}")
    scope = entry.get("for") or {}
    if not isinstance(scope, Mapping) or set(scope) - {"model", "ifc_class", "element", "space"}:
        raise ConfigError(f"{where}.for: give any of model, ifc_class, element, space")
    episode_keys = {k: v for k, v in entry.items() if k in {f.name for f in fields(Detector)} and k != "severity"}
    # A condition is evaluated when a property changes, which may be seldom: it ends on the first
    # evaluation that clears it unless told otherwise (its `clear` expression is the hysteresis).
    episode = replace(Detector(clear_after=1), **_check_detector(Detector, episode_keys, where))
    severity = entry.get("severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}.severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    return ConditionSpec(
        name=name,
        when=when,
        severity=severity,
        clear=entry.get("clear"),
        critical=entry.get("critical"),
        model=scope.get("model"),
        ifc_class=scope.get("ifc_class"),
        element=scope.get("element"),
        space=scope.get("space"),
        episode=dataclasses.replace(episode, severity=severity),
    )


def load_config(path: Path | str | None = None) -> DetectorConfig:
    """The detectors file: `path` (a --detectors option), else KGTWIN_DETECTORS, else the built-in defaults.

    Read here rather than with the engine settings: only processes that detect need it.
    """
    path = path or os.environ.get("KGTWIN_DETECTORS")
    if path is None or str(path) == "":
        return DetectorConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"detectors file {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_config(data, str(path))
