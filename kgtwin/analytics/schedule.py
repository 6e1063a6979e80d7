"""Schedule performance from the graph: critical path (CPM), earned value, expected against actual
progress, start and finish variances and forecast finishes, rolled up by storey, building and model.

Definitions (the figures a scheduler expects, in the units stated):

- Time: durations, lags and float are working hours of each activity's own calendar (the
  `calendar` it carries; none means elapsed calendar hours, 24 a day). "Days" are working days
  of the schedule's calendar (the one most of its activities use): hours / its daily hours.
- CPM runs over the leaf activities (summaries are spans of their leaves; a link to or from a
  summary stands for links to or from each of its leaves). Forward pass: an activity without
  predecessors starts at its planned start; the others at the latest of their links' constraints
  (FS, SS, FF, SF, each with its lag in the successor's calendar). Backward pass from the project
  finish (the latest early finish) mirrors it. Total float = working hours from early to late
  start; critical = total float under one minute.
- Weights: the planned cost of every leaf activity when all of them state one (`cost`), otherwise
  its planned duration in working hours. Budget at completion (BAC) is their sum.
- Planned value PV(t) = Σ weight × the share of the activity's planned working time elapsed at t;
  earned value EV = Σ weight × percent complete. SPI = EV / PV; SV = EV - PV (weight units).
  SV in days is the earned-schedule variance: ES - t, where ES is when PV first reached EV.
- Expected percent = PV / BAC, actual = EV / BAC; ahead / behind when they differ by more than
  the tolerance (percentage points), on track otherwise.
- Forecast: a forward pass from the data date. Finished work keeps its actual dates; work in
  progress finishes after its remaining percent at the rate achieved so far (percent per working
  hour since its actual start); work not started takes its planned duration and starts no earlier
  than the data date and its links allow. The project forecast is the latest forecast finish; a
  second one divides the planned duration by SPI.
- Roll-ups: an activity reaches the storeys (buildings) of the elements it constructs, its weight
  shared by their number; activities that construct no element are rolled up as `unassigned`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kgtwin.sources.schedule.calendar import ELAPSED, ScheduleError, WorkCalendar, epoch_ms, from_ms
from kgtwin.sources.schedule.network import ForwardPass, Task, ends_on_finish, predecessors_first, starts_from_start
from kgtwin.store import GraphStore

DEFAULT_TOLERANCE = 5.0  # percentage points
CRITICAL_FLOAT_HOURS = 1 / 60
IFC_SCHEDULE = "ifc"  # how the model file's own 4D tasks are named when choosing a schedule


@dataclass
class Activity:
    """An activity as the analytics read it from the graph."""

    uid: str
    name: str
    identification: str | None
    start: dt.datetime | None
    finish: dt.datetime | None
    duration_hours: float
    calendar: WorkCalendar
    percent: float
    actual_start: dt.datetime | None
    actual_finish: dt.datetime | None
    cost: float | None
    summary: bool
    parent: str | None
    predecessors: list[tuple[str, str, float]]  # (uid, link type, lag hours)
    elements: list[dict[str, Any]]  # {uid, storey, building}


@dataclass
class Network:
    """One schedule of a model: its activities, the leaf network CPM runs on, its calendar."""

    model: str
    schedule: str  # the schedule's key: an imported schedule's uid, or 'ifc'
    activities: dict[str, Activity]
    leaves: list[Activity] = field(default_factory=list)
    links: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)  # leaf -> leaf predecessors
    calendar: WorkCalendar = ELAPSED

    @property
    def day_hours(self) -> float:
        return self.calendar.daily_hours

    @property
    def time_basis(self) -> str:
        calendars = {a.calendar for a in self.leaves}
        if calendars <= {ELAPSED}:
            return "calendar hours (no working calendar)"
        return f"working hours of each activity's calendar; the schedule's is {self.calendar.spec}"

    def days(self, hours: float | None) -> float | None:
        return None if hours is None else hours / self.day_hours


async def schedule_keys(store: GraphStore, model: str) -> dict[str, int]:
    return {r["schedule"]: r["activities"] for r in await store.execute("schedule/schedules", {"model": model})}


def choose_schedule(model: str, keys: Iterable[str], wanted: str | None) -> str:
    """The schedule key to use: the one asked for (uid, id or 'ifc'), or the model's only one."""
    keys = sorted(keys)
    names = [k or IFC_SCHEDULE for k in keys]
    if wanted is not None:
        for key in keys:
            if wanted in (key, key or IFC_SCHEDULE) or (key and key.endswith(f":schedule:{wanted}")):
                return key
        raise ScheduleError(f"model {model!r} has no schedule {wanted!r}; it has: {', '.join(names) or 'none'}")
    if not keys:
        raise ScheduleError(
            f"model {model!r} has no schedule: import one (kgtwin schedule import FILE --model {model})"
        )
    if len(keys) > 1:
        raise ScheduleError(
            f"model {model!r} has {len(keys)} schedules ({', '.join(names)}): choose one with --schedule"
        )
    return keys[0]


