"""Updates from the field: element status and property values with their source and confidence.

Every change becomes an event (the history a user reads back). A property that a sensor is bound
to has two writers, the sensor and the field; the binding declares which one wins:

- `physical_wins` (the default): while the point reports (its last reading is newer than three
  expected intervals, 15 minutes when none is declared), a field value is recorded in the history
  but the current value stays the sensor's; once the point is silent, the field value applies
  until the next reading.
- `field_wins`: the field value applies and holds; readings still land on the point, but no longer
  overwrite the property until the override is cleared.
- `latest_wins`: whichever value was measured or stated later applies.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kgtwin.errors import KgtwinError
from kgtwin.events import BINDING_CHANGE, PROPERTY_UPDATE, STATUS_CHANGE, EventLog, TwinEvent, scope_of
from kgtwin.model.graph import is_file_key
from kgtwin.store import GraphStore
from kgtwin.store.base import split_removals

STATUSES = ("planned", "in_progress", "completed", "issue")
CONFLICT_RULES = ("physical_wins", "field_wins", "latest_wins")
DEFAULT_RULE = "physical_wins"
UPDATABLE_LABELS = ("Element", "Space", "Storey", "Building", "Zone", "Point", "Equipment")
SILENT_AFTER_INTERVALS = 3
DEFAULT_INTERVAL_S = 300
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Keys the twin itself keeps; the field changes them through their own operations, if at all.
RESERVED = frozenset(
    {"uid", "model", "globalId", "ifcClass", "status", "fingerprint", "fieldOverrides", "source", "brickClass"}
)


class FieldUpdateError(KgtwinError):
    exit_code = 2


@dataclass(frozen=True)
class StatusChange:
    uid: str
    previous: str | None
    status: str


@dataclass(frozen=True)
class PropertyOutcome:
    property: str
    value: Any
    applied: bool
    rule: str | None  # the binding's rule, None when no sensor is bound to the property
    reason: str  # why it was or was not applied


def now_ms() -> int:
    return int(time.time() * 1000)


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise FieldUpdateError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    return status


async def set_status(
    store: GraphStore,
    log: EventLog,
    uids: Sequence[str],
    status: str,
    source: str,
    *,
    keep_issue: bool = False,
    when: int | None = None,
) -> list[StatusChange]:
    """Set elements' status; unchanged ones are left alone and each change is an event.

    `keep_issue`: the schedule drives status, but an element the field flagged `issue` keeps that
    status until the field clears it.
    """
    check_status(status)
    when = when or now_ms()
    rows = await store.execute(
        "field/set_status",
        {"uids": list(uids), "status": status, "keepIssue": keep_issue, "time": when, "source": source},
    )
    changes = [StatusChange(r["uid"], r["previous"], status) for r in rows]
    await log.record(
        [
            TwinEvent(
                kind=STATUS_CHANGE,
                subject=r["uid"],
                subject_label="Element",
                model=r["model"],
                source=source,
                details={"from": r["previous"], "to": status},
                scope=scope_of(r),
                time=when,
            )
            for r in rows
        ]
    )
    return changes


def _check_value(name: str, value: Any) -> None:
    scalar = (str, int, float, bool)
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldUpdateError(f"property {name!r}: {value} is not a finite number")
    if value is None or isinstance(value, scalar):
        return
    if isinstance(value, list) and all(isinstance(v, scalar) for v in value):
        if len({type(v) for v in value}) > 1:
            raise FieldUpdateError(f"property {name!r}: a list must hold values of one type")
        return
    raise FieldUpdateError(f"property {name!r}: values are numbers, text, booleans or lists of one of them")


def check_properties(values: Mapping[str, Any]) -> None:
    if not values:
        raise FieldUpdateError("no properties to set")
    for name, value in values.items():
        if not _PROPERTY.match(name):
            raise FieldUpdateError(f"property name {name!r} must be letters, digits and _ (at most 64)")
        if name in RESERVED or is_file_key(name):
            raise FieldUpdateError(f"property {name!r} is kept by the twin or the model file; it cannot be set here")
        _check_value(name, value)


async def set_properties(
    store: GraphStore,
    log: EventLog,
    label: str,
    uid: str,
    values: Mapping[str, Any],
    source: str,
    *,
    confidence: float | None = None,
    when: int | None = None,
) -> list[PropertyOutcome]:
    """Set properties of one node with their source and confidence, following each binding's rule."""
    if label not in UPDATABLE_LABELS:
        raise FieldUpdateError(f"{label} nodes take no field updates (only {', '.join(UPDATABLE_LABELS)})")
    check_properties(values)
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise FieldUpdateError(f"confidence {confidence} is not between 0 and 1")
    when = when or now_ms()
    rows = await store.execute("field/property_state", {"uid": uid, "keys": list(values)}, label=label)
    if not rows:
        raise FieldUpdateError(f"no {label.lower()} {uid!r}")
    current, bindings = rows[0]["props"], {b["property"]: b for b in rows[0]["bindings"] if b.get("property")}
    overrides = set(current.get("fieldOverrides") or [])
    updates: dict[str, Any] = {}
    outcomes, events = [], []
    for name, value in values.items():
        binding = bindings.get(name)
        rule = (binding.get("rule") or DEFAULT_RULE) if binding else None
        applied, reason = _decide(rule, binding, current.get(f"{name}.time"), when, value is None)
        if applied:
            updates.update(
                {name: value, f"{name}.time": when, f"{name}.source": source, f"{name}.confidence": confidence}
            )
            if rule == "field_wins":
                (overrides.discard if value is None else overrides.add)(name)
        outcomes.append(PropertyOutcome(name, value, applied, rule, reason))
        events.append(
            TwinEvent(
                kind=PROPERTY_UPDATE,
                subject=uid,
                subject_label=label,
                model=current.get("model"),
                source=source,
                details={
                    "property": name,
                    "value": value,
                    "previous": current.get(name),
                    "confidence": confidence,
                    "applied": applied,
                    "rule": rule,
                    "reason": reason,
                },
                scope=scope_of(current),
                time=when,
            )
        )
    if updates:
        updates["fieldOverrides"] = sorted(overrides) or None
        (setting,), removing = split_removals([{"uid": uid, "props": updates}])
        await store.execute("field/set_properties", setting, label=label)
        if removing:
            await store.execute("graph/remove_keys", {"rows": removing}, label=label)
    await log.record(events)
    return outcomes


