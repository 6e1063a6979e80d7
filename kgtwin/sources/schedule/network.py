"""The activity network as a scheduler's forward pass sees it: durations, nesting and typed, lagged links.

A task starts at the latest of its predecessors' constraints (finish-start, start-start,
finish-finish, start-finish, each with its lag in working time of the successor's calendar),
never before its summary task may start nor before its `not_before` date; a summary task spans
its sub-tasks. Given dates win over derived ones. The IFC reader derives 4D dates with it, the
schedule files fill gaps with it, and the analytics run CPM's forward pass and forecasts on it.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from kgtwin.sources.schedule.calendar import ScheduleError, WorkCalendar

SHORT_LINK_TYPES = {"FS": "FINISH_START", "SS": "START_START", "FF": "FINISH_FINISH", "SF": "START_FINISH"}


@dataclass(eq=False)
class Task:
    uid: str
    name: str
    duration_hours: float
    calendar: WorkCalendar
    given_start: dt.datetime | None = None
    given_finish: dt.datetime | None = None
    not_before: dt.datetime | None = None
    parent: Task | None = None
    children: list[Task] = field(default_factory=list)
    predecessors: list[tuple[Task, str, float]] = field(default_factory=list)  # (task, link type, lag hours)


def starts_from_start(link_type: str) -> bool:
    """Whether a link is anchored on its predecessor's start (SS, SF) rather than its finish."""
    return link_type in ("START_START", "START_FINISH")


def ends_on_finish(link_type: str) -> bool:
    """Whether a link constrains its successor's finish (FF, SF) rather than its start."""
    return link_type in ("FINISH_FINISH", "START_FINISH")


class ForwardPass:
    def __init__(self, tasks: list[Task], schedule_start: dt.datetime | None) -> None:
        self.tasks = tasks
        self.schedule_start = schedule_start
        self._earliest: dict[str, dt.datetime | None] = {}
        self._start: dict[str, dt.datetime | None] = {}
        self._finish: dict[str, dt.datetime | None] = {}
        self._visiting: set[tuple[str, str]] = set()
        # Dates are memoised; visiting predecessors first keeps the recursion shallow on long chains.
        for task in predecessors_first(tasks):
            self.finish(task)

    def _guard(self, kind: str, task: Task) -> None:
        if (kind, task.uid) in self._visiting:
            raise ScheduleError(f"the task sequence loops through task {task.name!r}: no dates can be derived")
        self._visiting.add((kind, task.uid))

    def earliest(self, task: Task) -> dt.datetime | None:
        if task.uid in self._earliest:
            return self._earliest[task.uid]
        self._guard("earliest", task)
        if task.given_start is not None:
            value: dt.datetime | None = task.given_start
        else:
            candidates = []
            for pred, kind, lag in task.predecessors:
                anchor = self.start(pred) if starts_from_start(kind) else self.finish(pred)
                if anchor is None:
                    continue
                moment = task.calendar.add(anchor, lag)
                if ends_on_finish(kind):
                    moment = task.calendar.subtract(moment, task.duration_hours)
                candidates.append(moment)
            if task.parent is not None and (parent_start := self.earliest(task.parent)) is not None:
                candidates.append(parent_start)
            if task.not_before is not None:
                candidates.append(task.not_before)
            if not candidates and self.schedule_start is not None:
                candidates.append(self.schedule_start)
            value = max(candidates) if candidates else None
        self._earliest[task.uid] = value
        return value

    def start(self, task: Task) -> dt.datetime | None:
        if task.uid not in self._start:
            self._guard("start", task)
            if task.children:
                starts = [s for c in task.children if (s := self.start(c)) is not None]
                self._start[task.uid] = min(starts) if starts else self.earliest(task)
            else:
                self._start[task.uid] = _working_start(task, self.earliest(task))
        return self._start[task.uid]

    def finish(self, task: Task) -> dt.datetime | None:
        if task.uid not in self._finish:
            self._guard("finish", task)
            if task.children:
                finishes = [f for c in task.children if (f := self.finish(c)) is not None]
                value = max(finishes) if finishes else None
            elif task.given_finish is not None:
                value = task.given_finish
            else:
                start = self.start(task)
                value = None if start is None else task.calendar.add(start, task.duration_hours)
            self._finish[task.uid] = value
        return self._finish[task.uid]


def _working_start(task: Task, earliest: dt.datetime | None) -> dt.datetime | None:
    """Work starts at a working instant; a milestone may also sit at the end of a working period."""
    if earliest is None:
        return None
    if task.duration_hours == 0 and task.calendar.snap_back(earliest) == earliest:
        return earliest
    return task.calendar.snap(earliest)


def predecessors_first(tasks: list[Task]) -> list[Task]:
    """Tasks ordered so that predecessors and sub-tasks come before what depends on them.

    A network that loops keeps the rest in its given order; the pass then names the loop.
    """
    waiting = {id(t): 0 for t in tasks}
    after: dict[int, list[Task]] = {id(t): [] for t in tasks}
    for task in tasks:
        for before in [p for p, _, _ in task.predecessors] + task.children:
            if id(before) in waiting:
                waiting[id(task)] += 1
                after[id(before)].append(task)
    ready = deque(t for t in tasks if waiting[id(t)] == 0)
    ordered: list[Task] = []
    while ready:
        task = ready.popleft()
        ordered.append(task)
        for successor in after[id(task)]:
            waiting[id(successor)] -= 1
            if waiting[id(successor)] == 0:
                ready.append(successor)
    placed = {id(t) for t in ordered}
    return ordered + [t for t in tasks if id(t) not in placed]


def find_loop(tasks: list[Task]) -> Task | None:
    """A task on a loop of predecessor links, if the links loop."""
    links = {t.uid: [p.uid for p, _, _ in t.predecessors] for t in tasks}
    state: dict[str, int] = {}
    by_uid = {t.uid: t for t in tasks}
    for root in tasks:
        if root.uid in state:
            continue
        stack = [(root.uid, iter(links[root.uid]))]
        state[root.uid] = 1
        while stack:
            uid, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                state[uid] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return by_uid[nxt]
            elif nxt not in state and nxt in links:
                state[nxt] = 1
                stack.append((nxt, iter(links[nxt])))
    return None
