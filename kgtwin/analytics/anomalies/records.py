"""Anomalies in the graph: written as the detectors open, escalate and end them, each change an event;
the workflow users drive (acknowledge, resolve); listing them back.

An anomaly is `active` while its signal is out of line; when the signal returns to normal the
detectors set `end` and `active: false` and leave `state` alone: whether it is dealt with is the
users' call (acknowledge, resolve), unless the detector's `auto_resolve` is set, in which case it
is resolved by `detector` when it ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kgtwin.analytics.anomalies.episodes import ENDED, ESCALATED, OPENED, SEEN, Change, Episode
from kgtwin.errors import KgtwinError
from kgtwin.events import ALERT, ANOMALY_OPENED, ANOMALY_UPDATED, EventLog, TwinEvent
from kgtwin.store import GraphStore

STATES = ("open", "acknowledged", "resolved")
# action -> (states it applies to, the state it leads to)
TRANSITIONS = {"acknowledge": (("open",), "acknowledged"), "resolve": (("open", "acknowledged"), "resolved")}


class AnomalyError(KgtwinError):
    exit_code = 2


class UnknownAnomaly(AnomalyError):
    pass


class InvalidTransition(AnomalyError):
    pass


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _opened_props(episode: Episode) -> dict[str, Any]:
    props = {
        "uid": episode.uid,
        "kind": episode.kind,
        "detector": episode.detector,
        "detectors": list(episode.detectors),
        "severity": episode.severity,
        "state": "open",
        "active": episode.active,
        "start": episode.start,
        "end": episode.end,
        "lastSeen": episode.last_seen,
        "detectedAt": episode.detected,
        "value": _finite(episode.value),
        "score": _finite(episode.score),
        "message": episode.message,
    }
    if "condition" in episode.extra:
        props["condition"] = episode.extra["condition"]
    return props


def _followed_props(episode: Episode) -> dict[str, Any]:
    return {
        "severity": episode.severity,
        "detectors": list(episode.detectors),
        "active": episode.active,
        "end": episode.end,
        "lastSeen": episode.last_seen,
        "value": _finite(episode.value),
        "score": _finite(episode.score),
    }


class AnomalyRecorder:
    """Writes the detectors' changes to the graph in batches and records each one as an event."""

    def __init__(self, store: GraphStore, log: EventLog) -> None:
        self.store = store
        self.log = log

    async def record(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        opened = [c for c in changes if c.what == OPENED]
        await self._open(opened)
        rows: dict[str, dict[str, Any]] = {}
        events: list[TwinEvent] = []
        for change in changes:
            episode = change.episode
            if change.what != OPENED:
                row = rows.setdefault(episode.uid, {})
                row.update(_followed_props(episode))
            if change.what in (OPENED, SEEN):
                continue
            details: dict[str, Any] = {
                "change": change.what,
                "severity": episode.severity,
                "active": episode.active,
                "end": episode.end,
                "kind": episode.kind,
                "point": episode.extra.get("point"),
            }
            if change.what == ESCALATED:
                details["previous"] = change.previous_severity
            if change.what == ENDED:
                details["reason"] = episode.end_reason
                if episode.settings.auto_resolve:
                    rows[episode.uid].update(
                        {
                            "state": "resolved",
                            "stateBy": "detector",
                            "stateTime": change.time,
                            "resolvedAt": change.time,
                        }
                    )
                    rows[episode.uid]["resolvedBy"] = "detector"
                    details["state"] = "resolved"
            events.append(self._event(ANOMALY_UPDATED, episode, change.time, details))
        if rows:
            await self.store.execute("anomalies/update", {"rows": [{"uid": u, "props": p} for u, p in rows.items()]})
        await self.log.record(events)

    async def _open(self, opened: list[Change]) -> None:
        if not opened:
            return
        on_points = [c for c in opened if "target_label" not in c.episode.extra]
        found: dict[str, Mapping[str, Any]] = {}
        if on_points:
            rows = [{"point": c.episode.subject, "props": _opened_props(c.episode)} for c in on_points]
            for row in await self.store.execute("anomalies/open", {"rows": rows}):
                found[row["uid"]] = row
        by_label: dict[str, list[Change]] = {}
        for change in opened:
            if "target_label" in change.episode.extra:
                by_label.setdefault(str(change.episode.extra["target_label"]), []).append(change)
        for label, group in by_label.items():
            rows = [
                {
                    "target": c.episode.subject,
                    "properties": list(c.episode.extra.get("properties") or []),
                    "props": _opened_props(c.episode),
                }
                for c in group
            ]
            for row in await self.store.execute("anomalies/open_on", {"rows": rows}, label=label):
                found[row["uid"]] = row
        events = []
        for change in opened:
            episode = change.episode
            written = found.get(episode.uid)
            # The live episode shares `extra` with this snapshot: later changes find scope and model there.
            episode.extra["scope"] = tuple(written["scope"] if written else (episode.subject,))
            episode.extra["model"] = written["model"] if written else None
            episode.extra["point"] = episode.subject if "target_label" not in episode.extra else None
            details = {
                "kind": episode.kind,
                "detector": episode.detector,
                "detectors": list(episode.detectors),
                "severity": episode.severity,
                "point": episode.extra["point"],
                "start": episode.start,
                "value": _finite(episode.value),
                "score": _finite(episode.score),
                "message": episode.message,
                "affected": list(written["affected"]) if written else [],
            }
            events.append(self._event(ANOMALY_OPENED, episode, change.time, details))
            if "condition" in episode.extra:
                events.append(
                    TwinEvent(
                        kind=ALERT,
                        subject=episode.subject,
                        subject_label=str(episode.extra["target_label"]),
                        model=episode.extra["model"],  # type: ignore[arg-type]
                        source=f"condition:{episode.extra['condition']}",
                        details={
                            "condition": episode.extra["condition"],
                            "expression": episode.extra.get("expression"),
                            "severity": episode.severity,
                            "value": episode.extra.get("values"),
                            "anomaly": episode.uid,
                        },
                        scope=tuple(episode.extra["scope"]),  # type: ignore[arg-type]
                        time=change.time,
                    )
                )
        await self.log.record(events)

    @staticmethod
    def _event(kind: str, episode: Episode, time: int, details: dict[str, Any]) -> TwinEvent:
        source = (
            f"condition:{episode.extra['condition']}"
            if "condition" in episode.extra
            else f"detector:{episode.detector}"
        )
        return TwinEvent(
            kind=kind,
            subject=episode.uid,
            subject_label="Anomaly",
            model=episode.extra.get("model"),  # type: ignore[arg-type]
            source=source,
            details=details,
            scope=tuple(episode.extra.get("scope") or (episode.subject,)),  # type: ignore[arg-type]
            time=time,
        )


async def get_anomaly(store: GraphStore, uid: str) -> dict[str, Any]:
    rows = await store.execute("anomalies/get", {"uid": uid})
    if not rows:
        raise UnknownAnomaly(f"no anomaly {uid!r} (`kgtwin anomalies list` shows them)")
    return dict(rows[0]["anomaly"])


async def _transition(
    store: GraphStore, log: EventLog, action: str, uid: str, by: str, note: str | None, when: int | None
) -> dict[str, Any]:
    import time

    allowed, target = TRANSITIONS[action]
    current = await get_anomaly(store, uid)
    state = current.get("state")
    if state not in allowed:
        raise InvalidTransition(f"anomaly {uid} is {state}; only {' or '.join(allowed)} anomalies can be {target}")
    when = when or int(time.time() * 1000)
    past = "acknowledged" if action == "acknowledge" else "resolved"
    props = {"state": target, "stateTime": when, "stateBy": by, "stateNote": note, f"{past}By": by, f"{past}At": when}
    rows = await store.execute("anomalies/set_state", {"uid": uid, "expected": state, "props": props})
    if not rows:  # someone else moved it on between the read and the write
        now = (await get_anomaly(store, uid)).get("state")
        raise InvalidTransition(f"anomaly {uid} became {now} meanwhile; it cannot be {target} now")
    updated = dict(rows[0]["anomaly"])
    await log.record(
        [
            TwinEvent(
                kind=ANOMALY_UPDATED,
                subject=uid,
                subject_label="Anomaly",
                model=updated.get("model"),
                source=by,
                details={
                    "change": target,
                    "state": target,
                    "previous": state,
                    "by": by,
                    "note": note,
                    "kind": updated.get("kind"),
                    "severity": updated.get("severity"),
                    "point": updated.get("point"),
                },
                scope=tuple(updated.get("scope") or ()),
                time=when,
            )
        ]
    )
    return updated


async def acknowledge(
    store: GraphStore, log: EventLog, uid: str, by: str, note: str | None = None, *, when: int | None = None
) -> dict[str, Any]:
    """open → acknowledged: someone is on it. Unknown ids and other states are refused with one line."""
    return await _transition(store, log, "acknowledge", uid, by, note, when)


async def resolve(
    store: GraphStore, log: EventLog, uid: str, by: str, note: str | None = None, *, when: int | None = None
) -> dict[str, Any]:
    """open or acknowledged → resolved: dealt with (even while the signal is still out of line)."""
    return await _transition(store, log, "resolve", uid, by, note, when)


async def list_anomalies(
    store: GraphStore,
    *,
    model: str | None = None,
    state: str | None = None,
    point: str | None = None,
    kind: str | None = None,
    active: bool | None = None,
    within: str | None = None,
    since: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Anomalies newest first; `within`: the uid of a place or element they concern (a storey, a room)."""
    if state is not None and state not in STATES:
        raise AnomalyError(f"state {state!r} is not one of {', '.join(STATES)}")
    params = {
        "model": model,
        "state": state,
        "point": point,
        "kind": kind,
        "active": active,
        "within": within,
        "since": since,
        "limit": limit,
    }
    return await store.execute("anomalies/list", params)
