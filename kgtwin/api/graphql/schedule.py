"""Schedule performance, the critical path, time travel and progress updates in GraphQL.

The figures are computed by `kgtwin.analytics.schedule` and `timetravel`; these types only carry
them, with epoch milliseconds turned into DateTimes."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry

from kgtwin.analytics import schedule as performance
from kgtwin.analytics import timetravel
from kgtwin.api.auth import Forbidden
from kgtwin.api.graphql import types as t
from kgtwin.api.graphql.context import Info
from kgtwin.errors import ConfigError
from kgtwin.sources.schedule.progress import record_progress


def _when(ms: int | None) -> dt.datetime | None:
    return t.to_datetime(ms)


@strawberry.type(description="An activity's float from the critical path method (hours are working hours).")
class ActivityFloat:
    uid: strawberry.ID
    name: str
    identification: str | None
    duration_hours: float
    early_start: dt.datetime
    early_finish: dt.datetime
    late_start: dt.datetime
    late_finish: dt.datetime
    total_float_hours: float
    total_float_days: float
    critical: bool


@strawberry.type(description="The critical path of a model's schedule.")
class CriticalPath:
    schedule: str
    time_basis: str
    day_hours: float
    project_start: dt.datetime
    project_finish: dt.datetime
    duration_hours: float
    path: list[strawberry.ID]
    activities: list[ActivityFloat]


@strawberry.type(description="How one activity stands at the data date.")
class ActivityPerformance:
    uid: strawberry.ID
    name: str
    identification: str | None
    planned_start: dt.datetime | None
    planned_finish: dt.datetime | None
    actual_start: dt.datetime | None
    actual_finish: dt.datetime | None
    weight: float
    expected_percent: float
    percent_complete: float
    variance_points: float
    status: str = strawberry.field(description="ahead, on_track or behind.")
    planned_value: float
    earned_value: float
    start_variance_days: float | None
    finish_variance_days: float | None
    forecast_start: dt.datetime | None
    forecast_finish: dt.datetime | None
    forecast_variance_days: float | None
    total_float_hours: float
    critical: bool


@strawberry.type(description="Earned value and progress of a scope (the project, a building or a storey).")
class ScopePerformance:
    scope: str
    level: str
    name: str
    activities: int
    budget: float
    planned_value: float
    earned_value: float
    spi: float | None
    schedule_variance: float
    schedule_variance_days: float
    expected_percent: float
    actual_percent: float
    variance_points: float
    status: str
    planned_finish: dt.datetime | None
    forecast_finish: dt.datetime | None
    finish_variance_days: float | None


@strawberry.type(description="A schedule's performance at a data date, rolled up by storey or building.")
class ScheduleReport:
    schedule: str
    as_of: dt.datetime
    basis: str = strawberry.field(description="What the weights are: cost, or planned working hours.")
    tolerance_points: float
    project: ScopePerformance
    groups: list[ScopePerformance]
    activities: list[ActivityPerformance]
    forecast_finish: dt.datetime | None
    forecast_finish_by_spi: dt.datetime | None
    critical_path: list[strawberry.ID]


@strawberry.type
class StatusCount:
    status: str
    planned: int
    built: int


@strawberry.type(description="One element as planned and as built on a date.")
class ElementState:
    uid: strawberry.ID
    name: str | None
    ifc_class: str | None
    planned: str
    built: str
    current: str | None


@strawberry.type(description="A scope on a date: what the schedule planned beside what was built.")
class ScopeState:
    scope: strawberry.ID
    level: str
    name: str | None
    as_of: dt.datetime
    schedule: str | None
    counts: list[StatusCount]
    elements: list[ElementState]


@strawberry.type(description="What a progress update changed.")
class ProgressResult:
    activity: strawberry.ID
    name: str
    percent_complete: float
    actual_start: dt.datetime | None
    actual_finish: dt.datetime | None
    changed_elements: list[strawberry.ID]
    kept_issue: list[strawberry.ID] = strawberry.field(description="Elements flagged `issue` that kept it.")


@strawberry.enum
class RollUp(enum.Enum):
    STOREY = "storey"
    BUILDING = "building"


def _convert(cls: type, source: Any, times: tuple[str, ...], ids: tuple[str, ...] = ("uid",)) -> Any:
    values = {}
    for name in cls.__annotations__:  # type: ignore[attr-defined]
        if not hasattr(source, name):
            continue
        value = getattr(source, name)
        if name in times:
            value = _when(value)
        elif name in ids:
            value = strawberry.ID(value)
        values[name] = value
    return cls(**values)


def scope_performance(s: performance.ScopePerformance) -> ScopePerformance:
    return _convert(ScopePerformance, s, performance.SCOPE_TIMES, ())  # type: ignore[no-any-return]


@strawberry.type
class ScheduleQueries:
    @strawberry.field(description="Earned value, expected against actual progress, variances and forecasts.")
    async def schedule_report(
        self,
        info: Info,
        model: strawberry.ID,
        as_of: dt.datetime | None = None,
        by: RollUp | None = None,
        schedule: str | None = None,
    ) -> ScheduleReport:
        _check_model(info, str(model))
        naive = as_of.astimezone(dt.UTC).replace(tzinfo=None) if as_of else None
        report = await performance.schedule_report(
            info.context.reader.store, str(model), naive, by.value if by else None, schedule=schedule
        )
        return ScheduleReport(
            schedule=report.schedule,
            as_of=_when(report.as_of) or dt.datetime.now(dt.UTC),
            basis=report.basis,
            tolerance_points=report.tolerance_points,
            project=scope_performance(report.project),
            groups=[scope_performance(g) for g in report.groups],
            activities=[_convert(ActivityPerformance, a, performance.ACTIVITY_TIMES) for a in report.activities],
            forecast_finish=_when(report.forecast_finish),
            forecast_finish_by_spi=_when(report.forecast_finish_by_spi),
            critical_path=[strawberry.ID(u) for u in report.critical_path],
        )

    @strawberry.field(description="Early and late dates, total float and the critical activities (CPM).")
    async def critical_path(self, info: Info, model: strawberry.ID, schedule: str | None = None) -> CriticalPath:
        _check_model(info, str(model))
        found = await performance.critical_path(info.context.reader.store, str(model), schedule)
        return CriticalPath(
            schedule=found.schedule,
            time_basis=found.time_basis,
            day_hours=found.day_hours,
            project_start=_when(found.project_start) or dt.datetime.now(dt.UTC),
            project_finish=_when(found.project_finish) or dt.datetime.now(dt.UTC),
            duration_hours=found.duration_hours,
            path=[strawberry.ID(u) for u in found.path],
            activities=[
                _convert(ActivityFloat, a, ("early_start", "early_finish", "late_start", "late_finish"))
                for a in found.activities
            ],
        )

    @strawberry.field(
        description="A scope (model, building, storey, space or element) as planned and as built on a date."
    )
    async def as_of(
        self, info: Info, model: strawberry.ID, date: dt.datetime, scope: strawberry.ID | None = None
    ) -> ScopeState:
        _check_model(info, str(model))
        principal = info.context.principal
        chosen = str(scope) if scope else (principal.building or str(model))
        if principal.building and chosen != principal.building:
            row = await info.context.reader.any_node(chosen)
            if row is None:
                raise ConfigError(f"no scope {chosen!r} within the scope of key {principal.name!r}")
        state = await timetravel.state_as_of(info.context.reader.store, str(model), chosen, t.to_ms(date) or 0)
        return ScopeState(
            scope=strawberry.ID(state.scope),
            level=state.level,
            name=state.name,
            as_of=_when(state.as_of) or date,
            schedule=state.schedule,
            counts=[StatusCount(status=c.status, planned=c.planned, built=c.built) for c in state.counts],
            elements=[_convert(ElementState, e, ()) for e in state.elements],
        )


@strawberry.type
class ScheduleMutations:
    @strawberry.mutation(
        description="Report an activity's progress; it drives the status of the elements it constructs "
        "(0 % planned, between in progress, 100 % completed; an element flagged `issue` keeps it)."
    )
    async def update_progress(
        self,
        info: Info,
        activity: strawberry.ID,
        percent: float | None = None,
        actual_start: dt.datetime | None = None,
        actual_finish: dt.datetime | None = None,
        model: strawberry.ID | None = None,
    ) -> ProgressResult:
        principal = info.context.principal
        principal.require("mutate", "change the twin")
        if model is not None:
            _check_model(info, str(model))
        row = await info.context.reader.any_node(str(activity))
        if row is None and model is None:
            raise ConfigError(f"no activity {activity!r}; name it by uid, or by its id with `model`")
        twin = info.context.twin
        result = await record_progress(
            twin.store,
            twin.log,
            str(activity),
            percent,
            actual_start=t.to_ms(actual_start),
            actual_finish=t.to_ms(actual_finish),
            model=str(model) if model else principal.model,
            source=f"field:{principal.name}",
        )
        return ProgressResult(
            activity=strawberry.ID(result.activity),
            name=result.name,
            percent_complete=result.percent_complete,
            actual_start=_when(result.actual_start),
            actual_finish=_when(result.actual_finish),
            changed_elements=[strawberry.ID(c.uid) for c in result.changes],
            kept_issue=[strawberry.ID(u) for u in result.kept_issue],
        )


def _check_model(info: Info, model: str) -> None:
    principal = info.context.principal
    if principal.model is not None and principal.model != model:
        raise Forbidden(f"no model {model!r} within the scope of key {principal.name!r}")
