"""Schedule files as kgtwin reads them: the seed's JSON form, CSV with the same columns, and the
plan every format becomes (activities with dates, links, elements and progress) before writing.

JSON is a list of activities, or an object `{id, name, calendar, start, activities}`:

    {"id": "A10", "name": "Slab L1", "start": "2026-03-02", "end": "2026-03-06",
     "elements": ["2O2Fr$t4X7Zf8NOew3FLOH"], "predecessors": ["A05FS+2d", "A07SS"]}

Optional per activity: `duration` (16h, 2d, 1w; a number is days), `parent` (the id of its
summary activity), `percentComplete`, `actualStart`, `actualFinish`, `cost`, `milestone`.
A calendar is `{"weekdays": [1, 2, 3, 4, 5], "periods": [["08:00", "16:00"]]}` or the text
`1-5 08:00-12:00,13:00-17:00` (a CSV's comes from the command line); without one,
durations and lags run in elapsed time (24 hours a day, every day). A date alone is the start of
that day for a start and the end of it for an end; missing dates follow from the links.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kgtwin.sources.schedule.calendar import (
    ELAPSED,
    ScheduleError,
    WorkCalendar,
    parse_calendar_spec,
    parse_moment,
    parse_time_of_day,
    parse_work_hours,
)
from kgtwin.sources.schedule.network import SHORT_LINK_TYPES, ForwardPass, Task, find_loop

FORMATS = ("json", "csv", "mspdi")
_LINK = re.compile(r"^(?P<id>[A-Za-z0-9_.\-]+?)(?P<type>FS|SS|FF|SF)?(?P<lag>[+-]\s*\d+(?:\.\d+)?\s*[hdwHDW]?)?$")
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class Link:
    predecessor: str  # the predecessor's id in the file
    type: str  # FINISH_START, START_START, FINISH_FINISH, START_FINISH
    lag_hours: float  # in working hours of the successor's calendar


@dataclass
class ActivitySpec:
    """One activity as the file states it; dates may be missing until the plan is resolved."""

    id: str
    name: str
    start: dt.datetime | None = None
    finish: dt.datetime | None = None
    duration_hours: float | None = None
    elements: list[str] = field(default_factory=list)  # GlobalIds
    predecessors: list[Link] = field(default_factory=list)
    parent: str | None = None
    percent_complete: float | None = None
    actual_start: dt.datetime | None = None
    actual_finish: dt.datetime | None = None
    cost: float | None = None
    milestone: bool = False
    calendar: WorkCalendar | None = None  # its own, when not the schedule's
    summary: bool = False


@dataclass
class SchedulePlan:
    """A whole schedule file, resolved: every activity has its dates and working-time duration."""

    id: str
    name: str
    format: str
    calendar: WorkCalendar
    activities: list[ActivitySpec]
    start: dt.datetime | None = None

    def calendar_of(self, activity: ActivitySpec) -> WorkCalendar:
        return activity.calendar or self.calendar


def schedule_id_for(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-").lower() or "schedule"


def format_of(path: Path, given: str | None) -> str:
    if given:
        if given not in FORMATS:
            raise ScheduleError(f"format {given!r} is not one of {', '.join(FORMATS)}")
        return given
    suffix = path.suffix.lower()
    by_suffix = {".json": "json", ".csv": "csv", ".xml": "mspdi", ".mspdi": "mspdi"}
    if suffix not in by_suffix:
        raise ScheduleError(
            f"{path}: cannot tell the format from {suffix or 'no suffix'}; give --format json|csv|mspdi"
        )
    return by_suffix[suffix]


def read_schedule(
    path: Path, fmt: str | None = None, schedule_id: str | None = None, calendar: WorkCalendar | None = None
) -> SchedulePlan:
    """Read and resolve a schedule file; every way it can be wrong is one ScheduleError line.

    `calendar` is the working time of a JSON or CSV file that states none (default: elapsed time).
    """
    path = Path(path)
    fmt = format_of(path, fmt)
    if not path.is_file():
        raise ScheduleError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScheduleError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        if fmt == "mspdi":
            from kgtwin.sources.schedule.mspdi import parse_mspdi

            plan = parse_mspdi(raw)
        elif fmt == "json":
            plan = _parse_json(raw, calendar or ELAPSED)
        else:
            plan = _parse_csv(raw, calendar or ELAPSED)
    except ScheduleError as exc:
        raise ScheduleError(f"{path}: {exc}") from None
    plan.id = schedule_id or plan.id or schedule_id_for(path)
    plan.name = plan.name or path.stem
    if not _ID.match(plan.id):
        raise ScheduleError(f"{path}: schedule id {plan.id!r} must be letters, digits, _ . - (at most 64)")
    try:
        resolve(plan)
    except ScheduleError as exc:
        raise ScheduleError(f"{path}: {exc}") from None
    return plan


def _parse_json(raw: bytes, default_calendar: WorkCalendar) -> SchedulePlan:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ScheduleError(f"not JSON ({exc.args[0].split(':')[0]})") from None
    header: Mapping[str, Any] = {}
    if isinstance(doc, dict):
        header, doc = doc, doc.get("activities")
    if not isinstance(doc, list) or not all(isinstance(a, dict) for a in doc):
        raise ScheduleError("expected a list of activities ({id, name, start, end, elements}) or {activities: [...]}")
    calendar = _calendar(header["calendar"]) if header.get("calendar") is not None else default_calendar
    plan = SchedulePlan(
        id=str(header.get("id") or ""),
        name=str(header.get("name") or ""),
        format="json",
        calendar=calendar,
        activities=[],
        start=_moment(header.get("start"), "schedule start"),
    )
    plan.activities = [_activity(item, calendar, f"activity {n + 1}") for n, item in enumerate(doc)]
    return plan


def _parse_csv(raw: bytes, calendar: WorkCalendar) -> SchedulePlan:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScheduleError("not UTF-8 text") from None
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = [c.strip() for c in reader.fieldnames or []]
    if "id" not in columns:
        raise ScheduleError("no 'id' column: a schedule CSV has columns id,name,start,end,elements,predecessors")
    reader.fieldnames = columns
    plan = SchedulePlan(id="", name="", format="csv", calendar=calendar, activities=[])
    for row in reader:
        item = {k: v.strip() for k, v in row.items() if k and isinstance(v, str) and v.strip()}
        if item:
            plan.activities.append(_activity(item, plan.calendar, f"line {reader.line_num}"))
    return plan


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part for part in re.split(r"[;,\s]+", str(value)) if part]


def parse_number(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScheduleError(f"{what} {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ScheduleError(f"{what} {value!r} is not a finite number")
    return number


def _moment(value: Any, what: str, *, end_of_day: bool = False) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ScheduleError(f"{what} {value!r} is not an ISO 8601 date")
    try:
        return parse_moment(value, end_of_day=end_of_day)
    except ScheduleError as exc:
        raise ScheduleError(f"{what}: {exc}") from None


def _calendar(spec: Any) -> WorkCalendar:
    if isinstance(spec, str):
        return parse_calendar_spec(spec)
    if not isinstance(spec, dict):
        raise ScheduleError('calendar must be {"weekdays": [1, 2, 3, 4, 5], "periods": [["08:00", "16:00"]]}')
    try:
        weekdays = frozenset(int(d) for d in spec.get("weekdays", [1, 2, 3, 4, 5]))
        periods = tuple((parse_time_of_day(a), parse_time_of_day(b)) for a, b in spec.get("periods", []))
    except (TypeError, ValueError):
        raise ScheduleError("calendar weekdays are 1 (Monday) to 7 and periods are [from, to] pairs") from None
    if not weekdays <= set(range(1, 8)):
        raise ScheduleError("calendar weekdays are 1 (Monday) to 7 (Sunday)")
    return WorkCalendar(weekdays=weekdays, periods=periods) if periods else WorkCalendar(weekdays=weekdays)


def parse_link(token: str, calendar: WorkCalendar) -> Link:
    """`A10`, `A10FS+2d`, `A20SS`, `A30FF-4h`: predecessor id, link type (FS by default), lag."""
    match = _LINK.match(token.strip())
    if not match:
        raise ScheduleError(f"predecessor {token!r} is not like A10, A10FS+2d or A20SS")
    lag = match.group("lag")
    return Link(
        predecessor=match.group("id"),
        type=SHORT_LINK_TYPES[match.group("type") or "FS"],
        lag_hours=parse_work_hours(lag.replace(" ", ""), calendar) if lag else 0.0,
    )


def _links(value: Any, calendar: WorkCalendar) -> list[Link]:
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        links = []
        for item in value:
            if not isinstance(item, dict) or "id" not in item:
                raise ScheduleError("a predecessor object is {id, type, lag}")
            kind = str(item.get("type") or "FS").upper()
            kind = SHORT_LINK_TYPES.get(kind, kind)
            if kind not in SHORT_LINK_TYPES.values():
                raise ScheduleError(f"predecessor type {item.get('type')!r} is not FS, SS, FF or SF")
            lag = item.get("lag")
            links.append(Link(str(item["id"]), kind, parse_work_hours(lag, calendar) if lag else 0.0))
        return links
    return [parse_link(token, calendar) for token in _split(value)]


def _activity(item: Mapping[str, Any], calendar: WorkCalendar, where: str) -> ActivitySpec:
    ident = item.get("id")
    if ident is None or str(ident).strip() == "":
        raise ScheduleError(f"{where}: has no id")
    ident = str(ident).strip()
    if not _ID.match(ident):
        raise ScheduleError(f"{where}: id {ident!r} must be letters, digits, _ . - (at most 64)")
    where = f"activity {ident!r}"
    try:
        duration = item.get("duration")
        milestone = str(item.get("milestone", "")).lower() in ("true", "1", "yes")
        return ActivitySpec(
            id=ident,
            name=str(item.get("name") or ident),
            start=_moment(item.get("start"), "start"),
            finish=_moment(item.get("end", item.get("finish")), "end", end_of_day=True),
            duration_hours=0.0 if milestone else parse_work_hours(duration, calendar) if duration else None,
            elements=_split(item.get("elements")),
            predecessors=_links(item.get("predecessors"), calendar),
            parent=str(item["parent"]).strip() if item.get("parent") not in (None, "") else None,
            percent_complete=parse_number(item.get("percentComplete", item.get("percent")), "percentComplete"),
            actual_start=_moment(item.get("actualStart"), "actualStart"),
            actual_finish=_moment(item.get("actualFinish"), "actualFinish", end_of_day=True),
            cost=parse_number(item.get("cost"), "cost"),
            milestone=milestone,
        )
    except ScheduleError as exc:
        raise ScheduleError(f"{where}: {exc}") from None


def resolve(plan: SchedulePlan) -> None:
    """Check the plan's ids and links, and give every activity its dates and working-time duration.

    Stated dates are kept (snapped into working time); missing ones come from the forward pass.
    """
    by_id: dict[str, ActivitySpec] = {}
    for activity in plan.activities:
        if activity.id in by_id:
            raise ScheduleError(f"activity id {activity.id!r} appears twice")
        by_id[activity.id] = activity
    if not by_id:
        raise ScheduleError("has no activities")
    tasks: dict[str, Task] = {}
    for a in plan.activities:
        calendar = plan.calendar_of(a)
        if a.start is not None:
            a.start = calendar.snap(a.start)
        if a.finish is not None:
            a.finish = calendar.snap_back(a.finish)
        if a.start is not None and a.finish is not None and a.finish < a.start:
            raise ScheduleError(f"activity {a.id!r} ends before it starts")
        if a.percent_complete is not None and not 0 <= a.percent_complete <= 100:
            raise ScheduleError(f"activity {a.id!r}: percentComplete {a.percent_complete:g} is not between 0 and 100")
        if a.actual_start and a.actual_finish and a.actual_finish < a.actual_start:
            raise ScheduleError(f"activity {a.id!r}: actualFinish is before actualStart")
        duration = a.duration_hours
        if duration is None and a.start is not None and a.finish is not None:
            duration = calendar.hours_between(a.start, a.finish)
        tasks[a.id] = Task(a.id, a.name, duration or 0.0, calendar, given_start=a.start, given_finish=a.finish)
    for a in plan.activities:
        task = tasks[a.id]
        if a.parent is not None:
            if a.parent not in tasks:
                raise ScheduleError(f"activity {a.id!r}: its parent {a.parent!r} is not in the file")
            task.parent = tasks[a.parent]
            tasks[a.parent].children.append(task)
            by_id[a.parent].summary = True
        for link in a.predecessors:
            if link.predecessor not in tasks:
                raise ScheduleError(f"activity {a.id!r}: its predecessor {link.predecessor!r} is not in the file")
            task.predecessors.append((tasks[link.predecessor], link.type, link.lag_hours))
    looping = find_loop(list(tasks.values()))
    if looping is not None:
        raise ScheduleError(f"the predecessor links loop through activity {looping.uid!r}")
    for a in plan.activities:
        seen, parent = {a.id}, a.parent
        while parent is not None:
            if parent in seen:
                raise ScheduleError(f"activity {a.id!r} is nested in itself")
            seen.add(parent)
            parent = by_id[parent].parent
    for a in plan.activities:
        if not a.summary and a.duration_hours is None and a.finish is None and not a.milestone:
            raise ScheduleError(f"activity {a.id!r} has neither an end nor a duration")
    starts = [a.start for a in plan.activities if a.start is not None]
    if plan.start is None and not starts:
        raise ScheduleError("no activity has a start date, so no dates can be derived")
    dates = ForwardPass(list(tasks.values()), plan.start or min(starts))  # type: ignore[type-var]
    for a in plan.activities:
        task = tasks[a.id]
        a.start, a.finish = dates.start(task), dates.finish(task)
        calendar = plan.calendar_of(a)
        if a.summary or a.duration_hours is None:
            a.duration_hours = calendar.hours_between(a.start, a.finish) if a.start and a.finish else 0.0
        a.milestone = a.milestone or (not a.summary and a.duration_hours == 0)
