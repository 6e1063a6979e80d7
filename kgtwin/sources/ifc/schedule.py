"""4D data of an IFC model: work schedules, tasks, sequences and the dates a scheduler derives.

Where tasks only carry durations, dates follow from the sequences the way a scheduler's
forward pass computes them: a task starts at the latest of its predecessors' constraints
(finish-start, start-start, finish-finish, start-finish, each with its lag) and never before its
summary task may start; a summary task spans its sub-tasks. Work-time durations and lags are
counted in working hours of the task's calendar (IfcWorkCalendar: working weekdays and daily
periods; Monday to Friday, 08:00-16:00 when the model has none). IFC date-times without a
zone are taken as UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ifcopenshell
import ifcopenshell.util.date
import ifcopenshell.util.sequence

from kgtwin.errors import KgtwinError
from kgtwin.model.graph import ModelGraph

DEFAULT_PERIODS = ((dt.time(8), dt.time(16)),)
WORK_WEEK = frozenset({1, 2, 3, 4, 5})


class ScheduleError(KgtwinError):
    exit_code = 2


@dataclass(frozen=True)
class WorkCalendar:
    weekdays: frozenset[int] = WORK_WEEK  # ISO weekdays, Monday = 1
    periods: tuple[tuple[dt.time, dt.time], ...] = DEFAULT_PERIODS

    def _day_periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if day.isoweekday() not in self.weekdays:
            return []
        return [(dt.datetime.combine(day, a), dt.datetime.combine(day, b)) for a, b in self.periods]

    def snap(self, moment: dt.datetime) -> dt.datetime:
        """The first working instant at or after `moment` (the end of a period is not one)."""
        day = moment.date()
        for _ in range(3660):
            for start, end in self._day_periods(day):
                if moment < end:
                    return max(moment, start)
            day += dt.timedelta(days=1)
            moment = dt.datetime.combine(day, dt.time())
        raise ScheduleError("the work calendar has no working time in ten years")

    def add(self, moment: dt.datetime, hours: float) -> dt.datetime:
        """`hours` of working time after `moment`; a task ending at a period's end stays there."""
        moment = self.snap(moment)
        remaining = dt.timedelta(hours=hours)
        while True:
            end = next(e for s, e in self._day_periods(moment.date()) if s <= moment < e)
            if remaining <= end - moment:
                return moment + remaining
            remaining -= end - moment
            moment = self.snap(end)

    def subtract(self, moment: dt.datetime, hours: float) -> dt.datetime:
        remaining = dt.timedelta(hours=hours)
        day = moment.date()
        while remaining > dt.timedelta(0):
            for start, end in reversed(self._day_periods(day)):
                end = min(end, moment)
                if end <= start:
                    continue
                if remaining <= end - start:
                    return end - remaining
                remaining -= end - start
            day -= dt.timedelta(days=1)
            moment = dt.datetime.combine(day, dt.time.max)
        return moment


ELAPSED = WorkCalendar(weekdays=frozenset(range(1, 8)), periods=((dt.time(0), dt.time.max),))


@dataclass
class Task:
    entity: ifcopenshell.entity_instance
    uid: str
    duration_hours: float
    calendar: WorkCalendar
    given_start: dt.datetime | None
    given_finish: dt.datetime | None
    parent: Task | None = None
    children: list[Task] = field(default_factory=list)
    predecessors: list[tuple[Task, str, float]] = field(default_factory=list)


class ForwardPass:
    def __init__(self, tasks: list[Task], schedule_start: dt.datetime | None) -> None:
        self.tasks = tasks
        self.schedule_start = schedule_start
        self._earliest: dict[str, dt.datetime | None] = {}
        self._start: dict[str, dt.datetime | None] = {}
        self._finish: dict[str, dt.datetime | None] = {}
        self._visiting: set[tuple[str, str]] = set()

    def _guard(self, kind: str, task: Task) -> None:
        if (kind, task.uid) in self._visiting:
            raise ScheduleError(f"the task sequence loops through task {task.entity.Name!r}: no dates can be derived")
        self._visiting.add((kind, task.uid))

    def earliest(self, task: Task) -> dt.datetime | None:
        if task.uid in self._earliest:
            return self._earliest[task.uid]
        self._guard("earliest", task)
        if task.given_start is not None:
            value: dt.datetime | None = task.given_start
        else:
            candidates = []
            for pred, kind, lag in task.predecessors:
                anchor = self.start(pred) if kind in ("START_START", "START_FINISH") else self.finish(pred)
                if anchor is None:
                    continue
                moment = task.calendar.add(anchor, lag) if lag >= 0 else task.calendar.subtract(anchor, -lag)
                if kind in ("FINISH_FINISH", "START_FINISH"):
                    moment = task.calendar.subtract(moment, task.duration_hours)
                candidates.append(moment)
            if task.parent is not None and (parent_start := self.earliest(task.parent)) is not None:
                candidates.append(parent_start)
            if not candidates and self.schedule_start is not None:
                candidates.append(self.schedule_start)
            value = max(candidates) if candidates else None
        self._earliest[task.uid] = value
        return value

    def start(self, task: Task) -> dt.datetime | None:
        if task.uid not in self._start:
            self._guard("start", task)
            if task.children:
                starts = [s for c in task.children if (s := self.start(c)) is not None]
                self._start[task.uid] = min(starts) if starts else self.earliest(task)
            else:
                earliest = self.earliest(task)
                self._start[task.uid] = None if earliest is None else task.calendar.snap(earliest)
        return self._start[task.uid]

    def finish(self, task: Task) -> dt.datetime | None:
        if task.uid not in self._finish:
            self._guard("finish", task)
            if task.children:
                finishes = [f for c in task.children if (f := self.finish(c)) is not None]
                value = max(finishes) if finishes else None
            elif task.given_finish is not None:
                value = task.given_finish
            else:
                start = self.start(task)
                value = None if start is None else task.calendar.add(start, task.duration_hours)
            self._finish[task.uid] = value
        return self._finish[task.uid]