async def load_network(store: GraphStore, model: str, schedule: str | None = None) -> Network:
    key = choose_schedule(model, (await schedule_keys(store, model)).keys(), schedule)
    activities: dict[str, Activity] = {}
    for row in await store.execute("schedule/network", {"model": model}):
        props = row["props"]
        if (props.get("schedule") or "") != key:
            continue
        start, finish = from_ms(props.get("scheduleStart")), from_ms(props.get("scheduleFinish"))
        calendar = WorkCalendar.from_text(props.get("calendar"))
        duration = props.get("durationHours")
        if duration is None and start is not None and finish is not None:
            duration = calendar.hours_between(start, finish)
        activities[row["uid"]] = Activity(
            uid=row["uid"],
            name=props.get("name") or row["uid"],
            identification=props.get("identification"),
            start=start,
            finish=finish,
            duration_hours=float(duration or 0.0),
            calendar=calendar,
            percent=float(props.get("percentComplete") or 0.0),
            actual_start=from_ms(props.get("actualStart")),
            actual_finish=from_ms(props.get("actualFinish")),
            cost=props.get("cost"),
            summary=bool(props.get("summary")),
            parent=row["parent"],
            predecessors=[
                (p["uid"], p["type"] or "FINISH_START", p["lagHours"] or 0.0) for p in row["predecessors"] if p["uid"]
            ],
            elements=[e for e in row["elements"] if e.get("uid")],
        )
    network = Network(model=model, schedule=key or IFC_SCHEDULE, activities=activities)
    children: dict[str, list[str]] = defaultdict(list)
    for a in activities.values():
        if a.parent in activities:
            children[a.parent].append(a.uid)
    network.leaves = [a for a in activities.values() if not children.get(a.uid) and not a.summary]
    if not network.leaves:
        raise ScheduleError(f"schedule {network.schedule!r} of model {model!r} has no activities to compute on")

    def leaves_under(uid: str) -> list[str]:
        below = children.get(uid)
        return [leaf for child in below for leaf in leaves_under(child)] if below else [uid]

    def ancestors(uid: str) -> list[str]:
        chain, parent = [uid], activities[uid].parent
        while parent in activities and parent not in chain:
            chain.append(parent)
            parent = activities[parent].parent
        return chain

    leaf_ids = {a.uid for a in network.leaves}
    for leaf in network.leaves:
        found = [
            (before, kind, lag)
            for holder in ancestors(leaf.uid)  # a link into a summary holds each of its leaves
            for pred, kind, lag in activities[holder].predecessors
            if pred in activities
            for before in leaves_under(pred)  # a link from a summary waits for each of its leaves
            if before in leaf_ids and before != leaf.uid
        ]
        network.links[leaf.uid] = list(dict.fromkeys(found))
    network.calendar = Counter(a.calendar for a in network.leaves).most_common(1)[0][0]
    return network


# -- critical path -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityFloat:
    uid: str
    name: str
    identification: str | None
    duration_hours: float
    early_start: int  # epoch ms
    early_finish: int
    late_start: int
    late_finish: int
    total_float_hours: float
    total_float_days: float
    critical: bool


