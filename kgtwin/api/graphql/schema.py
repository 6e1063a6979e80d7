"""The GraphQL schema: queries that follow the graph, KPIs, field mutations, live subscriptions and the
analysts' read-only Cypher. `kgtwin schema` prints it as SDL (checked in as `schema.graphql`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.scalars import JSON

from kgtwin.analytics import kpis as kpi
from kgtwin.analytics.anomalies import records
from kgtwin.analytics.traversal import Reached, as_row, neighbourhood, shortest_path
from kgtwin.api.auth import Forbidden
from kgtwin.api.graphql import types as t
from kgtwin.api.graphql.context import Info, RequestContext
from kgtwin.api.graphql.limits import QueryCostLimiter
from kgtwin.api.graphql.loaders import GraphReader, page_window
from kgtwin.api.graphql.schedule import ScheduleMutations, ScheduleQueries
from kgtwin.config import Settings
from kgtwin.errors import ConfigError, KgtwinError
from kgtwin.events import (
    ANOMALY_OPENED,
    ANOMALY_UPDATED,
    PROPERTY_UPDATE,
    STATUS_CHANGE,
    TwinEvent,
)
from kgtwin.ingest.observations import Reading
from kgtwin.sources import field as field_updates
from kgtwin.store.queries import catalogue, named

# --- models and snapshots --------------------------------------------------------------------


@strawberry.type(description="A model loaded into the twin (an IFC file), the root of its graph.")
class Model:
    props: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.props["uid"])

    @strawberry.field
    def name(self) -> str | None:
        return self.props.get("name")

    @strawberry.field
    def schema(self) -> str | None:
        return self.props.get("schema")

    @strawberry.field
    def file(self) -> str | None:
        return self.props.get("file")

    @strawberry.field
    def loaded_at(self) -> dt.datetime | None:
        return t.to_datetime(self.props.get("loadedAt"))

    @strawberry.field
    async def project(self, info: Info) -> t.Project | None:
        page = await info.context.reader.related("Model", "DESCRIBES", "Project", self.props["uid"], first=1)
        return t.builder(t.Project)(page.items[0]) if page.items else None

    async def _located(self, info: Info, label: str, filters: Any, first: int | None, after: str | None) -> Any:
        return await info.context.reader.located(label, "model", self.props["uid"], filters, first, after)

    @strawberry.field
    async def buildings(self, info: Info, first: t.First = None, after: t.After = None) -> t.Connection[t.Building]:
        return t.connection(await self._located(info, "Building", t.Filters(), first, after), t.builder(t.Building))

    @strawberry.field
    async def storeys(self, info: Info, first: t.First = None, after: t.After = None) -> t.Connection[t.Storey]:
        return t.connection(await self._located(info, "Storey", t.Filters(), first, after), t.builder(t.Storey))

    @strawberry.field
    async def spaces(self, info: Info, first: t.First = None, after: t.After = None) -> t.Connection[t.Space]:
        return t.connection(await self._located(info, "Space", t.Filters(), first, after), t.builder(t.Space))

    @strawberry.field
    async def elements(
        self, info: Info, where: t.ElementFilter | None = None, first: t.First = None, after: t.After = None
    ) -> t.Connection[t.Element]:
        page = await self._located(info, "Element", t.element_filters(where), first, after)
        return t.connection(page, t.builder(t.Element))

    @strawberry.field
    async def points(
        self, info: Info, where: t.PointFilter | None = None, first: t.First = None, after: t.After = None
    ) -> t.Connection[t.Point]:
        return t.connection(
            await self._located(info, "Point", t.point_filters(where), first, after), t.builder(t.Point)
        )

    @strawberry.field
    async def activities(self, info: Info, first: t.First = None, after: t.After = None) -> t.Connection[t.Activity]:
        return t.connection(await self._located(info, "Activity", t.Filters(), first, after), t.builder(t.Activity))

    @strawberry.field
    async def schedules(self, info: Info) -> list[t.WorkSchedule]:
        page = await self._located(info, "WorkSchedule", t.Filters(), 1000, None)
        return [t.builder(t.WorkSchedule)(i) for i in page.items]

    @strawberry.field(description="KPIs of the model, with one entry per building in `children`.")
    async def kpis(
        self, info: Info, since: t.KpiFrom = None, until: t.KpiTo = None, brick_class: str | None = None
    ) -> t.Kpis:
        return await _model_kpis(info, self.props["uid"], since, until, brick_class)

    @strawberry.field(description="Anomalies of the model, newest first.")
    async def anomalies(
        self,
        info: Info,
        states: list[t.AnomalyState] | None = None,
        severities: list[str] | None = None,
        kinds: list[str] | None = None,
        since: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        first: t.First = None,
        after: t.After = None,
    ) -> t.Connection[t.Anomaly]:
        skip, limit = page_window(first, after)
        reader = info.context.reader
        params = {
            "model": self.props["uid"],
            "states": [s.value for s in states] if states else None,
            "severities": severities,
            "kinds": kinds,
            "since": t.to_ms(since),
            "skip": skip,
            "limit": limit,
            **reader.scope,
        }
        row = (await reader.store.execute("api/anomalies", params))[0]
        page = t.Page(row["total"], skip, [{"labels": ["Anomaly"], "props": p} for p in row["items"]])
        return t.connection(page, t.builder(t.Anomaly))

    @strawberry.field(description="Status summary, open anomalies and the latest events of the model.")
    async def snapshot(self, info: Info, events: int = 20) -> ModelSnapshot:
        return ModelSnapshot(model=self, event_limit=min(events, 500))


async def _model_kpis(
    info: Info, model: str, since: dt.datetime | None, until: dt.datetime | None, brick_class: str | None
) -> t.Kpis:
    building = info.context.principal.building  # a key scoped to a building sees the model as that building
    scope = kpi.Scope(model, building=building)
    return await t._kpis(info, scope, "storey" if building else "building", since, until, brick_class)


@strawberry.type(description="A model's state now: its KPIs, open anomalies and recent events.")
class ModelSnapshot:
    model: Model
    event_limit: strawberry.Private[int]

    @strawberry.field
    def taken_at(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    @strawberry.field
    async def kpis(self, info: Info) -> t.Kpis:
        return await _model_kpis(info, self.model.props["uid"], None, None, None)

    @strawberry.field
    async def open_anomalies(self, info: Info) -> list[t.Anomaly]:
        return await t._anomalies(info, self.model.props["uid"], [t.AnomalyState.OPEN], 100)

    @strawberry.field
    async def recent_events(self, info: Info) -> list[t.Event]:
        return await _recent_events(info, self.model.props["uid"], None, None, self.event_limit)


async def _recent_events(
    info: Info, model: str, within: str | None, kinds: list[str] | None, limit: int
) -> list[t.Event]:
    params = {"model": model, "within": within, "kinds": kinds, "limit": limit, **info.context.reader.scope}
    return [t.Event.from_row(r) for r in await info.context.reader.store.execute("api/recent_events", params)]


# --- traversal -------------------------------------------------------------------------------


@strawberry.type(description="A node reached from another, with how far and by which relationship.")
class Neighbour:
    distance: int
    via: str | None
    outgoing: bool | None
    from_uid: strawberry.ID | None
    row: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def node(self) -> t.Node:
        node = t.make_node(self.row)
        assert node is not None
        return node


@strawberry.type
class Neighbourhood:
    start: Neighbour
    nodes: list[Neighbour]
    truncated: bool = strawberry.field(description="The node budget ran out before the depth did.")


def _neighbour(reached: Reached) -> Neighbour:
    return Neighbour(
        distance=reached.distance,
        via=reached.via,
        outgoing=reached.outgoing,
        from_uid=strawberry.ID(reached.from_uid) if reached.from_uid else None,
        row=as_row(reached),
    )


@strawberry.type(description="Statistics of one group of points (e.g. one storey of one building) over a window.")
class AggregateGroup:
    points: int
    count: int
    avg: float | None
    min: float | None
    max: float | None
    latest_avg: float | None = strawberry.field(description="Average of the points' latest values.")
    building_uid: strawberry.ID | None
    storey_uid: strawberry.ID | None
    space_uid: strawberry.ID | None

    @strawberry.field
    async def building(self, info: Info) -> t.Building | None:
        return await t._one(info, "Building", self.building_uid, t.Building)

    @strawberry.field
    async def storey(self, info: Info) -> t.Storey | None:
        return await t._one(info, "Storey", self.storey_uid, t.Storey)

    @strawberry.field
    async def space(self, info: Info) -> t.Space | None:
        return await t._one(info, "Space", self.space_uid, t.Space)


@strawberry.enum
class Level(enum.Enum):
    BUILDING = "building"
    STOREY = "storey"
    SPACE = "space"


@strawberry.type(description="The rows a named query or a Cypher statement returned.")
class QueryResult:
    columns: list[str]
    rows: list[JSON]
    round_trips: int


@strawberry.type
class NamedQuery:
    name: str
    mode: str
    purpose: str
    parameters: JSON


# --- the root types --------------------------------------------------------------------------


def _scoped_model(info: Info, model: str) -> str:
    principal = info.context.principal
    if principal.model is not None and principal.model != model:
        raise Forbidden(f"no model {model!r} within the scope of key {principal.name!r}")
    return model


@strawberry.type
class Query(ScheduleQueries):
    @strawberry.field(description="The models in the twin.")
    async def models(self, info: Info) -> list[Model]:
        reader = info.context.reader
        rows = await reader.store.execute("api/models", {"scopeModel": reader.principal.model})
        return [Model(props=r["props"]) for r in rows]

    @strawberry.field
    async def model(self, info: Info, id: strawberry.ID) -> Model | None:
        _scoped_model(info, str(id))
        row = await info.context.reader.node("Model", str(id))
        return Model(props=row["props"]) if row else None

    @strawberry.field(description="Any node by its uid.")
    async def node(self, info: Info, uid: strawberry.ID) -> t.Node | None:
        return t.make_node(await info.context.reader.any_node(str(uid)))

    @strawberry.field(description="An element by its IFC GlobalId within a model.")
    async def element(self, info: Info, model: strawberry.ID, global_id: str) -> t.Element | None:
        return await t._one(info, "Element", f"{model}:{global_id}", t.Element)

    @strawberry.field(description="A point by its uid or the id the field uses for it.")
    async def point(self, info: Info, id: strawberry.ID) -> t.Point | None:
        reader = info.context.reader
        found = await t._one(info, "Point", str(id), t.Point)
        if found is None:
            rows = await reader.store.execute("api/point_by_field_id", {"pointId": str(id), **reader.scope})
            found = t.Point(props=rows[0]["props"], node_labels=rows[0]["labels"]) if rows else None
        return found

    @strawberry.field(description="Nodes within `depth` steps of a node, either direction, nearest first.")
    async def neighbours(
        self,
        info: Info,
        uid: strawberry.ID,
        depth: int = 1,
        relationship_types: list[str] | None = None,
        limit: int = 1000,
    ) -> Neighbourhood:
        reader, principal = info.context.reader, info.context.principal
        if not 1 <= limit <= 10_000:
            raise ConfigError("limit must be between 1 and 10000")
        walk = await neighbourhood(
            reader.store,
            str(uid),
            depth,
            types=relationship_types,
            budget=limit,
            visible=lambda r: principal.sees(r.model, r.building, r.uid),
        )
        if not principal.sees(walk.start.model, walk.start.building, walk.start.uid):
            raise Forbidden(f"no node {uid!r} within the scope of key {principal.name!r}")
        return Neighbourhood(
            start=_neighbour(walk.start), nodes=[_neighbour(r) for r in walk.reached], truncated=walk.truncated
        )

    @strawberry.field(description="A shortest path between two nodes (either direction), or null.")
    async def path(
        self,
        info: Info,
        source: Annotated[strawberry.ID, strawberry.argument(name="from")],
        target: Annotated[strawberry.ID, strawberry.argument(name="to")],
        max_hops: int = 50,
        relationship_types: list[str] | None = None,
    ) -> list[Neighbour] | None:
        principal = info.context.principal
        steps = await shortest_path(
            info.context.reader.store, str(source), str(target), max_hops=max_hops, types=relationship_types
        )
        if steps is None:
            return None
        if not all(principal.sees(s.node.model, s.node.building, s.node.uid) for s in steps):
            raise Forbidden("the path leaves the scope of this key")
        return [
            Neighbour(
                distance=s.node.distance,
                via=s.via,
                outgoing=s.outgoing,
                from_uid=None,
                row=as_row(s.node),
            )
            for s in steps
        ]

    @strawberry.field(description="KPIs of any scope, with children one level down (e.g. storeys of a building).")
    async def kpis(
        self,
        info: Info,
        model: strawberry.ID,
        building: strawberry.ID | None = None,
        storey: strawberry.ID | None = None,
        space: strawberry.ID | None = None,
        element_type: strawberry.ID | None = None,
        ifc_class: str | None = None,
        children: Level | None = None,
        since: t.KpiFrom = None,
        until: t.KpiTo = None,
        brick_class: str | None = None,
    ) -> t.Kpis:
        principal = info.context.principal
        _scoped_model(info, str(model))
        if principal.building and building not in (None, principal.building):
            raise Forbidden(f"no building {building!r} within the scope of key {principal.name!r}")
        scope = kpi.Scope(
            str(model),
            building=str(building) if building else principal.building,
            storey=str(storey) if storey else None,
            space=str(space) if space else None,
            element_type=str(element_type) if element_type else None,
            ifc_class=ifc_class,
        )
        return await t._kpis(info, scope, children.value if children else None, since, until, brick_class)

    @strawberry.field(
        description="Statistics of every point of a Brick class (subclasses included) over a window, grouped by "
        "place: e.g. the average of every Temperature_Sensor per storey, for every building of a model."
    )
    async def aggregate(
        self,
        info: Info,
        model: strawberry.ID,
        brick_class: str,
        group_by: list[Level],
        since: t.KpiFrom = None,
        until: t.KpiTo = None,
    ) -> list[AggregateGroup]:
        principal = info.context.principal
        _scoped_model(info, str(model))
        groups = await kpi.aggregate(
            info.context.reader.store,
            kpi.Scope(str(model), building=principal.building),
            brick_class,
            t.window_of(since, until),
            [g.value for g in group_by],
        )
        return [
            AggregateGroup(
                points=g.points,
                count=g.count,
                avg=g.avg,
                min=g.min,
                max=g.max,
                latest_avg=g.latest_avg,
                building_uid=strawberry.ID(g.building) if g.building else None,
                storey_uid=strawberry.ID(g.storey) if g.storey else None,
                space_uid=strawberry.ID(g.space) if g.space else None,
            )
            for g in groups
        ]

    @strawberry.field(description="Recent events of a model, optionally only those concerning one node.")
    async def events(
        self,
        info: Info,
        model: strawberry.ID,
        within: strawberry.ID | None = None,
        kinds: list[str] | None = None,
        limit: int = 50,
    ) -> list[t.Event]:
        _scoped_model(info, str(model))
        return await _recent_events(info, str(model), str(within) if within else None, kinds, min(limit, 1000))

    @strawberry.field(description="The named queries of queries/ (for analysts).")
    def named_queries(self, info: Info) -> list[NamedQuery]:
        info.context.principal.require("analyse", "list the analysts' queries")
        return [
            NamedQuery(name=q.name, mode=q.mode, purpose=q.purpose, parameters=q.example_params)
            for q in catalogue().values()
            if not q.is_template
        ]

    @strawberry.field(description="Run a named query (read-only ones; admins may run writing ones).")
    async def run_query(self, info: Info, name: str, params: JSON | None = None) -> QueryResult:
        principal = info.context.principal
        principal.require("analyse", "run the analysts' queries")
        _unscoped(info)
        query = named(name)
        if query.is_template:
            raise ConfigError(f"query {name} takes labels and is run by kgtwin itself, not through the API")
        if query.writes:
            principal.require("write_cypher", f"run {name}, which changes the graph")
        arguments = dict(params or {})
        missing = [p for p in query.example_params if p not in arguments]
        if missing:
            raise ConfigError(f"query {name} needs the parameters {', '.join(missing)}")
        reader = info.context.reader
        rows = await reader.store.execute(name, arguments)
        return QueryResult(columns=list(rows[0]) if rows else [], rows=rows, round_trips=reader.round_trips)

    @strawberry.field(description="Run a Cypher statement: read-only (the engine refuses writes) unless an admin asks.")
    async def cypher(self, info: Info, statement: str, params: JSON | None = None, write: bool = False) -> QueryResult:
        principal = info.context.principal
        principal.require("analyse", "run Cypher")
        _unscoped(info)
        if write:
            principal.require("write_cypher", "run Cypher that writes")
        reader = info.context.reader
        rows = await reader.store.run(statement, dict(params or {}), write=write)
        return QueryResult(columns=list(rows[0]) if rows else [], rows=rows, round_trips=reader.round_trips)


def _unscoped(info: Info) -> None:
    principal = info.context.principal
    if principal.model or principal.building:
        raise Forbidden(f"key {principal.name!r} is scoped to part of the graph; Cypher would see past it")


# --- mutations -------------------------------------------------------------------------------


@strawberry.type
class StatusChange:
    uid: strawberry.ID
    previous: t.Status | None
    status: t.Status


@strawberry.type(description="What became of one property of a field update.")
class PropertyOutcome:
    property: str
    value: JSON | None
    applied: bool
    rule: str | None
    reason: str


@strawberry.input(description="One reading, as the seed's JSON messages carry it.")
class ReadingInput:
    sensor_id: str
    value: float
    unit: str | None = None
    timestamp: dt.datetime | None = None
    quality: str = "good"


@strawberry.type
class Rejection:
    reason: str
    sensor_id: str | None


@strawberry.type(description="How many readings were stored, and why the others were not.")
class IngestResult:
    accepted: int
    rejected: list[Rejection]


UPDATABLE = {name: name for name in field_updates.UPDATABLE_LABELS}


async def _target_label(info: Info, uid: str) -> str:
    row = await info.context.reader.any_node(uid)
    if row is None:
        raise ConfigError(f"no node {uid!r}" + _within(info))
    for label in row["labels"]:
        if label in UPDATABLE:
            return label
    raise ConfigError(f"{uid!r} takes no field updates (only {', '.join(UPDATABLE)})")


def _within(info: Info) -> str:
    p = info.context.principal
    return f" within the scope of key {p.name!r}" if (p.model or p.building) else ""


def _source(info: Info) -> str:
    return f"field:{info.context.principal.name}"


@strawberry.type
class Mutation(ScheduleMutations):
    @strawberry.mutation(description="Set elements' status (the seed's status_update); each change is an event.")
    async def set_status(self, info: Info, uids: list[strawberry.ID], status: t.Status) -> list[StatusChange]:
        info.context.principal.require("mutate", "change the twin")
        uids_text = [str(u) for u in uids]
        found = await info.context.reader.nodes("Element", uids_text)
        missing = [u for u, row in zip(uids_text, found, strict=True) if row is None]
        if missing:
            raise ConfigError(f"no element {missing[0]!r}{_within(info)}; nothing was changed")
        changes = await field_updates.set_status(
            info.context.twin.store, info.context.twin.log, uids_text, status.value, _source(info)
        )
        return [
            StatusChange(
                uid=strawberry.ID(c.uid),
                previous=t.STATUS_BY_VALUE.get(c.previous or ""),
                status=t.Status(c.status),
            )
            for c in changes
        ]

    @strawberry.mutation(description="Set properties of a node with their confidence (the seed's update message).")
    async def set_properties(
        self, info: Info, uid: strawberry.ID, properties: JSON, confidence: float | None = None
    ) -> list[PropertyOutcome]:
        info.context.principal.require("mutate", "change the twin")
        if not isinstance(properties, dict):
            raise ConfigError("properties must be an object of property names and values")
        label = await _target_label(info, str(uid))
        outcomes = await field_updates.set_properties(
            info.context.twin.store,
            info.context.twin.log,
            label,
            str(uid),
            properties,
            _source(info),
            confidence=confidence,
        )
        return [
            PropertyOutcome(property=o.property, value=o.value, applied=o.applied, rule=o.rule, reason=o.reason)
            for o in outcomes
        ]

    @strawberry.mutation(description="Bind a point to a property of an element or space (with a unit conversion).")
    async def bind_point(
        self,
        info: Info,
        point: strawberry.ID,
        target: strawberry.ID,
        property: str,
        unit: str | None = None,
        scale: float = 1.0,
        offset: float = 0.0,
        conflict_rule: str = field_updates.DEFAULT_RULE,
    ) -> bool:
        info.context.principal.require("mutate", "change the twin")
        label = await _target_label(info, str(target))
        if await info.context.reader.node("Point", str(point)) is None:
            raise ConfigError(f"no point {point!r}{_within(info)}")
        await field_updates.bind_point(
            info.context.twin.store,
            info.context.twin.log,
            str(point),
            label,
            str(target),
            property,
            _source(info),
            unit=unit,
            scale=scale,
            offset=offset,
            rule=conflict_rule,
        )
        await info.context.twin.refresh_registry()
        return True

    @strawberry.mutation(description="Undo a binding of a point to a property; true when there was one.")
    async def unbind_point(self, info: Info, point: strawberry.ID, target: strawberry.ID) -> bool:
        info.context.principal.require("mutate", "change the twin")
        label = await _target_label(info, str(target))
        removed = await field_updates.unbind_point(
            info.context.twin.store, info.context.twin.log, str(point), label, str(target), _source(info)
        )
        await info.context.twin.refresh_registry()
        return removed

    @strawberry.mutation(description="open → acknowledged: someone is on it.")
    async def acknowledge_anomaly(self, info: Info, uid: strawberry.ID, note: str | None = None) -> t.Anomaly:
        return await _anomaly_transition(info, records.acknowledge, str(uid), note)

    @strawberry.mutation(description="open or acknowledged → resolved: dealt with.")
    async def resolve_anomaly(self, info: Info, uid: strawberry.ID, note: str | None = None) -> t.Anomaly:
        return await _anomaly_transition(info, records.resolve, str(uid), note)

    @strawberry.mutation(description="Post observations; answers once they are stored (or why not).")
    async def post_observations(self, info: Info, readings: list[ReadingInput]) -> IngestResult:
        principal = info.context.principal
        principal.require("ingest", "post observations")
        twin = info.context.twin
        if twin.pipeline is None:
            raise ConfigError("this service does not ingest (it was started with ingestion off)")
        items = [
            Reading(r.sensor_id, r.value, r.unit, t.to_ms(r.timestamp) if r.timestamp else None, r.quality)
            for r in readings
        ]
        outcome = await twin.pipeline.submit_readings("graphql", principal.name, items)
        if outcome.durable is not None:
            await outcome.durable
        return IngestResult(
            accepted=outcome.accepted,
            rejected=[Rejection(reason=r, sensor_id=None) for r in outcome.rejected],
        )


async def _anomaly_transition(info: Info, change: Any, uid: str, note: str | None) -> t.Anomaly:
    info.context.principal.require("mutate", "change the twin")
    if await info.context.reader.node("Anomaly", uid) is None:
        raise ConfigError(f"no anomaly {uid!r}{_within(info)}")
    twin = info.context.twin
    updated = await change(twin.store, twin.log, uid, _source(info), note)
    return t.Anomaly(props=updated, node_labels=["Anomaly"])


# --- subscriptions ---------------------------------------------------------------------------


@strawberry.type(description="An anomaly opened, escalated, acknowledged, resolved or cleared.")
class AnomalyEvent:
    event: t.Event
    anomaly_uid: strawberry.ID

    @strawberry.field
    async def anomaly(self, info: Info) -> t.Anomaly | None:
        return await t._one(info, "Anomaly", self.anomaly_uid, t.Anomaly)


@strawberry.type(description="A change of an element's (or space's) status or properties.")
class ElementChange:
    event: t.Event
    uid: strawberry.ID
    kind: str
    status: t.Status | None
    property: str | None
    value: JSON | None


@strawberry.type(description="One observation of a point, as it is stored.")
class LiveObservation:
    point: strawberry.ID
    time: dt.datetime
    value: float
    quality: str


def _visible(ctx: RequestContext, event: TwinEvent) -> bool:
    principal = ctx.principal
    if principal.model is not None and event.model != principal.model:
        return False
    return principal.building is None or event.concerns(principal.building)


def _watch(ctx: RequestContext, kinds: set[str], model: str | None, within: str | None, extra: Any = None) -> Any:
    def accept(event: TwinEvent) -> bool:
        if event.kind not in kinds or (model and event.model != model) or (within and not event.concerns(within)):
            return False
        if extra is not None and not extra(event):
            return False
        return _visible(ctx, event)

    return ctx.twin.bus.subscribe(accept)


EVERY_ELEMENT = strawberry.ID("*")


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Anomalies as they open and change, filtered by model, by a place or node they concern "
        "(a storey hears about its rooms' points), and by severity."
    )
    async def anomalies(
        self,
        info: Info,
        model: strawberry.ID | None = None,
        within: strawberry.ID | None = None,
        severities: list[str] | None = None,
    ) -> AsyncGenerator[AnomalyEvent, None]:
        ctx = info.context

        def severe(event: TwinEvent) -> bool:
            return not severities or event.details.get("severity") in severities

        async with _watch(ctx, {ANOMALY_OPENED, ANOMALY_UPDATED}, model, within, severe) as events:
            async for event in events:
                yield AnomalyEvent(event=t.Event.from_row(_row(event)), anomaly_uid=strawberry.ID(event.subject))

    @strawberry.subscription(
        description="Status and property changes of one element (or space), of everything within a place, or "
        'with `uid: "*"` of every element of the model.'
    )
    async def element_changes(
        self,
        info: Info,
        uid: strawberry.ID = EVERY_ELEMENT,
        model: strawberry.ID | None = None,
    ) -> AsyncGenerator[ElementChange, None]:
        ctx = info.context
        within = None if str(uid) == "*" else str(uid)
        async with _watch(ctx, {STATUS_CHANGE, PROPERTY_UPDATE}, model, within) as events:
            async for event in events:
                details = event.details
                status = details.get("to") if event.kind == STATUS_CHANGE else None
                yield ElementChange(
                    event=t.Event.from_row(_row(event)),
                    uid=strawberry.ID(event.subject),
                    kind=event.kind,
                    status=t.STATUS_BY_VALUE.get(status or ""),
                    property=details.get("property"),
                    value=details.get("value"),
                )

    @strawberry.subscription(
        description="Every event (status, property, anomaly, schedule) concerning a place or node."
    )
    async def events(
        self,
        info: Info,
        model: strawberry.ID | None = None,
        within: strawberry.ID | None = None,
        kinds: list[str] | None = None,
    ) -> AsyncGenerator[t.Event, None]:
        ctx = info.context
        chosen = (
            set(kinds)
            if kinds
            else {
                STATUS_CHANGE,
                PROPERTY_UPDATE,
                ANOMALY_OPENED,
                ANOMALY_UPDATED,
                "binding_change",
                "progress_update",
                "alert",
            }
        )
        async with _watch(ctx, chosen, model, within) as events:
            async for event in events:
                yield t.Event.from_row(_row(event))

    @strawberry.subscription(description="Live observations of chosen points (by uid or field id), as they are stored.")
    async def observations(self, info: Info, points: list[strawberry.ID]) -> AsyncGenerator[LiveObservation, None]:
        ctx = info.context
        reader: GraphReader = ctx.fresh_reader()
        uids = []
        for point in points:
            row = await reader.node("Point", str(point))
            if row is None:
                rows = await reader.store.execute("api/point_by_field_id", {"pointId": str(point), **reader.scope})
                row = rows[0] if rows else None
            if row is None:
                raise ConfigError(f"no point {point!r}{_within(info)}")
            uids.append(row["props"]["uid"])
        if ctx.twin.pipeline is not None:
            async with ctx.twin.bus.watch_points(uids) as stream:
                async for o in stream:
                    yield LiveObservation(
                        point=strawberry.ID(o.point_uid),
                        time=t.to_datetime(o.ts) or dt.datetime.now(dt.UTC),
                        value=o.value,
                        quality=o.quality,
                    )
        else:  # another process ingests: follow the points' latest values
            last: dict[str, int] = {}
            while True:
                for row in await ctx.fresh_reader().nodes("Point", uids):
                    if row is None:
                        continue
                    props = row["props"]
                    if props.get("lastTime") is not None and props["lastTime"] != last.get(props["uid"]):
                        last[props["uid"]] = props["lastTime"]
                        yield LiveObservation(
                            point=strawberry.ID(props["uid"]),
                            time=t.to_datetime(props["lastTime"]) or dt.datetime.now(dt.UTC),
                            value=props.get("lastValue"),
                            quality=props.get("lastQuality") or "good",
                        )
                await asyncio.sleep(0.5)


def _row(event: TwinEvent) -> dict[str, Any]:
    return {**event.as_row(), "details": dict(event.details)}


class RoundTrips(SchemaExtension):
    """Reports in each response how many statements it sent to the graph (`extensions.roundTrips`)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        reader = getattr(context, "_reader", None)
        metrics = getattr(context, "metrics", None)
        if reader is not None and metrics is not None:
            metrics.round_trips.observe(reader.round_trips)

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        reader = getattr(context, "_reader", None)
        return {"roundTrips": reader.round_trips} if reader is not None else {}


class TwinSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Errors a caller caused (bad arguments, refused access, limits) are answers, not faults: not logged."""
        faults = [e for e in errors if e.original_error is not None and not isinstance(e.original_error, KgtwinError)]
        super().process_errors(faults, execution_context)


def build_schema(settings: Settings | None = None, *extensions: Callable[[], SchemaExtension]) -> strawberry.Schema:
    settings = settings or Settings()
    return TwinSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[t.Other, t.Zone, t.Equipment, t.WorkSchedule],
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=30),
            lambda: QueryCostLimiter(settings.max_query_cost),
            RoundTrips,
            *extensions,
        ],
    )
