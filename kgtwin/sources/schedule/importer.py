"""Writes a schedule file into the graph beside a loaded model, updating an imported one in place.

Activities are matched by uid (`<model>:schedule:<schedule id>:<activity id>`). What the file
plans (names, dates, durations, links, elements) is replaced on every import; progress the file
states (percent complete, actual dates) applies only to activities whose progress has not been
recorded through kgtwin since, so a re-import never rolls back what the site reported.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgtwin.events import EventLog
from kgtwin.sources.schedule.calendar import ScheduleError, WorkCalendar, epoch_ms
from kgtwin.sources.schedule.files import SchedulePlan, read_schedule
from kgtwin.sources.schedule.progress import FIELD_PROGRESS, drive_status
from kgtwin.store import GraphStore
from kgtwin.store.queries import named


@dataclass
class ImportSummary:
    model: str
    schedule: str  # the WorkSchedule's uid
    format: str
    activities: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    links: int = 0
    constructs: int = 0
    progress_kept: int = 0  # activities whose recorded progress the file did not overwrite
    unknown_elements: list[str] = field(default_factory=list)  # GlobalIds the model does not have
    status_changes: int = 0


def schedule_uid(model: str, schedule_id: str) -> str:
    return f"{model}:schedule:{schedule_id}"


async def import_schedule(
    store: GraphStore,
    path: Path,
    model: str,
    fmt: str | None = None,
    *,
    schedule_id: str | None = None,
    calendar: WorkCalendar | None = None,
    log: EventLog | None = None,
) -> ImportSummary:
    """Import (or re-import) a schedule file for a loaded model; all of it is written or none."""
    plan = await asyncio.to_thread(read_schedule, Path(path), fmt, schedule_id, calendar)
    return await write_schedule(store, plan, model, file=Path(path).name, log=log)


async def write_schedule(
    store: GraphStore, plan: SchedulePlan, model: str, *, file: str = "", log: EventLog | None = None
) -> ImportSummary:
    models = {row["model"] for row in await store.execute("store/models")}
    if model not in models:
        raise ScheduleError(f"model {model!r} is not loaded; load its IFC first (kgtwin load ifc FILE --model {model})")
    schedule = schedule_uid(model, plan.id)
    summary = ImportSummary(model=model, schedule=schedule, format=plan.format, activities=len(plan.activities))
    uid_of = {a.id: f"{schedule}:{a.id}" for a in plan.activities}
    wanted = sorted({f"{model}:{g}" for a in plan.activities for g in a.elements})
    known = {row["uid"] for row in await store.execute("schedule/known_elements", {"uids": wanted})}
    summary.unknown_elements = sorted(uid.split(":", 1)[1] for uid in set(wanted) - known)
    found = await store.execute("schedule/previous", {"model": model, "schedule": schedule})
    previous = {row["uid"]: row["props"] for row in found}

    load = uuid.uuid4().hex
    rows, progressed = [], []
    for a in plan.activities:
        uid = uid_of[a.id]
        before = previous.get(uid)
        props: dict[str, Any] = {
            **(before or {}),  # what others wrote on the activity stays
            "uid": uid,
            "model": model,
            "schedule": schedule,
            "source": "schedule",
            "loadId": load,
            "format": plan.format,
            "name": a.name,
            "identification": a.id,
            "scheduleStart": epoch_ms(a.start),
            "scheduleFinish": epoch_ms(a.finish),
            "durationHours": round(a.duration_hours or 0.0, 6),
            "calendar": plan.calendar_of(a).to_text(),
            "summary": a.summary,
            "isMilestone": a.milestone,
            "cost": a.cost,
        }
        stated = {
            "percentComplete": a.percent_complete,
            "actualStart": epoch_ms(a.actual_start),
            "actualFinish": epoch_ms(a.actual_finish),
        }
        states_progress = any(v is not None for v in stated.values())
        kept = before is not None and before.get("progressSource") == FIELD_PROGRESS
        summary.progress_kept += kept and states_progress
        if states_progress and not kept:
            props.update(stated, progressSource="file")
            if not a.summary and (before or {}).get("percentComplete") != a.percent_complete:
                progressed.append(uid)
        rows.append({"uid": uid, "props": {k: v for k, v in props.items() if v is not None}})
        if before is None:
            summary.added += 1
        else:
            summary.updated += 1
    summary.removed = len(set(previous) - set(uid_of.values()))

    links: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def link(kind: str, start_label: str, end_label: str, start: str, end: str, **props: Any) -> None:
        links.setdefault((kind, start_label, end_label), []).append({"start": start, "end": end, "props": props})

    order: dict[str, int] = {}
    for a in plan.activities:
        uid = uid_of[a.id]
        if a.parent is None:
            link("HAS_ACTIVITY", "WorkSchedule", "Activity", schedule, uid)
        else:
            order[a.parent] = order.get(a.parent, -1) + 1
            link("HAS_SUB_ACTIVITY", "Activity", "Activity", uid_of[a.parent], uid, order=order[a.parent])
        for p in a.predecessors:
            link("PRECEDES", "Activity", "Activity", uid_of[p.predecessor], uid, type=p.type, lagHours=p.lag_hours)
            summary.links += 1
        for global_id in dict.fromkeys(a.elements):
            if f"{model}:{global_id}" in known:
                link("CONSTRUCTS", "Activity", "Element", uid, f"{model}:{global_id}", via="schedule")
                summary.constructs += 1

    finishes = [a.finish for a in plan.activities if a.finish]
    starts = [a.start for a in plan.activities if a.start]
    now = int(time.time() * 1000)
    scope = {"model": model, "schedule": schedule}
    async with store.transaction() as tx:
        await tx.run(
            named("schedule/upsert_schedule").text,
            {
                "uid": schedule,
                "model": model,
                "props": {  # no nulls: see schedule/upsert_activities
                    k: v
                    for k, v in {
                        "name": plan.name,
                        "identification": plan.id,
                        "format": plan.format,
                        "file": file,
                        "startTime": epoch_ms(plan.start or min(starts, default=None)),
                        "finishTime": epoch_ms(max(finishes, default=None)),
                        "calendar": plan.calendar.to_text(),
                        "importedAt": now,
                    }.items()
                    if v is not None
                },
            },
        )
        await tx.run(named("schedule/upsert_activities").text, {"rows": rows})
        await tx.run(named("schedule/clear_links").text, scope)
        await tx.run(named("schedule/clear_roots").text, {"schedule": schedule})
        for (kind, start_label, end_label), batch in links.items():
            await tx.run(named("schedule/link").render(start=start_label, end=end_label, type=kind), {"rows": batch})
        await tx.run(named("schedule/remove_activities").text, {**scope, "load": load})
    if progressed:
        changes = await drive_status(store, log or EventLog(store), progressed, schedule)
        summary.status_changes = len(changes)
    return summary
