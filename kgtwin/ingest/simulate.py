"""Realistic readings for the points of a loaded model, with planted faults whose plan is known in advance:
the library behind `kgtwin simulate`, the demo, the tests and the benchmarks (transports are separate)."""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import math
import re
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from kgtwin.errors import ConfigError
from kgtwin.ingest.observations import Reading, now_ms
from kgtwin.model.brick import brick
from kgtwin.store import GraphStore

HOUR = 3_600_000
DAY = 24 * HOUR


# --- what is simulated ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """How a kind of point behaves: its unit, its plausible range (for out-of-range faults), its fault sizes."""

    unit: str | None
    low: float
    high: float
    spike: float  # added by a spike fault
    drift: float  # reached by the end of a drift fault


BEHAVIOURS = {
    "air_temperature": Behaviour("degC", -10.0, 50.0, 15.0, 3.0),
    "humidity": Behaviour("percent", 0.0, 100.0, 30.0, 10.0),
    "co2": Behaviour("ppm", 300.0, 5000.0, 2500.0, 300.0),
    "occupancy": Behaviour(None, 0.0, 1.0, 1.0, 0.0),
    "concrete_temperature": Behaviour("degC", -10.0, 90.0, 25.0, 5.0),
    "generic": Behaviour(None, 0.0, 100.0, 40.0, 15.0),
}
_KIND_OF_CLASS = (  # the first Brick class a point's class falls under decides
    ("CO2_Sensor", "co2"),
    ("Humidity_Sensor", "humidity"),
    ("Occupancy_Sensor", "occupancy"),
    ("Motion_Sensor", "occupancy"),
    ("Temperature_Sensor", "air_temperature"),
)


@dataclass(frozen=True)
class SimPoint:
    uid: str
    key: str  # what messages call it: its field id, else its uid
    kind: str  # a key of BEHAVIOURS
    unit: str | None
    interval_s: float
    room: str | None  # the space it is in: one room's points share its occupancy and climate
    min_limit: float | None = None
    max_limit: float | None = None
    sparkplug: str | None = None
    opcua: str | None = None

    @property
    def behaviour(self) -> Behaviour:
        return BEHAVIOURS[self.kind]


def kind_of(brick_class: str | None, on_slab: bool, object_type: str | None) -> str:
    tree = brick()
    above = tree.superclasses(brick_class) if brick_class and tree.is_class(brick_class) else {brick_class}
    for cls, kind in _KIND_OF_CLASS:
        if cls in above:
            if kind == "air_temperature" and (on_slab or "concrete" in (object_type or "").lower()):
                return "concrete_temperature"
            return kind
    return "generic"


async def load_points(
    store: GraphStore,
    model: str | None,
    *,
    limit: int | None = None,
    classes: Sequence[str] = (),
    interval_s: float | None = None,
) -> list[SimPoint]:
    """The points of a model (every model when None) as the simulator sees them, sorted by their key."""
    tree = brick()
    wanted = set().union(*(tree.subclasses(c) for c in classes)) if classes else None
    points = []
    for row in await store.execute("sensors/points", {"model": model}):
        if wanted is not None and row["brickClass"] not in wanted:
            continue
        targets = [t for t in row["targets"] if t.get("uid")]
        on_slab = any(t.get("ifcClass") == "IfcSlab" for t in targets)
        kind = kind_of(row["brickClass"], on_slab, row["objectType"])
        unit = BEHAVIOURS[kind].unit or row["unit"]
        points.append(
            SimPoint(
                uid=row["uid"],
                key=row["pointId"] or row["uid"],
                kind=kind,
                unit=unit,
                interval_s=float(interval_s or row["interval"] or 60.0),
                room=row["space"] or row["storey"],
                min_limit=row["minLimit"],
                max_limit=row["maxLimit"],
                sparkplug=row["sparkplug"],
                opcua=row["opcua"],
            )
        )
    points.sort(key=lambda p: p.key)
    if not points:
        raise ConfigError(f"no points to simulate in model {model!r} (load a model or a sensor registry first)")
    return points[:limit] if limit else points


# --- faults ---------------------------------------------------------------------------------------------

FAULT_KINDS = ("spike", "drift", "stuck", "dropout", "out-of-range")
_DEFAULT_SHARE = {"drift": 0.25, "stuck": 0.1, "dropout": 0.1, "out-of-range": 0.05}  # of the simulated span


@dataclass(frozen=True)
class Fault:
    """A planted fault: what a detector should find, on which point, from start to end (epoch ms, end
    exclusive). A spike lasts exactly one reading."""

    kind: str
    point: str  # the point's key (its field id, else its uid)
    start: int
    end: int
    magnitude: float

    def covers(self, ts: int) -> bool:
        return self.start <= ts < self.end

    def as_row(self) -> dict[str, Any]:
        iso = {k: dt.datetime.fromtimestamp(getattr(self, k) / 1000, dt.UTC).isoformat() for k in ("start", "end")}
        return {**asdict(self), "startIso": iso["start"], "endIso": iso["end"]}


