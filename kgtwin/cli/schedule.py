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


def _json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


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
    percent: Annotated[float | None, typer.Option(min=0, max=100, help="Percent complete.")] = None,
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