def _decide(
    rule: str | None, binding: Mapping[str, Any] | None, stated_at: int | None, when: int, clearing: bool
) -> tuple[bool, str]:
    if rule is None or binding is None:
        return True, "no sensor is bound to it"
    if rule == "field_wins":
        return True, "the field wins over the sensor" if not clearing else "override cleared: the sensor takes over"
    if rule == "latest_wins":
        if stated_at is not None and stated_at > when:
            return False, "a later value is already there"
        return True, "the latest value wins"
    interval_ms = 1000 * (binding.get("interval") or DEFAULT_INTERVAL_S)
    last = binding.get("lastTime")
    if last is not None and when - last <= SILENT_AFTER_INTERVALS * interval_ms:
        return False, "the bound sensor is reporting and physical values win; kept in the history"
    return True, "the bound sensor is silent, so the field value applies"


async def bind_point(
    store: GraphStore,
    log: EventLog,
    point_uid: str,
    target_label: str,
    target_uid: str,
    property: str,
    source: str,
    *,
    unit: str | None = None,
    scale: float = 1.0,
    offset: float = 0.0,
    rule: str = DEFAULT_RULE,
) -> None:
    """Bind a point to a property of an element or space, as a registry entry would (the seed's
    `bind_sensor_to_property`): readings, converted to `unit` and scaled, keep that property current."""
    from kgtwin.sources.sensors import parse_unit  # sensors imports this module: bind late

    if not _PROPERTY.match(property) or property in RESERVED or is_file_key(property):
        raise FieldUpdateError(f"{property!r} cannot be a bound property (letters, digits and _, not a model key)")
    if rule not in CONFLICT_RULES:
        raise FieldUpdateError(f"conflict rule {rule!r} is not one of {', '.join(CONFLICT_RULES)}")
    if not all(math.isfinite(x) for x in (scale, offset)):
        raise FieldUpdateError("scale and offset must be finite numbers")
    if unit is not None:
        parse_unit(unit, f"binding of {point_uid}")
    props = {"property": property, "unit": unit, "scale": scale, "offset": offset, "conflict": rule}
    rows = [{"target": target_uid, "point": point_uid, "props": {k: v for k, v in props.items() if v is not None}}]
    bound = await store.execute("sensors/bind", {"rows": rows}, label=target_label)
    if not bound:
        raise FieldUpdateError(f"no point {point_uid!r} or no {target_label.lower()} {target_uid!r} to bind")
    await log.record(
        [
            TwinEvent(
                kind=BINDING_CHANGE,
                subject=target_uid,
                subject_label=target_label,
                model=None,
                source=source,
                details={"point": point_uid, "property": property, "bound": True, "rule": rule},
                scope=(point_uid,),
            )
        ]
    )


async def unbind_point(
    store: GraphStore, log: EventLog, point_uid: str, target_label: str, target_uid: str, source: str
) -> bool:
    """Remove a binding (the point stays, and so does its history); False when there was none."""
    rows = await store.execute("field/unbind", {"point": point_uid, "target": target_uid}, label=target_label)
    if not rows:
        return False
    await log.record(
        [
            TwinEvent(
                kind=BINDING_CHANGE,
                subject=target_uid,
                subject_label=target_label,
                model=rows[0]["model"],
                source=source,
                details={"point": point_uid, "property": rows[0]["property"], "bound": False},
                scope=(point_uid,),
            )
        ]
    )
    return True
