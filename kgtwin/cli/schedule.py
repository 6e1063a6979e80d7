"""`kgtwin schedule`: import schedules, record progress, report performance, the critical path, time travel."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from kgtwin.cli.common import Format, app, err, out, print_rows, run_with_store, settings_of

schedule_app = typer.Typer(
    no_args_is_help=True, help="Schedules: import, progress, performance, critical path, time travel."
)
app.add_typer(schedule_app, name="schedule")


class FileFormat(StrEnum):
    json = "json"
    csv = "csv"
    mspdi = "mspdi"


class GroupBy(StrEnum):
    storey = "storey"
    building = "building"


def _moment(text: str | None, option: str, *, end_of_day: bool = False) -> dt.datetime | None:
    from kgtwin.sources.schedule.calendar import ScheduleError, parse_moment

    if text is None:
        return None
    try:
        return parse_moment(text, end_of_day=end_of_day)
    except ScheduleError as exc:
        raise ScheduleError(f"{option}: {exc}") from None


def _iso(value: Any) -> str:
    """Epoch milliseconds as an ISO date-time (UTC) for people; other values as they are."""
    if value is None:
        return ""
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _rows(items: list[Any], times: tuple[str, ...], fmt: Format) -> list[dict[str, Any]]:
    """Dataclasses as rows; times as ISO text in tables and CSV, epoch ms in JSON."""
    rows = [dataclasses.asdict(item) if dataclasses.is_dataclass(item) else dict(item) for item in items]
    if fmt is not Format.json:
        for row in rows:
            for key in times:
                if key in row:
                    row[key] = _iso(row[key])
            for key, value in row.items():
                if isinstance(value, float):
                    row[key] = round(value, 3)
    return rows


def _publish(result: Any, fmt: Format, header: str, *tables: list[dict[str, Any]]) -> None:
    """JSON: the whole result as the library returns it; a table: a header line, then the tables; CSV: the tables."""
    if fmt is Format.json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(result), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if fmt is Format.table:
        out.print(header)
    for rows in tables:
        print_rows(rows, fmt)


@schedule_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A schedule: JSON (the seed's form), CSV or MS Project XML.")],
    model: Annotated[str, typer.Option(help="The loaded model whose elements (GlobalIds) the schedule builds.")],
    fmt: Annotated[FileFormat | None, typer.Option("--format", help="Default: from the file's suffix.")] = None,
    schedule: Annotated[str | None, typer.Option(help="Schedule id (default: the file's id, or its name).")] = None,
    calendar: Annotated[
        str | None, typer.Option(help="Working time of a JSON/CSV file that states none, e.g. '1-5 08:00-16:00'.")
    ] = None,
) -> None:
    """Import a schedule, or update an imported one in place (progress reported since is kept)."""
    from kgtwin.sources.schedule import import_schedule, parse_calendar_spec

    working = parse_calendar_spec(calendar) if calendar else None
    summary = run_with_store(
        settings_of(ctx),
        lambda store: import_schedule(
            store, file, model, fmt.value if fmt else None, schedule_id=schedule, calendar=working
        ),
    )
    out.print(
        f"schedule {summary.schedule} ({summary.format}): {summary.activities} activities "
        f"({summary.added} added, {summary.updated} updated, {summary.removed} removed), {summary.links} links, "
        f"{summary.constructs} elements linked, {summary.status_changes} status changes"
        + (f"; progress reported through kgtwin kept on {summary.progress_kept}" if summary.progress_kept else "")
    )
    if summary.unknown_elements:
        shown = ", ".join(summary.unknown_elements[:5]) + (" ..." if len(summary.unknown_elements) > 5 else "")
        err.print(f"warning: {len(summary.unknown_elements)} GlobalIds are not in model {model}: {shown}", markup=False)


@schedule_app.command("progress")
def progress_command(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="The activity's uid, or its id in the schedule (with --model).")],
    percent: Annotated[float | None, typer.Option(help="Percent complete (0-100).")] = None,
    actual_start: Annotated[str | None, typer.Option(help="When the work started (ISO 8601).")] = None,
    actual_finish: Annotated[str | None, typer.Option(help="When it finished (ISO 8601); means 100 %.")] = None,
    model: Annotated[str | None, typer.Option(help="The model, to find the activity by its id.")] = None,
) -> None:
    """Record progress; the elements the activity builds follow (planned, in progress, completed)."""
    from kgtwin.events import EventLog
    from kgtwin.sources.schedule import record_progress

    start = _moment(actual_start, "--actual-start")
    finish = _moment(actual_finish, "--actual-finish", end_of_day=True)
    result = run_with_store(
        settings_of(ctx),
        lambda store: record_progress(
            store, EventLog(store), activity, percent, actual_start=start, actual_finish=finish, model=model
        ),
    )
    out.print(
        f"{result.name}: {result.percent_complete:g} % (started {_iso(result.actual_start) or '-'}, "
        f"finished {_iso(result.actual_finish) or '-'}); {len(result.changes)} elements changed status"
        + (f", {len(result.kept_issue)} kept 'issue'" if result.kept_issue else "")
    )


# What a terminal table shows (JSON and CSV carry every field)
SCOPE_COLUMNS = {
    "level": "level",
    "name": "scope",
    "planned_value": "PV",
    "earned_value": "EV",
    "spi": "SPI",
    "schedule_variance_days": "SV d",
    "expected_percent": "expected %",
    "actual_percent": "actual %",
    "status": "status",
    "forecast_finish": "forecast finish",
    "finish_variance_days": "late d",
}
ACTIVITY_COLUMNS = {
    "identification": "id",
    "name": "activity",
    "expected_percent": "expected %",
    "percent_complete": "actual %",
    "status": "status",
    "planned_finish": "planned finish",
    "forecast_finish": "forecast finish",
    "total_float_hours": "float h",
    "critical": "critical",
}
FLOAT_COLUMNS = {
    "identification": "id",
    "name": "activity",
    "early_start": "early start",
    "early_finish": "early finish",
    "late_start": "late start",
    "late_finish": "late finish",
    "total_float_hours": "float h",
    "total_float_days": "float d",
}


def _view(rows: list[dict[str, Any]], columns: dict[str, str], fmt: Format) -> list[dict[str, Any]]:
    if fmt is not Format.table:
        return rows
    return [{header: row.get(key) for key, header in columns.items()} for row in rows]


@schedule_app.command("report")
def report_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="The model.")],
    as_of: Annotated[str | None, typer.Option(help="Data date (ISO 8601; default now).")] = None,
    by: Annotated[GroupBy | None, typer.Option(help="Roll up by storey or building as well.")] = None,
    schedule: Annotated[
        str | None, typer.Option(help="Which schedule, when the model has several ('ifc': the model file's).")
    ] = None,
    tolerance: Annotated[float, typer.Option(min=0, help="Percentage points within which progress is on track.")] = 5.0,
    activities: Annotated[bool, typer.Option("--activities", help="List every activity too.")] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Expected against actual progress, earned value (PV, EV, SPI, SV in days), variances and forecasts."""
    from kgtwin.analytics.schedule import ACTIVITY_TIMES, SCOPE_TIMES, schedule_report

    at = _moment(as_of, "--as-of")
    report = run_with_store(
        settings_of(ctx),
        lambda store: schedule_report(
            store, model, at, by.value if by else None, schedule=schedule, tolerance=tolerance
        ),
    )
    header = (
        f"schedule {report.schedule} of {report.model} as of {_iso(report.as_of)}: weights are planned "
        f"{'cost' if report.basis == 'cost' else 'working hours'}; time in {report.time_basis}; "
        f"days are {report.day_hours:g} h; forecast finish {_iso(report.forecast_finish)}, "
        f"by SPI {_iso(report.forecast_finish_by_spi) or '-'}"
    )
    scopes = _view(_rows([report.project, *report.groups], SCOPE_TIMES, fmt), SCOPE_COLUMNS, fmt)
    listed = [_view(_rows(report.activities, ACTIVITY_TIMES, fmt), ACTIVITY_COLUMNS, fmt)] if activities else []
    _publish(report, fmt, header, scopes, *listed)


