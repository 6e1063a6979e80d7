"""Time travel: what a scope (model, building, storey, space, element) looked like on a date.

As planned: an element is planned before the first activity that constructs it starts, completed
once all of them have finished, in progress between (activities of one schedule, as in the report).
As built: the element's status then, from its status-change history (the latest change at or
before the date; before its first change, the status that change left); an element with no change
at all has been `planned` since it was loaded. Elements no activity constructs are `unscheduled`
as planned.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from kgtwin.analytics.schedule import choose_schedule, schedule_keys
from kgtwin.sources.field import STATUSES
from kgtwin.sources.schedule.calendar import ScheduleError, epoch_ms
from kgtwin.sources.schedule.progress import status_for
from kgtwin.store import GraphStore

UNSCHEDULED = "unscheduled"
SCOPE_KEYS = {"Building": "building", "Storey": "storey", "Space": "space", "Element": "uid"}


@dataclass(frozen=True)
class ElementState:
    uid: str
    name: str | None
    ifc_class: str | None
    planned: str  # planned | in_progress | completed | unscheduled
    built: str  # planned | in_progress | completed | issue
    current: str | None  # its status now


@dataclass(frozen=True)
class StatusCount:
    status: str
    planned: int
    built: int


@dataclass(frozen=True)
class ScopeState:
    model: str
    scope: str  # the model id, or the uid of a building, storey, space or element
    level: str  # Model | Building | Storey | Space | Element
    name: str | None
    as_of: int  # epoch ms
    schedule: str | None  # whose plan: an imported schedule's uid, 'ifc', or None when the model has none
    counts: list[StatusCount]
    elements: list[ElementState]


def planned_status(plan: list[dict[str, Any]], at: int) -> str:
    dated = [p for p in plan if p.get("start") is not None and p.get("finish") is not None]
    if not dated:
        return UNSCHEDULED
    return status_for(0.0 if at < p["start"] else 100.0 if at >= p["finish"] else 50.0 for p in dated)


def built_status(history: list[dict[str, Any]], at: int) -> str:
    changes = sorted((h for h in history if h.get("time") is not None), key=lambda h: h["time"])
    before = [h for h in changes if h["time"] <= at]
    if before:
        return str(orjson.loads(before[-1]["details"])["to"])
    if changes:
        return orjson.loads(changes[0]["details"]).get("from") or "planned"
    return "planned"


async def state_as_of(
    store: GraphStore, model: str, scope: str, as_of: dt.datetime | int, *, schedule: str | None = None
) -> ScopeState:
    """As planned beside as built for every element of a scope on a date, with counts by status."""
    at = as_of if isinstance(as_of, int) else epoch_ms(as_of) or 0
    if scope == model:
        level, key, name = "Model", "model", model
    else:
        rows = await store.execute("store/node_by_uid", {"uid": scope})
        found = [r for r in rows if r["properties"].get("model") == model]
        level = next((label for r in found for label in SCOPE_KEYS if label in r["labels"]), "")
        if not level:
            raise ScheduleError(
                f"{scope!r} is not the model id nor a building, storey, space or element of model {model!r}"
            )
        key, name = SCOPE_KEYS[level], found[0]["properties"].get("name")
    keys = await schedule_keys(store, model)
    plan_key = choose_schedule(model, keys, schedule) if keys or schedule else None
    elements = []
    for row in await store.execute("schedule/scope_elements", {"model": model, "scope": scope}, key=key):
        plan = [p for p in row["plan"] if (p.get("schedule") or "") == plan_key and not p.get("summary")]
        elements.append(
            ElementState(
                uid=row["uid"],
                name=row["name"],
                ifc_class=row["ifcClass"],
                planned=planned_status(plan, at),
                built=built_status(row["history"], at),
                current=row["status"],
            )
        )
    planned, built = Counter(e.planned for e in elements), Counter(e.built for e in elements)
    return ScopeState(
        model=model,
        scope=scope,
        level=level,
        name=name,
        as_of=at,
        schedule=None if plan_key is None else plan_key or "ifc",
        counts=[StatusCount(s, planned[s], built[s]) for s in (*STATUSES, UNSCHEDULED)],
        elements=elements,
    )