@dataclass(frozen=True)
class CriticalPath:
    model: str
    schedule: str
    time_basis: str
    day_hours: float  # working hours in one of the "days" reported
    project_start: int  # epoch ms
    project_finish: int
    duration_hours: float  # project start to finish, in working hours of the schedule calendar
    path: list[str]  # uids of the critical activities, by early start
    activities: list[ActivityFloat]


def _tasks(network: Network, duration: dict[str, float] | None = None) -> dict[str, Task]:
    tasks = {
        a.uid: Task(a.uid, a.name, (duration or {}).get(a.uid, a.duration_hours), a.calendar) for a in network.leaves
    }
    for uid, links in network.links.items():
        tasks[uid].predecessors = [(tasks[p], kind, lag) for p, kind, lag in links]
    return tasks


def _project_start(network: Network) -> dt.datetime:
    starts = [a.start for a in network.leaves if a.start is not None]
    if not starts:
        raise ScheduleError(f"schedule {network.schedule!r} has no planned dates")
    return min(starts)


def cpm(network: Network) -> dict[str, tuple[dt.datetime, dt.datetime, dt.datetime, dt.datetime]]:
    """Early start, early finish, late start, late finish of every leaf activity."""
    tasks = _tasks(network)
    for a in network.leaves:
        if not tasks[a.uid].predecessors:
            tasks[a.uid].not_before = a.start
    early = ForwardPass(list(tasks.values()), _project_start(network))
    es = {uid: early.start(t) for uid, t in tasks.items()}
    ef = {uid: early.finish(t) for uid, t in tasks.items()}
    project_finish = max(f for f in ef.values() if f is not None)
    successors: dict[str, list[tuple[Task, str, float]]] = defaultdict(list)
    for task in tasks.values():
        for before, kind, lag in task.predecessors:
            successors[before.uid].append((task, kind, lag))
    ls: dict[str, dt.datetime] = {}
    lf: dict[str, dt.datetime] = {}
    for task in reversed(predecessors_first(list(tasks.values()))):
        bounds = [project_finish]
        for after, kind, lag in successors[task.uid]:
            # the mirror of the forward pass: the lag runs in the successor's calendar
            anchor = lf[after.uid] if ends_on_finish(kind) else ls[after.uid]
            moment = after.calendar.subtract(anchor, lag)
            if starts_from_start(kind):
                moment = task.calendar.add(moment, task.duration_hours)
            bounds.append(moment)
        lf[task.uid] = task.calendar.snap_back(min(bounds))
        ls[task.uid] = task.calendar.subtract(lf[task.uid], task.duration_hours)
    return {uid: (es[uid], ef[uid], ls[uid], lf[uid]) for uid in tasks}  # type: ignore[misc]


def critical_path_of(network: Network) -> CriticalPath:
    dates = cpm(network)
    rows = []
    for a in network.leaves:
        es, ef, ls, lf = dates[a.uid]
        total_float = a.calendar.hours_between(es, ls)
        rows.append(
            ActivityFloat(
                uid=a.uid,
                name=a.name,
                identification=a.identification,
                duration_hours=a.duration_hours,
                early_start=epoch_ms(es) or 0,
                early_finish=epoch_ms(ef) or 0,
                late_start=epoch_ms(ls) or 0,
                late_finish=epoch_ms(lf) or 0,
                total_float_hours=round(total_float, 6),
                total_float_days=round(total_float / network.day_hours, 6),
                critical=total_float < CRITICAL_FLOAT_HOURS,
            )
        )
    rows.sort(key=lambda r: (r.early_start, r.early_finish, r.name))
    start = min(d[0] for d in dates.values())
    finish = max(d[1] for d in dates.values())
    return CriticalPath(
        model=network.model,
        schedule=network.schedule,
        time_basis=network.time_basis,
        day_hours=network.day_hours,
        project_start=epoch_ms(start) or 0,
        project_finish=epoch_ms(finish) or 0,
        duration_hours=round(network.calendar.hours_between(start, finish), 6),
        path=[r.uid for r in rows if r.critical],
        activities=rows,
    )


