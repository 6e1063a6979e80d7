"""4D data of an IFC model: work schedules, tasks, sequences and the dates a scheduler derives.

Where tasks only carry durations, dates follow from the sequences the way a scheduler's
forward pass computes them (`kgtwin.sources.schedule.network`). Work-time durations and lags are
counted in working hours of the task's calendar (IfcWorkCalendar: working weekdays and daily
periods; Monday to Friday, 08:00-16:00 when the model has none), which each activity carries
as `calendar`. IFC date-times without a zone are taken as UTC.
"""

from __future__ import annotations

import datetime as dt

import ifcopenshell
import ifcopenshell.util.date
import ifcopenshell.util.sequence

from kgtwin.model.graph import ModelGraph
from kgtwin.sources.schedule.calendar import (
    DEFAULT_PERIODS,
    ELAPSED,
    WORK_WEEK,
    WorkCalendar,
    epoch_ms,
    parse_time_of_day,
)
from kgtwin.sources.schedule.network import ForwardPass, Task


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
            periods.append((parse_time_of_day(period.StartTime), parse_time_of_day(period.EndTime)))
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
    entities: dict[str, ifcopenshell.entity_instance] = {}
    for entity in ifc.by_type("IfcTask"):
        time = entity.TaskTime
        elapsed = time is not None and time.DurationType == "ELAPSEDTIME"
        calendar = ELAPSED if elapsed else calendar_of(ifcopenshell.util.sequence.derive_calendar(entity), calendars)
        entities[graph.uid(entity.GlobalId)] = entity
        tasks[entity.id()] = Task(
            uid=graph.uid(entity.GlobalId),
            name=entity.Name or entity.GlobalId,
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
        entity = entities[task.uid]
        time = entity.TaskTime
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
                "calendar": task.calendar.to_text(),
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