_FAULT = re.compile(r"^(?P<kind>[a-z-]+)(:(?P<point>[^@]+))?(@(?P<start>[^+]+)(\+(?P<length>.+))?)?$")


def parse_fault(text: str) -> tuple[str, str | None, str | None, str | None]:
    """`KIND[:POINT][@START[+LENGTH]]`, START and LENGTH as durations after the simulation starts."""
    match = _FAULT.match(text.strip())
    if not match or match["kind"] not in FAULT_KINDS:
        raise ConfigError(
            f"fault {text!r} is not KIND[:POINT][@START[+LENGTH]] with KIND one of {', '.join(FAULT_KINDS)}"
        )
    point = match["point"] if match["point"] not in (None, "*") else None
    return match["kind"], point, match["start"], match["length"]


def plan_faults(
    points: Sequence[SimPoint],
    requested: Iterable[tuple[str, str | None, int | None, int | None]],
    random_faults: int,
    start_ms: int,
    span_ms: int,
    seed: int,
) -> list[Fault]:
    """Faults at the times asked for, the rest placed at random (seeded) inside the simulated span.

    `requested` holds (kind, point key or None, start offset ms or None, length ms or None)."""
    rng = np.random.default_rng([seed, 0xFA])
    by_key = {p.key: p for p in points}
    by_uid = {p.uid: p for p in points}
    wanted = list(requested)
    for _ in range(random_faults):
        wanted.append((str(rng.choice(FAULT_KINDS)), None, None, None))
    faults = []
    for kind, key, offset, length in wanted:
        if key is not None:
            point = by_key.get(key) or by_uid.get(key)
            if point is None:
                raise ConfigError(f"fault on {key!r}: no such point among the {len(points)} simulated")
        else:
            candidates = [p for p in points if kind != "drift" or p.kind != "occupancy"]  # a binary cannot drift
            point = candidates[int(rng.integers(len(candidates)))]
        interval = int(point.interval_s * 1000)
        if length is None:
            length = interval if kind == "spike" else max(int(span_ms * _DEFAULT_SHARE[kind]), 2 * interval)
        if offset is None:
            offset = int(rng.uniform(0.1, 0.8) * max(span_ms - length, 0))
        begin = start_ms + offset
        if kind == "spike":
            begin = _next_reading(point, start_ms, begin, seed)
            length = interval
        behaviour = point.behaviour
        magnitude = {
            "spike": behaviour.spike,
            "drift": behaviour.drift,
            "out-of-range": (point.max_limit if point.max_limit is not None else behaviour.high)
            + 0.2 * (behaviour.high - behaviour.low),
        }.get(kind, 0.0)
        faults.append(Fault(kind, point.key, begin, begin + length, round(magnitude, 6)))
    faults.sort(key=lambda f: (f.start, f.point))
    return faults


def _next_reading(point: SimPoint, start_ms: int, at: int, seed: int) -> int:
    """The time of the point's first reading at or after `at` (so a spike hits exactly one reading)."""
    interval = int(point.interval_s * 1000)
    first = start_ms + _phase(point, seed, interval)
    steps = max(0, math.ceil((at - first) / interval))
    return first + steps * interval


def _phase(point: SimPoint, seed: int, interval_ms: int) -> int:
    # Sensors are not synchronised: each starts at its own (seeded) offset within its interval.
    return zlib.crc32(f"{seed}:{point.uid}".encode()) % max(interval_ms, 1)


# --- the models -----------------------------------------------------------------------------------------


@dataclass
class _Room:
    """What a room's points share: how it is used and how warm it runs."""

    base_temperature: float
    swing: float
    capacity: float  # CO2 rise at full occupancy, ppm
    arrive: float  # hours
    leave: float
    busy: float  # share of working days it is used at all
    used: dict[int, bool] = field(default_factory=dict)  # day number → used that day


@dataclass
class _State:
    rng: np.random.Generator
    noise: list[float] = field(default_factory=list)  # drawn in blocks: one numpy call per 256 readings
    co2: float = 420.0
    last_ts: int | None = None
    stuck: float | None = None
    pour: int = 0  # concrete: when the slab was poured
    hydration: float = 20.0  # concrete: peak temperature rise, K
    tau_h: float = 24.0  # concrete: hours to the peak