async def critical_path(store: GraphStore, model: str, schedule: str | None = None) -> CriticalPath:
    """CPM over a model's schedule: early and late dates, total float and the critical activities."""
    return critical_path_of(await load_network(store, model, schedule))


# -- earned value, variances, forecasts -------------------------------------------------------


@dataclass(frozen=True)
class ActivityPerformance:
    uid: str
    name: str
    identification: str | None
    planned_start: int | None  # epoch ms
    planned_finish: int | None
    actual_start: int | None
    actual_finish: int | None
    weight: float
    expected_percent: float
    percent_complete: float
    variance_points: float  # actual - expected
    status: str  # ahead | on_track | behind
    planned_value: float
    earned_value: float
    start_variance_days: float | None  # actual - planned start (positive: late)
    finish_variance_days: float | None  # actual - planned finish
    forecast_start: int | None
    forecast_finish: int | None
    forecast_variance_days: float | None  # forecast - planned finish
    total_float_hours: float
    critical: bool


# The fields of the two records above and below that hold epoch milliseconds (for printing them as dates)
ACTIVITY_TIMES = (
    "planned_start",
    "planned_finish",
    "actual_start",
    "actual_finish",
    "forecast_start",
    "forecast_finish",
)
SCOPE_TIMES = ("planned_finish", "forecast_finish")


@dataclass(frozen=True)
class ScopePerformance:
    scope: str  # the model id, a building's or storey's uid, or '' (unassigned)
    level: str  # model | building | storey | unassigned
    name: str
    activities: int
    budget: float  # BAC, in the report's basis
    planned_value: float
    earned_value: float
    spi: float | None
    schedule_variance: float  # EV - PV
    schedule_variance_days: float  # earned schedule - data date (negative: behind)
    expected_percent: float
    actual_percent: float
    variance_points: float
    status: str
    planned_finish: int | None
    forecast_finish: int | None
    finish_variance_days: float | None  # forecast - planned finish (positive: late)


@dataclass(frozen=True)
class ScheduleReport:
    model: str
    schedule: str
    as_of: int  # the data date, epoch ms
    basis: str  # 'cost' or 'hours': what the weights are
    tolerance_points: float
    time_basis: str
    day_hours: float
    project: ScopePerformance
    groups: list[ScopePerformance]
    activities: list[ActivityPerformance]
    forecast_finish: int | None  # from the forecast pass
    forecast_finish_by_spi: int | None  # project start + planned duration / SPI
    critical_path: list[str]


def progress_status(variance_points: float, tolerance: float) -> str:
    if variance_points > tolerance:
        return "ahead"
    if variance_points < -tolerance:
        return "behind"
    return "on_track"


def planned_share(a: Activity, at: dt.datetime) -> float:
    """The share of an activity's planned working time that has elapsed at `at` (0 to 1)."""
    if a.start is None or a.finish is None or at <= a.start:
        return 0.0
    if at >= a.finish:
        return 1.0
    total = a.calendar.hours_between(a.start, a.finish)
    return a.calendar.hours_between(a.start, at) / total if total > 0 else 0.0


def _is_done(a: Activity) -> bool:
    return a.percent >= 100 or a.actual_finish is not None


def forecast(network: Network, at: dt.datetime) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
    """Forecast start and finish of every leaf activity from progress at the data date `at`."""
    tasks = _tasks(network)
    for a in network.leaves:
        task = tasks[a.uid]
        if _is_done(a):
            task.given_start = a.actual_start or a.start
            task.given_finish = a.actual_finish or a.finish
        elif a.percent > 0 or a.actual_start is not None:
            began = a.actual_start or a.start or at
            worked = a.calendar.hours_between(began, at) if at > began else 0.0
            share = a.percent / 100
            remaining = worked * (1 - share) / share if worked > 0 and share > 0 else a.duration_hours * (1 - share)
            task.given_start = began
            task.given_finish = a.calendar.add(max(at, began), remaining)
        else:
            opens = at if task.predecessors or a.start is None else max(at, a.start)
            task.not_before = opens
    passed = ForwardPass(list(tasks.values()), _project_start(network))
    return {uid: (passed.start(t), passed.finish(t)) for uid, t in tasks.items()}