@schedule_app.command("critical-path")
def critical_path_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="The model.")],
    schedule: Annotated[str | None, typer.Option(help="Which schedule, when the model has several.")] = None,
    all_activities: Annotated[
        bool, typer.Option("--all", help="Every activity with its float, not only the critical ones.")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """CPM: early and late dates and total float; the critical activities in order."""
    from kgtwin.analytics.schedule import critical_path

    result = run_with_store(settings_of(ctx), lambda store: critical_path(store, model, schedule))
    header = (
        f"schedule {result.schedule} of {result.model}: {_iso(result.project_start)} to "
        f"{_iso(result.project_finish)} ({result.duration_hours:g} h); time in {result.time_basis}; "
        f"{len(result.path)} critical of {len(result.activities)} activities"
    )
    shown = [a for a in result.activities if all_activities or a.critical]
    times = ("early_start", "early_finish", "late_start", "late_finish")
    _publish(result, fmt, header, _view(_rows(shown, times, fmt), FLOAT_COLUMNS, fmt))


@schedule_app.command("as-of")
def as_of_command(
    ctx: typer.Context,
    date: Annotated[str, typer.Argument(help="The date (ISO 8601); a date alone means the end of that day.")],
    scope: Annotated[str, typer.Option(help="The model id, or the uid of a building, storey, space or element.")],
    model: Annotated[str, typer.Option(help="The model.")],
    schedule: Annotated[str | None, typer.Option(help="Whose plan, when the model has several schedules.")] = None,
    elements: Annotated[bool, typer.Option("--elements", help="List every element too.")] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """What a scope looked like on a date: as planned (the schedule) beside as built (the status history)."""
    from kgtwin.analytics.timetravel import state_as_of

    at = _moment(date, "DATE", end_of_day=True)
    assert at is not None
    state = run_with_store(settings_of(ctx), lambda store: state_as_of(store, model, scope, at, schedule=schedule))
    header = (
        f"{state.level} {state.name or state.scope} as of {_iso(state.as_of)} "
        f"(plan: {state.schedule or 'none'}): {len(state.elements)} elements"
    )
    listed = [_rows(state.elements, (), fmt)] if elements else []
    _publish(state, fmt, header, _rows(state.counts, (), fmt), *listed)