class Simulator:
    """Readings in time order for every point, from `start_ms` on; `advance(until)` yields the next ones.

    The models: air temperature and humidity follow a diurnal curve per room (warmest mid-afternoon,
    most humid before dawn) plus the heat and moisture of occupants; occupancy follows a working-day
    schedule per room (arrival, lunch dip, departure, quiet weekends); CO2 approaches 420 ppm plus the
    occupants' share with a 20-minute time constant; a sensor on a slab sees the concrete's hydration
    heat (a rise to a peak one to two days after pouring, then cooling). Noise is seeded per point."""

    def __init__(
        self,
        points: Sequence[SimPoint],
        start_ms: int,
        *,
        seed: int = 1,
        faults: Sequence[Fault] = (),
        utc_offset_h: float = 0.0,
    ) -> None:
        self.points = list(points)
        self.seed, self.start_ms, self.utc_offset_h = seed, start_ms, utc_offset_h
        self.faults: dict[str, list[Fault]] = {}
        for fault in faults:
            self.faults.setdefault(fault.point, []).append(fault)
        self.plan = sorted(faults, key=lambda f: (f.start, f.point))
        self._rooms: dict[str | None, _Room] = {}
        self._states = [self._state(p) for p in self.points]
        self._due = [
            (start_ms + _phase(p, seed, int(p.interval_s * 1000)), index) for index, p in enumerate(self.points)
        ]
        heapq.heapify(self._due)
        self.emitted = 0

    def _state(self, point: SimPoint) -> _State:
        rng = np.random.default_rng([self.seed, zlib.crc32(point.uid.encode())])
        state = _State(rng)
        if point.kind == "concrete_temperature":
            state.pour = self.start_ms - int(rng.uniform(0, 36) * HOUR)  # poured up to 1.5 days before
            state.hydration = float(rng.uniform(15, 30))
            state.tau_h = float(rng.uniform(18, 30))
        return state

    def _room(self, room: str | None) -> _Room:
        if room not in self._rooms:
            rng = np.random.default_rng([self.seed, zlib.crc32(str(room).encode()), 7])
            self._rooms[room] = _Room(
                base_temperature=float(rng.normal(21.0, 0.7)),
                swing=float(rng.uniform(0.8, 1.8)),
                capacity=float(rng.uniform(350, 900)),
                arrive=float(rng.normal(8.0, 0.4)),
                leave=float(rng.normal(17.5, 0.5)),
                busy=float(rng.uniform(0.6, 1.0)),
            )
        return self._rooms[room]

    @property
    def next_due(self) -> int:
        return self._due[0][0] if self._due else 2**62

    def advance(self, until_ms: int) -> list[Reading]:
        """Every reading with a time before `until_ms` not yet produced, in time order."""
        out = []
        while self._due and self._due[0][0] < until_ms:
            ts, index = heapq.heappop(self._due)
            point = self.points[index]
            heapq.heappush(self._due, (ts + int(point.interval_s * 1000), index))
            value = self._faulty(point, self._states[index], ts, self._value(point, self._states[index], ts))
            if value is not None:
                out.append(Reading(point.key, value, point.unit, ts, "good"))
        self.emitted += len(out)
        return out

    def _value(self, point: SimPoint, state: _State, ts: int) -> float:
        room = self._room(point.room)
        local = ts + int(self.utc_offset_h * HOUR)
        hour = (local % DAY) / HOUR
        present = self._presence(point.room, room, local // DAY, hour)
        if not state.noise:
            state.noise = state.rng.standard_normal(256).tolist()
        noise = state.noise.pop()
        kind = point.kind
        if kind == "air_temperature":
            return round(
                room.base_temperature
                + room.swing * math.cos(2 * math.pi * (hour - 15) / 24)
                + 0.8 * present
                + 0.08 * noise,
                3,
            )
        if kind == "humidity":
            rh = 45 + 7 * math.cos(2 * math.pi * (hour - 5) / 24) + 6 * present + 0.7 * noise
            return round(min(max(rh, 15.0), 90.0), 2)
        if kind == "co2":
            target = 420 + room.capacity * present
            step = 0 if state.last_ts is None else ts - state.last_ts
            state.co2 = (
                target if state.last_ts is None else target + (state.co2 - target) * math.exp(-step / (20 * 60_000))
            )
            state.last_ts = ts
            return round(max(state.co2 + 8 * noise, 380.0), 1)
        if kind == "occupancy":  # a motion sensor sees someone with the chance that someone is there
            return 1.0 if 0.5 * (1 + math.erf(noise / math.sqrt(2))) < present else 0.0
        if kind == "concrete_temperature":
            ambient = 14 + 4 * math.cos(2 * math.pi * (hour - 15) / 24)
            x = max(ts - state.pour, 0) / (state.tau_h * HOUR)
            return round(ambient + state.hydration * x * math.exp(1 - x) + 0.05 * noise, 3)
        low = point.min_limit if point.min_limit is not None else 0.0
        high = point.max_limit if point.max_limit is not None else 100.0
        middle, span = (low + high) / 2, (high - low) / 2
        return round(middle + 0.3 * span * math.sin(2 * math.pi * ts / (6 * HOUR)) + 0.02 * span * noise, 4)

    def _presence(self, key: str | None, room: _Room, day: int, hour: float) -> float:
        """Share of the room's people present: 0 at night and on weekends, a lunch dip at noon."""
        if (day + 3) % 7 >= 5:  # 1 January 1970 was a Thursday: Saturday and Sunday are 5 and 6
            return 0.0
        if day not in room.used:  # a room is used on some working days only, the same for all its points
            room.used[day] = zlib.crc32(f"{self.seed}:{key}:{day}".encode()) % 1000 < room.busy * 1000
        if not room.used[day] or hour < room.arrive - 1 or hour > room.leave + 1:
            return 0.0
        ramp_in = _smoothstep((hour - room.arrive) / 0.75)
        ramp_out = 1 - _smoothstep((hour - room.leave) / 0.75)
        lunch = 1 - 0.5 * math.exp(-(((hour - 12.5) / 0.5) ** 2))
        return max(0.0, min(1.0, ramp_in * ramp_out * lunch))

    def _faulty(self, point: SimPoint, state: _State, ts: int, value: float) -> float | None:
        for fault in self.faults.get(point.key, ()):
            if not fault.covers(ts):
                continue
            if fault.kind == "dropout":
                return None
            if fault.kind == "spike":
                return round(value + fault.magnitude, 4)
            if fault.kind == "drift":
                return round(value + fault.magnitude * (ts - fault.start) / (fault.end - fault.start), 4)
            if fault.kind == "out-of-range":
                return round(fault.magnitude + abs(value) * 0.01, 4)
            if fault.kind == "stuck":
                if state.stuck is None:
                    state.stuck = value
                return state.stuck
        state.stuck = None
        return value


def _smoothstep(x: float) -> float:
    x = min(max(x + 0.5, 0.0), 1.0)
    return x * x * (3 - 2 * x)


# --- pacing ---------------------------------------------------------------------------------------------


@dataclass
class Pace:
    """Simulated time against the wall clock: `speed` simulated seconds per second (None: as fast as the
    consumer takes them), never ahead of the real clock, so a start in the past backfills and then runs live."""

    speed: float | None = 1.0
    end_ms: int | None = None
    tick_s: float = 0.05
    started: float = field(default_factory=time.monotonic)


def parse_speed(text: str) -> float | None:
    """`--speed`: a factor above zero, or `max` (None: as fast as the consumer goes)."""
    if text.strip() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--speed {text!r} is not a number or max") from None
    if not value > 0 or math.isinf(value):
        raise ConfigError("--speed must be a number above zero, or max")
    return value


async def paced(simulator: Simulator, pace: Pace, max_batch_ms: int = HOUR) -> AsyncIterator[list[Reading]]:
    """Batches of readings as simulated time passes (one batch per tick, at most `max_batch_ms` of time)."""
    position = simulator.start_ms
    while pace.end_ms is None or position < pace.end_ms:
        if pace.speed is None:
            target = position + max_batch_ms
        else:
            target = simulator.start_ms + int((time.monotonic() - pace.started) * 1000 * pace.speed)
        target = min(target, position + max_batch_ms, now_ms() + 1)
        if pace.end_ms is not None:
            target = min(target, pace.end_ms)
        if target > position:
            batch = simulator.advance(target)
            position = target
            if batch:
                yield batch
        if pace.speed is None and position < now_ms() - 1:
            continue  # backfilling as fast as the consumer takes the batches
        # Paced, or live: wait a tick at least, longer when the next reading is further away.
        speed = pace.speed if pace.speed is not None and position < now_ms() else 1.0
        wait = (simulator.next_due - position) / 1000 / speed
        await asyncio.sleep(min(max(wait, pace.tick_s), 1.0))


# --- names the transports publish under -------------------------------------------------------------


def sparkplug_paths(points: Iterable[SimPoint], group: str, edge_node: str) -> dict[str, str]:
    """Point key → `group/edge node/device/metric`: the registry's `sparkplug:` path, else one device per room."""
    paths = {}
    for p in points:
        device = (p.room or "points").rsplit(":", 1)[-1]
        paths[p.key] = p.sparkplug or f"{group}/{edge_node}/{device}/{p.key}"
    return paths


def opcua_node_ids(points: Iterable[SimPoint]) -> dict[str, str]:
    """Point key → node id: the registry's `opcua:`, else a string node id in namespace 2 named by the key."""
    return {p.key: p.opcua or f"ns=2;s={p.key}" for p in points}