def weights(network: Network) -> tuple[str, dict[str, float]]:
    if all(a.cost is not None for a in network.leaves) and sum(a.cost or 0 for a in network.leaves) > 0:
        return "cost", {a.uid: float(a.cost or 0.0) for a in network.leaves}
    return "hours", {a.uid: a.duration_hours for a in network.leaves}


def _earned_schedule(items: list[tuple[Activity, float]], earned: float, at: dt.datetime) -> dt.datetime:
    """When planned value first reached the earned value (no later than the data date when nothing is earned)."""
    starts = [a.start for a, _ in items if a.start]
    finishes = [a.finish for a, _ in items if a.finish]
    if not starts or not finishes:
        return at
    low, high = min(starts), max(finishes)
    if earned <= 0:
        return min(at, low)

    def planned(moment: dt.datetime) -> float:
        return sum(w * planned_share(a, moment) for a, w in items)

    if planned(high) <= earned + 1e-9:
        return high
    for _ in range(48):  # to well under a second
        middle = low + (high - low) / 2
        if planned(middle) >= earned - 1e-9:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) + dt.timedelta(seconds=1 if high.microsecond else 0)


def _scope(
    network: Network,
    items: list[tuple[Activity, float]],
    at: dt.datetime,
    forecasts: dict[str, tuple[dt.datetime | None, dt.datetime | None]],
    tolerance: float,
    scope: str,
    level: str,
    name: str,
) -> ScopePerformance:
    budget = sum(w for _, w in items)
    pv = sum(w * planned_share(a, at) for a, w in items)
    ev = sum(w * a.percent / 100 for a, w in items)
    done = budget > 0 and ev >= budget - 1e-9
    finishes = [a.actual_finish for a, _ in items if a.actual_finish]
    now = max(finishes) if done and finishes else at  # a finished scope is measured at its finish
    es = _earned_schedule(items, ev, now)
    expected = 100 * pv / budget if budget else 0.0
    actual = 100 * ev / budget if budget else 0.0
    planned_finish = max((a.finish for a, _ in items if a.finish), default=None)
    forecast_finish = max((f for a, _ in items if (f := forecasts[a.uid][1])), default=None)
    return ScopePerformance(
        scope=scope,
        level=level,
        name=name,
        activities=len(items),
        budget=round(budget, 6),
        planned_value=round(pv, 6),
        earned_value=round(ev, 6),
        spi=round(ev / pv, 6) if pv > 0 else None,
        schedule_variance=round(ev - pv, 6),
        schedule_variance_days=round(network.calendar.hours_between(now, es) / network.day_hours, 6),
        expected_percent=round(expected, 6),
        actual_percent=round(actual, 6),
        variance_points=round(actual - expected, 6),
        status=progress_status(actual - expected, tolerance),
        planned_finish=epoch_ms(planned_finish),
        forecast_finish=epoch_ms(forecast_finish),
        finish_variance_days=(
            round(network.calendar.hours_between(planned_finish, forecast_finish) / network.day_hours, 6)
            if planned_finish and forecast_finish
            else None
        ),
    )


async def schedule_report(
    store: GraphStore,
    model: str,
    as_of: dt.datetime | None = None,
    by: str | None = None,
    *,
    schedule: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ScheduleReport:
    """Expected against actual progress, earned value, variances and forecasts at `as_of` (default now)."""
    if by not in (None, "storey", "building"):
        raise ScheduleError(f"roll-ups are by storey or building, not {by!r}")
    network = await load_network(store, model, schedule)
    places = {}
    if by is not None:
        for row in await store.execute("schedule/places", {"model": model}):
            places[row["uid"]] = row["name"] or row["uid"]
            places.update({s["uid"]: s["name"] or s["uid"] for s in row["storeys"] if s.get("uid")})
    return report_of(network, as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None), by, tolerance, places)