def epoch_ms(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def parse_datetime(value: object) -> dt.datetime | None:
    if not value:
        return None
    parsed = ifcopenshell.util.date.ifc2datetime(value)
    if isinstance(parsed, dt.datetime):
        return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(parsed, dt.date):
        return dt.datetime.combine(parsed, dt.time())
    return None


def duration_hours(value: object) -> float:
    if not value:
        return 0.0
    parsed = ifcopenshell.util.date.ifc2datetime(value)
    if isinstance(parsed, dt.timedelta):
        return parsed.total_seconds() / 3600
    if hasattr(parsed, "tdelta"):  # an isodate Duration: days and times, plus calendar years and months
        years, months = float(parsed.years or 0), float(parsed.months or 0)
        return parsed.tdelta.total_seconds() / 3600 + (years * 365 + months * 30) * 24
    return 0.0


def calendar_of(entity: ifcopenshell.entity_instance | None, cache: dict[int, WorkCalendar]) -> WorkCalendar:
    if entity is None:
        return WorkCalendar()
    if entity.id() in cache:
        return cache[entity.id()]
    weekdays: set[int] = set()
    periods: list[tuple[dt.time, dt.time]] = []
    for work_time in entity.WorkingTimes or ():
        pattern = work_time.RecurrencePattern
        if pattern is None:
            continue
        if pattern.RecurrenceType == "DAILY":
            weekdays.update(range(1, 8))
        weekdays.update(pattern.WeekdayComponent or ())
        for period in pattern.TimePeriods or ():
            periods.append((dt.time.fromisoformat(period.StartTime), dt.time.fromisoformat(period.EndTime)))
    calendar = WorkCalendar(
        weekdays=frozenset(weekdays) or WORK_WEEK, periods=tuple(sorted(periods)) or DEFAULT_PERIODS
    )
    cache[entity.id()] = calendar
    return calendar


def add_schedules(graph: ModelGraph, ifc: ifcopenshell.file) -> None:
    """Add work schedules, activities, nesting, sequences and CONSTRUCTS links to the graph."""
    if ifc.schema == "IFC2X3":
        _add_tasks_ifc2x3(graph, ifc)
        return
    calendars: dict[int, WorkCalendar] = {}
    tasks: dict[int, Task] = {}
    for entity in ifc.by_type("IfcTask"):
        time = entity.TaskTime
        elapsed = time is not None and time.DurationType == "ELAPSEDTIME"
        calendar = ELAPSED if elapsed else calendar_of(ifcopenshell.util.sequence.derive_calendar(entity), calendars)
        tasks[entity.id()] = Task(
            entity=entity,
            uid=graph.uid(entity.GlobalId),
            duration_hours=duration_hours(time.ScheduleDuration) if time else 0.0,
            calendar=calendar,
            given_start=parse_datetime(time.ScheduleStart) if time else None,
            given_finish=parse_datetime(time.ScheduleFinish) if time else None,
        )
    for rel in ifc.by_type("IfcRelNests"):
        if rel.RelatingObject is None:
            continue
        parent = tasks.get(rel.RelatingObject.id())
        if parent is None:
            continue
        for child_entity in rel.RelatedObjects:
            child = tasks.get(child_entity.id())
            if child is not None:
                child.parent = parent
                parent.children.append(child)
    for rel in ifc.by_type("IfcRelSequence"):
        if rel.RelatingProcess is None or rel.RelatedProcess is None:
            continue
        before, after = tasks.get(rel.RelatingProcess.id()), tasks.get(rel.RelatedProcess.id())
        if before is None or after is None:
            continue
        lag = rel.TimeLag
        lag_hours = duration_hours(lag.LagValue.wrappedValue) if lag is not None and lag.LagValue is not None else 0.0
        after.predecessors.append((before, rel.SequenceType or "FINISH_START", lag_hours))

    schedules = ifc.by_type("IfcWorkSchedule")
    for schedule in schedules:
        graph.add_node(
            "WorkSchedule",
            graph.uid(schedule.GlobalId),
            {
                "globalId": schedule.GlobalId,
                "name": schedule.Name,
                "predefinedType": schedule.PredefinedType,
                "startTime": epoch_ms(parse_datetime(schedule.StartTime)),
                "finishTime": epoch_ms(parse_datetime(schedule.FinishTime)),
                "ifcClass": schedule.is_a(),
            },
            (schedule.is_a(),),
        )
    schedule_start = min((s for x in schedules if (s := parse_datetime(x.StartTime))), default=None)
    dates = ForwardPass(list(tasks.values()), schedule_start)
    for task in tasks.values():
        entity, time = task.entity, task.entity.TaskTime
        start, finish = dates.start(task), dates.finish(task)
        graph.add_node(
            "Activity",
            task.uid,
            {
                "globalId": entity.GlobalId,
                "name": entity.Name,
                "identification": entity.Identification,
                "description": entity.Description,
                "predefinedType": getattr(entity, "PredefinedType", None),
                "isMilestone": bool(entity.IsMilestone),
                "durationType": time.DurationType if time else None,
                "durationHours": task.duration_hours,
                "scheduleStart": epoch_ms(start),
                "scheduleFinish": epoch_ms(finish),
                "datesDerived": task.given_start is None or task.given_finish is None,
                "actualStart": epoch_ms(parse_datetime(time.ActualStart)) if time else None,
                "actualFinish": epoch_ms(parse_datetime(time.ActualFinish)) if time else None,
                "percentComplete": round(time.Completion * 100, 3) if time and time.Completion is not None else None,
                "summary": bool(task.children),
                "ifcClass": entity.is_a(),
            },
            (entity.is_a(),),
        )
    for task in tasks.values():
        for order, child in enumerate(task.children):
            graph.add_rel("HAS_SUB_ACTIVITY", task.uid, child.uid, {"order": order})
        for pred, kind, lag in task.predecessors:
            graph.add_rel("PRECEDES", pred.uid, task.uid, {"type": kind, "lagHours": lag})
    _add_assignments(graph, ifc)


def _add_assignments(graph: ModelGraph, ifc: ifcopenshell.file) -> None:
    for rel in ifc.by_type("IfcRelAssignsToControl"):
        if rel.RelatingControl is not None and rel.RelatingControl.is_a("IfcWorkSchedule"):
            for obj in rel.RelatedObjects:
                if obj.is_a("IfcTask"):
                    graph.add_rel("HAS_ACTIVITY", graph.uid(rel.RelatingControl.GlobalId), graph.uid(obj.GlobalId))
    for rel in ifc.by_type("IfcRelAssignsToProduct"):
        product = rel.RelatingProduct
        if product is None:
            continue
        for obj in rel.RelatedObjects:
            if obj.is_a("IfcTask"):
                graph.add_rel("CONSTRUCTS", graph.uid(obj.GlobalId), graph.uid(product.GlobalId), {"via": "product"})
    for rel in ifc.by_type("IfcRelAssignsToProcess"):
        if rel.RelatingProcess is not None and rel.RelatingProcess.is_a("IfcTask"):
            for obj in rel.RelatedObjects:
                if obj.is_a("IfcProduct"):
                    graph.add_rel(
                        "CONSTRUCTS",
                        graph.uid(rel.RelatingProcess.GlobalId),
                        graph.uid(obj.GlobalId),
                        {"via": "process"},
                    )


def _add_tasks_ifc2x3(graph: ModelGraph, ifc: ifcopenshell.file) -> None:
    # IFC2X3 keeps times in IfcScheduleTimeControl; the public models carry none, so tasks come
    # with their names, sequences and assignments only.
    for entity in ifc.by_type("IfcTask"):
        graph.add_node(
            "Activity",
            graph.uid(entity.GlobalId),
            {
                "globalId": entity.GlobalId,
                "name": entity.Name,
                "identification": entity.TaskId,
                "isMilestone": bool(entity.IsMilestone),
                "ifcClass": entity.is_a(),
            },
        )
    for rel in ifc.by_type("IfcRelSequence"):
        if rel.RelatingProcess is None or rel.RelatedProcess is None:
            continue
        graph.add_rel(
            "PRECEDES",
            graph.uid(rel.RelatingProcess.GlobalId),
            graph.uid(rel.RelatedProcess.GlobalId),
            {"type": rel.SequenceType, "lagHours": 0.0},
        )
    _add_assignments(graph, ifc)
