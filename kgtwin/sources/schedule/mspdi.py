"""Microsoft Project XML (MSPDI): read a project's tasks, links and calendars, and write one.

Read: tasks (UID, Name, OutlineLevel for nesting, Summary, Milestone, Start, Finish, Duration,
PercentComplete, ActualStart, ActualFinish, Cost, CalendarUID), PredecessorLink (PredecessorUID,
Type 0 FF / 1 FS / 2 SF / 3 SS, LinkLag in tenths of a minute of working time), and calendars
whose working weekdays share one set of working times (exceptions are not read). The GlobalIds
a task builds sit in an extended attribute (a custom text field) named Elements or GlobalIds,
separated by `;`. The project summary task (UID 0) and blank rows are skipped.

Written by `write_mspdi`: the same fields, so kgtwin's tests and users can make a file that
Project opens.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from kgtwin.sources.schedule.calendar import END_OF_DAY, ScheduleError, WorkCalendar, parse_time_of_day
from kgtwin.sources.schedule.files import ActivitySpec, Link, SchedulePlan, parse_number

NAMESPACE = "http://schemas.microsoft.com/project"
# MSPDI's PredecessorLink/Type codes
LINK_CODES = {"0": "FINISH_FINISH", "1": "FINISH_START", "2": "START_FINISH", "3": "START_START"}
ELEMENT_FIELD_ALIASES = ("elements", "globalids", "globalid", "ifcglobalid", "ifcguid")
TEXT1_FIELD_ID = "188743731"  # Project's field id of the task custom field Text1
PROJECT_STANDARD = WorkCalendar(periods=((dt.time(8), dt.time(12)), (dt.time(13), dt.time(17))))
_DURATION = re.compile(
    r"^-?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next(_children(element, name), None)


def _text(element: ET.Element, name: str) -> str | None:
    child = _child(element, name)
    if child is None or child.text is None or not child.text.strip():
        return None
    return child.text.strip()


def _hours(value: str | None, what: str) -> float | None:
    if value is None:
        return None
    match = _DURATION.match(value)
    if not match:
        raise ScheduleError(f"{what} {value!r} is not an MSPDI duration such as PT16H0M0S")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 24 + hours + minutes / 60 + seconds / 3600


def _moment(value: str | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise ScheduleError(f"{what} {value!r} is not a date-time") from None


def _calendars(project: ET.Element) -> dict[str, WorkCalendar]:
    found: dict[str, WorkCalendar] = {}
    bases: dict[str, str] = {}
    container = _child(project, "Calendars")
    for calendar in _children(container, "Calendar") if container is not None else ():
        uid = _text(calendar, "UID")
        if uid is None:
            continue
        weekdays: set[int] = set()
        periods: list[tuple[dt.time, dt.time]] = []
        days = _child(calendar, "WeekDays")
        for day in _children(days, "WeekDay") if days is not None else ():
            day_type = _text(day, "DayType") or "0"
            if day_type == "0" or _text(day, "DayWorking") != "1":
                continue  # an exception, or a day off
            weekdays.add(7 if day_type == "1" else int(day_type) - 1)  # MSPDI: 1 is Sunday
            times = _child(day, "WorkingTimes")
            if not periods and times is not None:
                for work in _children(times, "WorkingTime"):
                    start, end = _text(work, "FromTime"), _text(work, "ToTime")
                    if start and end:
                        finish = parse_time_of_day(end)
                        periods.append((parse_time_of_day(start), END_OF_DAY if finish == dt.time() else finish))
        if weekdays:
            found[uid] = WorkCalendar(
                weekdays=frozenset(weekdays), periods=tuple(sorted(periods)) or PROJECT_STANDARD.periods
            )
        elif (base := _text(calendar, "BaseCalendarUID")) is not None:
            bases[uid] = base
    for uid, base in bases.items():
        if base in found:
            found[uid] = found[base]
    return found


def parse_mspdi(raw: bytes) -> SchedulePlan:
    try:
        project = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise ScheduleError(f"not XML ({exc})") from None
    if _local(project.tag) != "Project" or _child(project, "Tasks") is None:
        raise ScheduleError("not Microsoft Project XML (no <Project> with <Tasks>)")
    calendars = _calendars(project)
    project_calendar = calendars.get(_text(project, "CalendarUID") or "", PROJECT_STANDARD)
    element_fields = set()
    definitions = _child(project, "ExtendedAttributes")
    for definition in _children(definitions, "ExtendedAttribute") if definitions is not None else ():
        alias = re.sub(r"[^a-z]", "", (_text(definition, "Alias") or "").lower())
        if alias in ELEMENT_FIELD_ALIASES and (field_id := _text(definition, "FieldID")):
            element_fields.add(field_id)
    plan = SchedulePlan(
        id="",
        name=_text(project, "Name") or _text(project, "Title") or "",
        format="mspdi",
        calendar=project_calendar,
        activities=[],
        start=_moment(_text(project, "StartDate"), "project StartDate"),
    )
    outline: list[str] = []  # ids of the open summary tasks, by outline level - 1
    tasks = _child(project, "Tasks")
    assert tasks is not None
    for task in _children(tasks, "Task"):
        uid, level = _text(task, "UID"), int(_text(task, "OutlineLevel") or "1")
        if uid is None or level == 0 or _text(task, "IsNull") == "1":
            continue
        where = f"task UID {uid}"
        calendar_uid = _text(task, "CalendarUID")
        calendar = calendars.get(calendar_uid) if calendar_uid not in (None, "-1") else None
        links = []
        for link in _children(task, "PredecessorLink"):
            predecessor = _text(link, "PredecessorUID")
            if predecessor is None:
                continue
            code = _text(link, "Type") or "1"
            if code not in LINK_CODES:
                raise ScheduleError(f"{where}: link type {code!r} is not 0 (FF), 1 (FS), 2 (SF) or 3 (SS)")
            lag = (parse_number(_text(link, "LinkLag"), f"{where}: LinkLag") or 0.0) / 600  # tenths of a minute
            links.append(Link(predecessor, LINK_CODES[code], lag))
        elements = []
        for attribute in _children(task, "ExtendedAttribute"):
            if _text(attribute, "FieldID") in element_fields:
                elements += [g for g in re.split(r"[;,\s]+", _text(attribute, "Value") or "") if g]
        del outline[level - 1 :]
        plan.activities.append(
            ActivitySpec(
                id=uid,
                name=_text(task, "Name") or f"Task {uid}",
                start=_moment(_text(task, "Start"), f"{where}: Start"),
                finish=_moment(_text(task, "Finish"), f"{where}: Finish"),
                duration_hours=_hours(_text(task, "Duration"), f"{where}: Duration"),
                elements=elements,
                predecessors=links,
                parent=outline[-1] if outline else None,
                percent_complete=parse_number(_text(task, "PercentComplete"), f"{where}: PercentComplete"),
                actual_start=_moment(_text(task, "ActualStart"), f"{where}: ActualStart"),
                actual_finish=_moment(_text(task, "ActualFinish"), f"{where}: ActualFinish"),
                cost=parse_number(_text(task, "Cost"), f"{where}: Cost"),
                milestone=_text(task, "Milestone") == "1",
                calendar=calendar,
                summary=_text(task, "Summary") == "1",
            )
        )
        outline.append(uid)
    return plan


def _iso_duration(hours: float) -> str:
    minutes = round(hours * 60)
    return f"PT{minutes // 60}H{minutes % 60}M0S"


def _stamp(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def write_mspdi(path: Path, plan: SchedulePlan) -> None:
    """Write a resolved plan as Microsoft Project XML: one base calendar, GlobalIds in Text1."""
    ET.register_namespace("", NAMESPACE)

    def add(parent: ET.Element, name: str, value: object = None) -> ET.Element:
        child = ET.SubElement(parent, f"{{{NAMESPACE}}}{name}")
        if value is not None:
            child.text = str(value)
        return child

    project = ET.Element(f"{{{NAMESPACE}}}Project")
    add(project, "SaveVersion", 14)
    add(project, "Name", plan.name)
    starts = [a.start for a in plan.activities if a.start]
    add(project, "StartDate", _stamp(plan.start or min(starts, default=None)))
    add(project, "CalendarUID", 1)
    add(project, "MinutesPerDay", round(plan.calendar.daily_hours * 60))
    definitions = add(project, "ExtendedAttributes")
    definition = add(definitions, "ExtendedAttribute")
    add(definition, "FieldID", TEXT1_FIELD_ID)
    add(definition, "FieldName", "Text1")
    add(definition, "Alias", "GlobalIds")
    calendar = add(add(project, "Calendars"), "Calendar")
    add(calendar, "UID", 1)
    add(calendar, "Name", "Standard")
    add(calendar, "IsBaseCalendar", 1)
    week = add(calendar, "WeekDays")
    for day_type in range(1, 8):
        day = add(week, "WeekDay")
        add(day, "DayType", day_type)
        working = (7 if day_type == 1 else day_type - 1) in plan.calendar.weekdays
        add(day, "DayWorking", int(working))
        if working:
            times = add(day, "WorkingTimes")
            for start, end in plan.calendar.periods:
                work = add(times, "WorkingTime")
                add(work, "FromTime", start.strftime("%H:%M:%S"))
                add(work, "ToTime", "00:00:00" if end == END_OF_DAY else end.strftime("%H:%M:%S"))
    tasks = add(project, "Tasks")
    summary_task = add(tasks, "Task")
    for name, value in (("UID", 0), ("ID", 0), ("Name", plan.name), ("OutlineLevel", 0), ("Summary", 1)):
        add(summary_task, name, value)
    uid_of = {a.id: n + 1 for n, a in enumerate(plan.activities)}
    by_id = {a.id: a for a in plan.activities}

    def level(activity: ActivitySpec) -> int:
        return 1 if activity.parent is None else 1 + level(by_id[activity.parent])

    for activity in plan.activities:
        task = add(tasks, "Task")
        add(task, "UID", uid_of[activity.id])
        add(task, "ID", uid_of[activity.id])
        add(task, "Name", activity.name)
        add(task, "OutlineLevel", level(activity))
        add(task, "Summary", int(activity.summary))
        add(task, "Milestone", int(activity.milestone))
        add(task, "Start", _stamp(activity.start))
        add(task, "Finish", _stamp(activity.finish))
        add(task, "Duration", _iso_duration(activity.duration_hours or 0.0))
        add(task, "DurationFormat", 7)  # days
        if activity.percent_complete is not None:
            add(task, "PercentComplete", round(activity.percent_complete))
        if activity.actual_start:
            add(task, "ActualStart", _stamp(activity.actual_start))
        if activity.actual_finish:
            add(task, "ActualFinish", _stamp(activity.actual_finish))
        if activity.cost is not None:
            add(task, "Cost", activity.cost)
        add(task, "CalendarUID", -1)
        for link in activity.predecessors:
            element = add(task, "PredecessorLink")
            add(element, "PredecessorUID", uid_of[link.predecessor])
            add(element, "Type", {v: k for k, v in LINK_CODES.items()}[link.type])
            add(element, "LinkLag", round(link.lag_hours * 600))
            add(element, "LagFormat", 7)  # shown in days
        if activity.elements:
            attribute = add(task, "ExtendedAttribute")
            add(attribute, "FieldID", TEXT1_FIELD_ID)
            add(attribute, "Value", ";".join(activity.elements))
    ET.indent(project)
    Path(path).write_bytes(ET.tostring(project, encoding="utf-8", xml_declaration=True))
