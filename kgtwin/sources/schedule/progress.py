"""Progress on activities and the element status it drives.

An element's status follows the activities of the same schedule that construct it (a model may
hold its IFC file's own 4D tasks and imported schedules side by side; each is a plan of its own):
none started (0 %) → planned,
all complete (100 %) → completed, anything between → in_progress. The change is dated when the
work happened where that is known (actual finish for completed, actual start for in progress),
so the status history is the as-built record. An element the field flagged `issue` keeps it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kgtwin.events import PROGRESS_UPDATE, EventLog, TwinEvent
from kgtwin.sources.field import StatusChange, now_ms, set_status
from kgtwin.sources.schedule.calendar import ScheduleError, epoch_ms
from kgtwin.store import GraphStore

FIELD_PROGRESS = "progress"  # progressSource of progress recorded through kgtwin (not stated by a file)


def status_for(percents: Iterable[float | None]) -> str:
    """The status of an element from the percent complete of the activities that construct it."""
    values = [p or 0.0 for p in percents]
    if not values or all(p <= 0 for p in values):
        return "planned"
    if all(p >= 100 for p in values):
        return "completed"
    return "in_progress"


@dataclass(frozen=True)
class ProgressResult:
    activity: str  # uid
    name: str
    percent_complete: float
    actual_start: int | None  # epoch ms
    actual_finish: int | None
    changes: list[StatusChange] = field(default_factory=list)
    kept_issue: list[str] = field(default_factory=list)  # elements flagged `issue` that kept it


async def find_activity(store: GraphStore, activity: str, model: str | None = None) -> dict:
    """An activity by uid, or by its id in its schedule (identification) within `model`."""
    rows = await store.execute("schedule/find_activity", {"uid": activity, "model": model, "identification": activity})
    exact = [r for r in rows if r["uid"] == activity]
    if exact:
        return exact[0]
    if not rows:
        where = f" in model {model!r}" if model else " (give --model to find it by its id in the schedule)"
        raise ScheduleError(f"no activity {activity!r}{where}")
    if len(rows) > 1:
        raise ScheduleError(
            f"{len(rows)} activities have the id {activity!r} in model {model!r}: name one by uid "
            f"({', '.join(sorted(r['uid'] for r in rows)[:3])}, ...)"
        )
    return rows[0]


async def record_progress(
    store: GraphStore,
    log: EventLog,
    activity: str,
    percent: float | None = None,
    *,
    actual_start: dt.datetime | int | None = None,
    actual_finish: dt.datetime | int | None = None,
    model: str | None = None,
    when: int | None = None,
    source: str = "schedule",
) -> ProgressResult:
    """Record an activity's progress and drive the status of the elements it constructs.

    An actual finish without a percent means 100 %. Work reported under way (above 0 %) without an
    actual start is taken to have started as planned, or at the report's time (or its actual
    finish) when the plan has it start later; 100 % without an actual finish records the report's
    time as the finish. Going back below 100 % clears the actual finish, back to 0 % the start.
    """
    when = when or now_ms()
    found = await find_activity(store, activity, model)
    props = found["props"]
    uid, name = found["uid"], props.get("name") or found["uid"]
    if props.get("summary"):
        raise ScheduleError(f"activity {name!r} is a summary: record progress on its sub-activities")
    start = _ms(actual_start) if actual_start is not None else props.get("actualStart")
    finish = _ms(actual_finish) if actual_finish is not None else None
    if percent is None:
        if finish is None:
            raise ScheduleError("give a percent complete (0-100) or an actual finish")
        percent = 100.0
    if not 0 <= percent <= 100:
        raise ScheduleError(f"percent complete {percent:g} is not between 0 and 100")
    if finish is not None and percent < 100:
        raise ScheduleError(f"an actual finish means 100 % complete, not {percent:g} %")
    if percent >= 100:
        finish = finish or props.get("actualFinish") or when
    if percent > 0 and start is None:
        # work under way (or done) started by now: as planned, unless the plan has it start later
        reference = min(when, finish) if finish else when
        planned = props.get("scheduleStart")
        start = min(planned, reference) if planned is not None else reference
    if percent == 0 and actual_start is None:
        start = None
    if start is not None and finish is not None and finish < start:
        raise ScheduleError("the actual finish is before the actual start")
    updates = {"percentComplete": float(percent), "actualStart": start, "actualFinish": finish}
    stored = {**props, **updates, "progressTime": when, "progressSource": FIELD_PROGRESS}
    rows = await store.execute(
        "schedule/set_progress", {"uid": uid, "props": {k: v for k, v in stored.items() if v is not None}}
    )
    elements = [e for e in rows[0]["elements"] if e.get("uid")] if rows else []
    places = [e[k] for e in elements for k in ("storey", "building") if e.get(k)]
    await log.record(
        [
            TwinEvent(
                kind=PROGRESS_UPDATE,
                subject=uid,
                subject_label="Activity",
                model=props.get("model"),
                source=source,
                details={**updates, "previous": {k: props.get(k) for k in updates}},
                scope=tuple(dict.fromkeys(p for p in [props.get("schedule"), *places] if p)),
                time=when,
            )
        ]
    )
    plan = props.get("schedule") or ""
    changes = await drive_status(store, log, [uid], plan, when=when, source=source)
    changed = {c.uid for c in changes}
    current = await store.execute("schedule/element_progress", {"uids": [e["uid"] for e in elements], "schedule": plan})
    kept = [r["uid"] for r in current if r["status"] == "issue" and r["uid"] not in changed]
    return ProgressResult(uid, name, float(percent), start, finish, changes, sorted(kept))


async def drive_status(
    store: GraphStore,
    log: EventLog,
    activities: Sequence[str],
    schedule: str,
    *,
    when: int | None = None,
    source: str = "schedule",
) -> list[StatusChange]:
    """Set the status of the elements these activities (of `schedule`, '' for the IFC file's own)
    construct from the progress of all that schedule's activities that construct them."""
    when = when or now_ms()
    moment_of: dict[str, dict[str, int]] = {}  # element -> status -> when it happened, where known
    for row in await store.execute("schedule/activity_elements", {"uids": list(activities)}):
        for element in row["elements"]:
            moments = moment_of.setdefault(element, {})
            for status, moment in (("completed", row["actualFinish"]), ("in_progress", row["actualStart"])):
                if moment is not None:
                    moments[status] = max(moment, moments.get(status, 0))
    if not moment_of:
        return []
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for row in await store.execute("schedule/element_progress", {"uids": sorted(moment_of), "schedule": schedule}):
        status = status_for(row["percents"])
        if status != row["status"]:
            groups[(status, moment_of[row["uid"]].get(status, when))].append(row["uid"])
    changes: list[StatusChange] = []
    for (status, moment), uids in sorted(groups.items(), key=lambda item: item[0][1]):
        changes += await set_status(store, log, uids, status, source, keep_issue=True, when=moment)
    return changes


def _ms(value: dt.datetime | int) -> int:
    if isinstance(value, dt.datetime):
        return epoch_ms(value) or 0
    return int(value)
