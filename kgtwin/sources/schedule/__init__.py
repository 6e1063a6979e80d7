"""Schedules into the graph: activity files (JSON, CSV, MS Project XML), progress, working calendars."""

from kgtwin.sources.schedule.calendar import ELAPSED, ScheduleError, WorkCalendar, parse_calendar_spec
from kgtwin.sources.schedule.files import SchedulePlan, read_schedule
from kgtwin.sources.schedule.importer import ImportSummary, import_schedule, write_schedule
from kgtwin.sources.schedule.progress import ProgressResult, drive_status, record_progress, status_for

__all__ = [
    "ELAPSED",
    "ImportSummary",
    "ProgressResult",
    "ScheduleError",
    "SchedulePlan",
    "WorkCalendar",
    "drive_status",
    "import_schedule",
    "parse_calendar_spec",
    "read_schedule",
    "record_progress",
    "status_for",
    "write_schedule",
]