def report_of(
    network: Network,
    at: dt.datetime,
    by: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    places: dict[str, str] | None = None,
) -> ScheduleReport:
    basis, weight = weights(network)
    cpm_result = critical_path_of(network)
    floats = {r.uid: r for r in cpm_result.activities}
    forecasts = forecast(network, at)
    rows = []
    for a in network.leaves:
        share = planned_share(a, at)
        expected = 100 * share
        f_start, f_finish = forecasts[a.uid]
        rows.append(
            ActivityPerformance(
                uid=a.uid,
                name=a.name,
                identification=a.identification,
                planned_start=epoch_ms(a.start),
                planned_finish=epoch_ms(a.finish),
                actual_start=epoch_ms(a.actual_start),
                actual_finish=epoch_ms(a.actual_finish),
                weight=weight[a.uid],
                expected_percent=round(expected, 6),
                percent_complete=a.percent,
                variance_points=round(a.percent - expected, 6),
                status=progress_status(a.percent - expected, tolerance),
                planned_value=round(weight[a.uid] * share, 6),
                earned_value=round(weight[a.uid] * a.percent / 100, 6),
                start_variance_days=_round(network.days(_hours(a.calendar, a.start, a.actual_start))),
                finish_variance_days=_round(network.days(_hours(a.calendar, a.finish, a.actual_finish))),
                forecast_start=epoch_ms(f_start),
                forecast_finish=epoch_ms(f_finish),
                forecast_variance_days=_round(network.days(_hours(a.calendar, a.finish, f_finish))),
                total_float_hours=floats[a.uid].total_float_hours,
                critical=floats[a.uid].critical,
            )
        )
    rows.sort(key=lambda r: (r.planned_start or 0, r.planned_finish or 0, r.name))
    everything = [(a, weight[a.uid]) for a in network.leaves]
    project = _scope(network, everything, at, forecasts, tolerance, network.model, "model", network.model)
    groups = _groups(network, weight, at, forecasts, tolerance, by, places or {}) if by else []
    by_spi = None
    if project.earned_value >= project.budget > 0:
        by_spi = project.forecast_finish
    elif project.spi:
        start = _project_start(network)
        planned_hours = network.calendar.hours_between(start, max(a.finish for a in network.leaves if a.finish))
        stretched = round(planned_hours * project.planned_value / project.earned_value * 3600)  # to the second
        by_spi = epoch_ms(network.calendar.add(start, stretched / 3600))
    return ScheduleReport(
        model=network.model,
        schedule=network.schedule,
        as_of=epoch_ms(at) or 0,
        basis=basis,
        tolerance_points=tolerance,
        time_basis=network.time_basis,
        day_hours=network.day_hours,
        project=project,
        groups=groups,
        activities=rows,
        forecast_finish=project.forecast_finish,
        forecast_finish_by_spi=by_spi,
        critical_path=cpm_result.path,
    )


def _groups(
    network: Network,
    weight: dict[str, float],
    at: dt.datetime,
    forecasts: dict[str, tuple[dt.datetime | None, dt.datetime | None]],
    tolerance: float,
    by: str,
    places: dict[str, str],
) -> list[ScopePerformance]:
    shares: dict[str, list[tuple[Activity, float]]] = defaultdict(list)
    for a in network.leaves:
        where = Counter(e.get(by) or "" for e in a.elements) if a.elements else Counter({"": 1})
        total = sum(where.values())
        for place, n in where.items():
            shares[place].append((a, weight[a.uid] * n / total))
    ordered = sorted(shares, key=lambda p: (p == "", places.get(p, p)))
    return [
        _scope(
            network, shares[p], at, forecasts, tolerance, p, by if p else "unassigned", places.get(p, p) if p else ""
        )
        for p in ordered
    ]


def _hours(calendar: WorkCalendar, planned: dt.datetime | None, other: dt.datetime | None) -> float | None:
    return calendar.hours_between(planned, other) if planned and other else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
