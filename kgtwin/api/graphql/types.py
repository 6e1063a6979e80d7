"""The GraphQL types of the twin: the spatial tree, elements, points and their data, the schedule,
anomalies, events and KPIs. Resolvers only translate: every read goes through the request's
batched GraphReader, so a deep query costs a bounded number of round trips."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

import orjson
import strawberry
from strawberry.scalars import JSON

from kgtwin.analytics import kpis as kpi
from kgtwin.api.graphql.context import Info
from kgtwin.api.graphql.loaders import Filters, Page, encode_cursor
from kgtwin.errors import ConfigError
from kgtwin.ingest.history import downsample, series_from_buckets
from kgtwin.model.brick import brick

INTERNAL_KEYS = frozenset({"fingerprint", "loadId", "fieldOverrides"})
T = TypeVar("T")


# --- scalars and helpers ---------------------------------------------------------------------


def to_datetime(ms: int | float | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def to_ms(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def window_of(since: dt.datetime | None, until: dt.datetime | None, default_hours: float = 24) -> tuple[int, int]:
    end = to_ms(until) or int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    start = to_ms(since) or end - int(default_hours * 3_600_000)
    if start >= end:
        raise ConfigError("a time window needs `from` before `to`")
    return start, end


def public(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in INTERNAL_KEYS}


@strawberry.enum
class Status(enum.Enum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ISSUE = "issue"


STATUS_BY_VALUE = {s.value: s for s in Status}


def status_of(props: dict[str, Any]) -> Status | None:
    return STATUS_BY_VALUE.get(props.get("status"))  # type: ignore[arg-type]


@strawberry.enum
class PropertyOp(enum.Enum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    CONTAINS = "contains"
    EXISTS = "exists"


@strawberry.input(description="Narrow a list of elements (all conditions must hold).")
class ElementFilter:
    ifc_classes: list[str] | None = None
    statuses: list[Status] | None = None
    property: PropertyFilter | None = None


@strawberry.input(
    description='A condition on one property, e.g. {key: "pset.Pset_WallCommon.IsExternal", value: true}.'
)
class PropertyFilter:
    key: str
    op: PropertyOp = PropertyOp.EQ
    value: JSON | None = None


@strawberry.input(description="Narrow a list of points.")
class PointFilter:
    brick_class: str | None = strawberry.field(default=None, description="A Brick class; its subclasses count too.")


def element_filters(where: ElementFilter | None) -> Filters:
    if where is None:
        return Filters()
    prop = where.property
    if prop is not None and isinstance(prop.value, (dict, list)):
        raise ConfigError("a property filter compares with one number, text or boolean")
    return Filters(
        classes=tuple(where.ifc_classes) if where.ifc_classes else None,
        statuses=tuple(s.value for s in where.statuses) if where.statuses else None,
        prop_key=prop.key if prop else None,
        prop_op=prop.op.value if prop else None,
        prop_value=prop.value if prop else None,
    )


def point_filters(where: PointFilter | None) -> Filters:
    if where is None or not where.brick_class:
        return Filters()
    tree = brick()
    return Filters(brick_classes=tuple(sorted(tree.subclasses(tree.require(where.brick_class)))))


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, Relay style: pass `after: pageInfo.endCursor` for the next one.")
class Connection(Generic[T]):
    total_count: int
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of the edges, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def connection(page: Page, build: Callable[[dict[str, Any]], Any]) -> Connection[Any]:
    edges = [Edge(cursor=encode_cursor(page.offset + i), node=build(item)) for i, item in enumerate(page.items)]
    return Connection(
        total_count=page.total,
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.offset + len(edges) < page.total,
            has_previous_page=page.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


First = Annotated[int | None, strawberry.argument(description="Page size (default 50, at most 1000).")]
After = Annotated[str | None, strawberry.argument(description="The cursor to continue after.")]


# --- nodes -----------------------------------------------------------------------------------


@strawberry.interface(description="Anything in the twin with a graph-wide uid.")
class Node:
    props: strawberry.Private[dict[str, Any]]
    node_labels: strawberry.Private[list[str]]

    @strawberry.field
    def uid(self) -> strawberry.ID:
        return strawberry.ID(self.props["uid"])

    @strawberry.field
    def model(self) -> str | None:
        return self.props.get("model")

    @strawberry.field
    def name(self) -> str | None:
        return self.props.get("name")

    @strawberry.field(description="The graph labels of the node (e.g. Element, IfcWall).")
    def labels(self) -> list[str]:
        return self.node_labels

    @strawberry.field(description="Every property of the node, property sets flattened as pset.<Set>.<Property>.")
    def properties(self) -> JSON:
        return public(self.props)

    @strawberry.field(description="One property by its key.")
    def property(self, key: str) -> JSON | None:
        return None if key in INTERNAL_KEYS else self.props.get(key)

    @strawberry.field(description="What happened to it (status changes, property updates, anomalies), newest first.")
    async def history(
        self,
        info: Info,
        kinds: list[str] | None = None,
        since: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        until: Annotated[dt.datetime | None, strawberry.argument(name="to")] = None,
        limit: int = 50,
    ) -> list[Event]:
        start = to_ms(since) or 0
        end = to_ms(until) or 2**62
        chosen = tuple(kinds or ("status_change", "property_update", "binding_change", "progress_update", "alert"))
        rows = await info.context.reader.events(self.props["uid"], chosen, start, end, min(limit, 1000))
        return [Event.from_row(r) for r in rows]


def make_node(row: dict[str, Any] | None) -> Node | None:
    """The GraphQL type of a node row ({labels, props}), by its labels."""
    if row is None:
        return None
    labels = row.get("labels") or []
    for label, cls in NODE_TYPES:
        if label in labels:
            return cls(props=row["props"], node_labels=labels)
    return Other(props=row["props"], node_labels=labels)


def builder(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    return lambda row: cls(props=row["props"], node_labels=row.get("labels") or [])  # type: ignore[call-arg]


async def _one(info: Info, label: str, uid: str | None, cls: type[T]) -> T | None:
    if not uid:
        return None
    row = await info.context.reader.node(label, uid)
    return None if row is None else cls(props=row["props"], node_labels=row["labels"])  # type: ignore[call-arg]


@strawberry.type(description="A node of a kind the API has no type of its own for.")
class Other(Node):
    pass


@strawberry.type(description="A value of a property set, with its unit when the model states one.")
class PropertyValue:
    name: str
    value: JSON | None
    unit: str | None


@strawberry.type
class PropertySet:
    name: str
    properties: list[PropertyValue]


def property_sets(props: dict[str, Any]) -> list[PropertySet]:
    sets: dict[str, list[PropertyValue]] = {}
    for key, value in sorted(props.items()):
        if not key.startswith("pset."):
            continue
        _, set_name, prop_name = key.split(".", 2) if key.count(".") >= 2 else (key, key, key)
        sets.setdefault(set_name, []).append(
            PropertyValue(name=prop_name, value=value, unit=props.get(f"unit.{set_name}.{prop_name}"))
        )
    return [PropertySet(name=name, properties=values) for name, values in sets.items()]


@strawberry.type(description="A property that a point keeps up to date, with where its value came from.")
class BoundValue:
    property: str
    value: JSON | None
    time: dt.datetime | None
    source: str | None
    quality: str | None
    confidence: float | None
    conflict_rule: str | None
    point_uid: strawberry.ID

    @strawberry.field
    async def point(self, info: Info) -> Point | None:
        return await _one(info, "Point", self.point_uid, Point)


def bound_values(props: dict[str, Any], links: list[dict[str, Any]]) -> list[BoundValue]:
    out = []
    for item in links:
        link = item.get("link") or {}
        name = link.get("property")
        if not name:
            continue
        out.append(
            BoundValue(
                property=name,
                value=props.get(name),
                time=to_datetime(props.get(f"{name}.time")),
                source=props.get(f"{name}.source"),
                quality=props.get(f"{name}.quality"),
                confidence=props.get(f"{name}.confidence"),
                conflict_rule=link.get("conflict") or "physical_wins",
                point_uid=strawberry.ID(item["props"]["uid"]),
            )
        )
    return out


class Located:
    """Mixin for places: what is located in them (by the location keys every node carries)."""

    location_key = ""

    async def _located(self, info: Info, label: str, filters: Filters, first: int | None, after: str | None) -> Page:
        uid = self.props["uid"]  # type: ignore[attr-defined]
        return await info.context.reader.located(label, self.location_key, uid, filters, first, after)


@strawberry.type(description="An IFC element (wall, door, slab, sensor, ...), with its parts, points and history.")
class Element(Node):
    @strawberry.field
    def global_id(self) -> str | None:
        return self.props.get("globalId")

    @strawberry.field
    def ifc_class(self) -> str | None:
        return self.props.get("ifcClass")

    @strawberry.field
    def predefined_type(self) -> str | None:
        return self.props.get("predefinedType")

    @strawberry.field
    def status(self) -> Status | None:
        return status_of(self.props)

    @strawberry.field
    def status_time(self) -> dt.datetime | None:
        return to_datetime(self.props.get("statusTime"))

    @strawberry.field
    def materials(self) -> list[str]:
        return list(self.props.get("materials") or [])

    @strawberry.field
    def classification(self) -> list[str]:
        return list(self.props.get("classification") or [])

    @strawberry.field
    def property_sets(self) -> list[PropertySet]:
        return property_sets(self.props)

    @strawberry.field(name="type")
    async def element_type(self, info: Info) -> ElementType | None:
        return await _one(info, "ElementType", self.props.get("elementType"), ElementType)

    @strawberry.field
    async def building(self, info: Info) -> Building | None:
        return await _one(info, "Building", self.props.get("building"), Building)

    @strawberry.field
    async def storey(self, info: Info) -> Storey | None:
        return await _one(info, "Storey", self.props.get("storey"), Storey)

    @strawberry.field
    async def space(self, info: Info) -> Space | None:
        return await _one(info, "Space", self.props.get("space"), Space)

    @strawberry.field(description="Its parts (IfcRelAggregates and IfcRelNests).")
    async def sub_elements(self, info: Info, first: First = None, after: After = None) -> Connection[Element]:
        page = await info.context.reader.related(
            "Element", "HAS_SUB_ELEMENT", "Element", self.props["uid"], first=first, after=after
        )
        return connection(page, builder(Element))

    @strawberry.field(description="The element it is a part of.")
    async def parent(self, info: Info) -> Element | None:
        page = await info.context.reader.related(
            "Element", "HAS_SUB_ELEMENT", "Element", self.props["uid"], incoming=True, first=1
        )
        return builder(Element)(page.items[0]) if page.items else None

    @strawberry.field(description="Openings that void it (for a wall or slab).")
    async def openings(self, info: Info) -> list[Element]:
        page = await info.context.reader.related("Element", "VOIDS", "Element", self.props["uid"], incoming=True)
        return [builder(Element)(i) for i in page.items]

    @strawberry.field(description="What it voids (for an opening).")
    async def voids(self, info: Info) -> Element | None:
        page = await info.context.reader.related("Element", "VOIDS", "Element", self.props["uid"], first=1)
        return builder(Element)(page.items[0]) if page.items else None

    @strawberry.field(description="The opening it fills (for a door or window).")
    async def fills(self, info: Info) -> Element | None:
        page = await info.context.reader.related("Element", "FILLS", "Element", self.props["uid"], first=1)
        return builder(Element)(page.items[0]) if page.items else None

    @strawberry.field(description="The doors or windows filling it (for an opening).")
    async def filled_by(self, info: Info) -> list[Element]:
        page = await info.context.reader.related("Element", "FILLS", "Element", self.props["uid"], incoming=True)
        return [builder(Element)(i) for i in page.items]

    @strawberry.field(description="Spaces it bounds (IfcRelSpaceBoundary).")
    async def adjacent_spaces(self, info: Info) -> list[Space]:
        page = await info.context.reader.related(
            "Space", "ADJACENT_ELEMENT", "Element", self.props["uid"], incoming=True, first=1000
        )
        return [builder(Space)(i) for i in page.items]

    @strawberry.field(description="Points that measure it or are bound to its properties.")
    async def points(self, info: Info, first: First = None, after: After = None) -> Connection[Point]:
        page = await info.context.reader.related(
            "Element", "HAS_POINT", "Point", self.props["uid"], first=first, after=after
        )
        return connection(page, builder(Point))

    @strawberry.field(description="Its properties that points keep up to date, with their latest values.")
    async def bound_values(self, info: Info) -> list[BoundValue]:
        page = await info.context.reader.related("Element", "HAS_POINT", "Point", self.props["uid"], first=1000)
        return bound_values(self.props, page.items)

    @strawberry.field(description="Schedule activities that construct it.")
    async def activities(self, info: Info) -> list[Activity]:
        page = await info.context.reader.related(
            "Activity", "CONSTRUCTS", "Element", self.props["uid"], incoming=True, first=1000
        )
        return [builder(Activity)(i) for i in page.items]

    @strawberry.field(description="Anomalies affecting it, newest first.")
    async def anomalies(self, info: Info, states: list[AnomalyState] | None = None, limit: int = 50) -> list[Anomaly]:
        return await _anomalies(info, self.props["uid"], states, limit)

    @strawberry.field(description="Its state now: status, bound values, open anomalies, recent history.")
    def snapshot(self) -> ElementSnapshot:
        return ElementSnapshot(element=self, taken_at=dt.datetime.now(dt.UTC))


@strawberry.type
class ElementType(Node):
    @strawberry.field
    def ifc_class(self) -> str | None:
        return self.props.get("ifcClass")

    @strawberry.field
    def property_sets(self) -> list[PropertySet]:
        return property_sets(self.props)

    @strawberry.field(description="Elements of this type.")
    async def elements(
        self, info: Info, where: ElementFilter | None = None, first: First = None, after: After = None
    ) -> Connection[Element]:
        page = await info.context.reader.located(
            "Element", "elementType", self.props["uid"], element_filters(where), first, after
        )
        return connection(page, builder(Element))


async def _anomalies(info: Info, uid: str, states: list[AnomalyState] | None, limit: int) -> list[Anomaly]:
    chosen = tuple(s.value for s in states) if states else None
    rows = await info.context.reader.anomalies_of(uid, chosen, min(limit, 1000))
    return [Anomaly(props=r, node_labels=["Anomaly"]) for r in rows]


async def _kpis(
    info: Info,
    scope: kpi.Scope,
    child_level: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    brick_class: str | None,
) -> Kpis:
    window = window_of(since, until) if (since or until or brick_class) else None
    result = await kpi.compute(
        info.context.reader.store, scope, child_level=child_level, window=window, brick_class=brick_class
    )
    return Kpis.of(result)


KpiFrom = Annotated[dt.datetime | None, strawberry.argument(name="from", description="Observation window start.")]
KpiTo = Annotated[dt.datetime | None, strawberry.argument(name="to", description="Observation window end (now).")]


@strawberry.type(description="A room or other IfcSpace.")
class Space(Node, Located):
    location_key = "space"

    @strawberry.field
    def long_name(self) -> str | None:
        return self.props.get("longName")

    @strawberry.field(description="Its plan extent: [min x, min y, max x, max y] in metres, world coordinates.")
    def footprint(self) -> list[float] | None:
        return self.props.get("footprint")

    @strawberry.field
    async def storey(self, info: Info) -> Storey | None:
        return await _one(info, "Storey", self.props.get("storey"), Storey)

    @strawberry.field
    async def building(self, info: Info) -> Building | None:
        return await _one(info, "Building", self.props.get("building"), Building)

    @strawberry.field(description="Elements located in the space (contained in it, and their parts).")
    async def elements(
        self, info: Info, where: ElementFilter | None = None, first: First = None, after: After = None
    ) -> Connection[Element]:
        return connection(await self._located(info, "Element", element_filters(where), first, after), builder(Element))

    @strawberry.field(description="Elements bounding the space (walls, slabs, doors, windows).")
    async def boundaries(self, info: Info, first: First = None, after: After = None) -> Connection[Element]:
        page = await info.context.reader.related(
            "Space", "ADJACENT_ELEMENT", "Element", self.props["uid"], first=first, after=after
        )
        return connection(page, builder(Element))

    @strawberry.field(description="Points in the space (its own and those of elements in it).")
    async def points(
        self, info: Info, where: PointFilter | None = None, first: First = None, after: After = None
    ) -> Connection[Point]:
        return connection(await self._located(info, "Point", point_filters(where), first, after), builder(Point))

    @strawberry.field(description="Its properties that points keep up to date, with their latest values.")
    async def bound_values(self, info: Info) -> list[BoundValue]:
        page = await info.context.reader.related("Space", "HAS_POINT", "Point", self.props["uid"], first=1000)
        return bound_values(self.props, page.items)

    @strawberry.field
    async def zones(self, info: Info) -> list[Zone]:
        page = await info.context.reader.related(
            "Zone", "CONTAINS_ZONE", "Space", self.props["uid"], incoming=True, first=1000
        )
        return [builder(Zone)(i) for i in page.items]

    @strawberry.field
    async def kpis(
        self, info: Info, since: KpiFrom = None, until: KpiTo = None, brick_class: str | None = None
    ) -> Kpis:
        scope = kpi.Scope(self.props["model"], space=self.props["uid"])
        return await _kpis(info, scope, None, since, until, brick_class)

    @strawberry.field
    async def anomalies(self, info: Info, states: list[AnomalyState] | None = None, limit: int = 50) -> list[Anomaly]:
        return await _anomalies(info, self.props["uid"], states, limit)


@strawberry.type(description="A building storey.")
class Storey(Node, Located):
    location_key = "storey"

    @strawberry.field
    def elevation(self) -> float | None:
        return self.props.get("elevation")

    @strawberry.field(description="Its plan extent: [min x, min y, max x, max y] in metres, world coordinates.")
    def footprint(self) -> list[float] | None:
        return self.props.get("footprint")

    @strawberry.field
    async def building(self, info: Info) -> Building | None:
        return await _one(info, "Building", self.props.get("building"), Building)

    @strawberry.field(description="Spaces on the storey.")
    async def spaces(self, info: Info, first: First = None, after: After = None) -> Connection[Space]:
        return connection(await self._located(info, "Space", Filters(), first, after), builder(Space))

    @strawberry.field(description="Elements on the storey (contained in it or in its spaces, and their parts).")
    async def elements(
        self, info: Info, where: ElementFilter | None = None, first: First = None, after: After = None
    ) -> Connection[Element]:
        return connection(await self._located(info, "Element", element_filters(where), first, after), builder(Element))

    @strawberry.field(description="Points on the storey.")
    async def points(
        self, info: Info, where: PointFilter | None = None, first: First = None, after: After = None
    ) -> Connection[Point]:
        return connection(await self._located(info, "Point", point_filters(where), first, after), builder(Point))

    @strawberry.field(description="KPIs of the storey, with one entry per space in `children`.")
    async def kpis(
        self, info: Info, since: KpiFrom = None, until: KpiTo = None, brick_class: str | None = None
    ) -> Kpis:
        scope = kpi.Scope(self.props["model"], storey=self.props["uid"])
        return await _kpis(info, scope, "space", since, until, brick_class)

    @strawberry.field
    async def anomalies(self, info: Info, states: list[AnomalyState] | None = None, limit: int = 50) -> list[Anomaly]:
        return await _anomalies(info, self.props["uid"], states, limit)


@strawberry.type
class Building(Node, Located):
    location_key = "building"

    @strawberry.field(description="Storeys, lowest first.")
    async def storeys(self, info: Info, first: First = None, after: After = None) -> Connection[Storey]:
        page = await info.context.reader.related(
            "Building", "HAS_STOREY", "Storey", self.props["uid"], first=first, after=after
        )
        return connection(page, builder(Storey))

    @strawberry.field
    async def spaces(self, info: Info, first: First = None, after: After = None) -> Connection[Space]:
        return connection(await self._located(info, "Space", Filters(), first, after), builder(Space))

    @strawberry.field
    async def elements(
        self, info: Info, where: ElementFilter | None = None, first: First = None, after: After = None
    ) -> Connection[Element]:
        return connection(await self._located(info, "Element", element_filters(where), first, after), builder(Element))

    @strawberry.field
    async def points(
        self, info: Info, where: PointFilter | None = None, first: First = None, after: After = None
    ) -> Connection[Point]:
        return connection(await self._located(info, "Point", point_filters(where), first, after), builder(Point))

    @strawberry.field(description="KPIs of the building, with one entry per storey in `children`.")
    async def kpis(
        self, info: Info, since: KpiFrom = None, until: KpiTo = None, brick_class: str | None = None
    ) -> Kpis:
        scope = kpi.Scope(self.props["model"], building=self.props["uid"])
        return await _kpis(info, scope, "storey", since, until, brick_class)

    @strawberry.field
    async def anomalies(self, info: Info, states: list[AnomalyState] | None = None, limit: int = 50) -> list[Anomaly]:
        return await _anomalies(info, self.props["uid"], states, limit)


@strawberry.type
class Site(Node):
    @strawberry.field
    async def buildings(self, info: Info) -> list[Building]:
        page = await info.context.reader.related("Site", "HAS_BUILDING", "Building", self.props["uid"], first=1000)
        return [builder(Building)(i) for i in page.items]


@strawberry.type
class Project(Node):
    @strawberry.field
    def phase(self) -> str | None:
        return self.props.get("phase")

    @strawberry.field
    async def sites(self, info: Info) -> list[Site]:
        page = await info.context.reader.related("Project", "HAS_SITE", "Site", self.props["uid"], first=1000)
        return [builder(Site)(i) for i in page.items]


@strawberry.type(description="A group of spaces (IfcZone), e.g. a fire compartment.")
class Zone(Node):
    @strawberry.field
    async def spaces(self, info: Info) -> list[Space]:
        page = await info.context.reader.related("Zone", "CONTAINS_ZONE", "Space", self.props["uid"], first=1000)
        return [builder(Space)(i) for i in page.items]


# --- points and their data -------------------------------------------------------------------


@strawberry.type(description="Observations of a point as columns: times in epoch milliseconds and values.")
class Series:
    t: list[float]
    v: list[float]
    quality: list[str]


@strawberry.type(description="Observations per interval: start (epoch ms), count, min, max, avg.")
class Intervals:
    every_ms: float
    start: list[float]
    count: list[int]
    min: list[float]
    max: list[float]
    avg: list[float]


@strawberry.type(description="Statistics of observations over a time window.")
class WindowStats:
    count: int
    min: float | None
    max: float | None
    avg: float | None


@strawberry.type(description="What a point hangs off or is bound to, and how.")
class PointBinding:
    property: str | None
    unit: str | None
    scale: float | None
    offset: float | None
    conflict_rule: str | None
    via: str | None
    target_row: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def target(self) -> Node:
        node = make_node(self.target_row)
        assert node is not None
        return node


@strawberry.type(description="A sensor, setpoint, alarm or other Brick point.")
class Point(Node):
    @strawberry.field
    def point_id(self) -> str | None:
        return self.props.get("pointId")

    @strawberry.field
    def brick_class(self) -> str | None:
        return self.props.get("brickClass")

    @strawberry.field
    def unit(self) -> str | None:
        return self.props.get("unit")

    @strawberry.field
    def last_value(self) -> float | None:
        return self.props.get("lastValue")

    @strawberry.field
    def last_time(self) -> dt.datetime | None:
        return to_datetime(self.props.get("lastTime"))

    @strawberry.field
    def last_quality(self) -> str | None:
        return self.props.get("lastQuality")

    @strawberry.field
    def stale(self) -> bool:
        return bool(self.props.get("stale"))

    @strawberry.field
    def min_limit(self) -> float | None:
        return self.props.get("minLimit")

    @strawberry.field
    def max_limit(self) -> float | None:
        return self.props.get("maxLimit")

    @strawberry.field(description="Seconds expected between readings.")
    def expected_interval(self) -> float | None:
        return self.props.get("expectedInterval")

    @strawberry.field(description="What it hangs off or is bound to (element, space, storey).")
    async def bindings(self, info: Info) -> list[PointBinding]:
        rows = await info.context.reader.hosts(self.props["uid"])
        return [
            PointBinding(
                property=r["link"].get("property"),
                unit=r["link"].get("unit"),
                scale=r["link"].get("scale"),
                offset=r["link"].get("offset"),
                conflict_rule=r["link"].get("conflict"),
                via=r["link"].get("via"),
                target_row={"labels": r["labels"], "props": r["props"]},
            )
            for r in rows
        ]

    @strawberry.field(description="Raw observations in a time range (default: the last 24 hours), oldest first.")
    async def observations(
        self,
        info: Info,
        since: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        until: Annotated[dt.datetime | None, strawberry.argument(name="to")] = None,
        limit: int = 10_000,
    ) -> Series:
        start, end = window_of(since, until)
        s = series_from_buckets(await info.context.reader.series(self.props["uid"], start, end), start, end)
        newest = slice(max(0, len(s.ts) - limit), None)  # the newest `limit` observations
        return Series(t=s.ts[newest].astype(float).tolist(), v=s.values[newest].tolist(), quality=s.quality[newest])

    @strawberry.field(description="Observations downsampled to min/max/avg/count per interval.")
    async def downsampled(
        self,
        info: Info,
        every_seconds: float,
        since: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        until: Annotated[dt.datetime | None, strawberry.argument(name="to")] = None,
    ) -> Intervals:
        if every_seconds <= 0:
            raise ConfigError("everySeconds must be more than zero")
        start, end = window_of(since, until)
        every = int(every_seconds * 1000)
        d = downsample(
            series_from_buckets(await info.context.reader.series(self.props["uid"], start, end), start, end), every
        )
        return Intervals(
            every_ms=float(every),
            start=d.start.astype(float).tolist(),
            count=d.count.astype(int).tolist(),
            min=d.min.tolist(),
            max=d.max.tolist(),
            avg=d.avg.tolist(),
        )

    @strawberry.field(description="Count/min/max/avg over a window (default: the last 24 hours).")
    async def stats(
        self,
        info: Info,
        since: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        until: Annotated[dt.datetime | None, strawberry.argument(name="to")] = None,
    ) -> WindowStats:
        start, end = window_of(since, until)
        row = await info.context.reader.window(self.props["uid"], start, end) or {}
        count = row.get("count") or 0
        return WindowStats(
            count=count, min=row.get("min"), max=row.get("max"), avg=(row.get("sum") or 0.0) / count if count else None
        )

    @strawberry.field
    async def anomalies(self, info: Info, states: list[AnomalyState] | None = None, limit: int = 50) -> list[Anomaly]:
        return await _anomalies(info, self.props["uid"], states, limit)


@strawberry.type(description="A piece of Brick equipment (AHU, controller, meter, ...).")
class Equipment(Node):
    @strawberry.field
    def brick_class(self) -> str | None:
        return self.props.get("brickClass")

    @strawberry.field
    async def points(self, info: Info) -> list[Point]:
        page = await info.context.reader.related("Equipment", "HAS_POINT", "Point", self.props["uid"], first=1000)
        return [builder(Point)(i) for i in page.items]


# --- schedule --------------------------------------------------------------------------------


@strawberry.type
class Precedence:
    type: str | None
    lag_hours: float | None
    activity: Activity


@strawberry.type(description="A task of a work schedule.")
class Activity(Node):
    @strawberry.field
    def identification(self) -> str | None:
        return self.props.get("identification")

    @strawberry.field
    def schedule_start(self) -> dt.datetime | None:
        return to_datetime(self.props.get("scheduleStart"))

    @strawberry.field
    def schedule_finish(self) -> dt.datetime | None:
        return to_datetime(self.props.get("scheduleFinish"))

    @strawberry.field
    def actual_start(self) -> dt.datetime | None:
        return to_datetime(self.props.get("actualStart"))

    @strawberry.field
    def actual_finish(self) -> dt.datetime | None:
        return to_datetime(self.props.get("actualFinish"))

    @strawberry.field
    def percent_complete(self) -> float | None:
        return self.props.get("percentComplete")

    @strawberry.field
    def duration_hours(self) -> float | None:
        return self.props.get("durationHours")

    @strawberry.field
    def is_milestone(self) -> bool:
        return bool(self.props.get("isMilestone"))

    @strawberry.field
    async def predecessors(self, info: Info) -> list[Precedence]:
        page = await info.context.reader.related(
            "Activity", "PRECEDES", "Activity", self.props["uid"], incoming=True, first=1000
        )
        return [_precedence(i) for i in page.items]

    @strawberry.field
    async def successors(self, info: Info) -> list[Precedence]:
        page = await info.context.reader.related("Activity", "PRECEDES", "Activity", self.props["uid"], first=1000)
        return [_precedence(i) for i in page.items]

    @strawberry.field(description="Summary tasks' sub-activities.")
    async def sub_activities(self, info: Info) -> list[Activity]:
        page = await info.context.reader.related(
            "Activity", "HAS_SUB_ACTIVITY", "Activity", self.props["uid"], first=1000
        )
        return [builder(Activity)(i) for i in page.items]

    @strawberry.field(description="Elements it constructs.")
    async def elements(self, info: Info, first: First = None, after: After = None) -> Connection[Element]:
        page = await info.context.reader.related(
            "Activity", "CONSTRUCTS", "Element", self.props["uid"], first=first, after=after
        )
        return connection(page, builder(Element))


def _precedence(item: dict[str, Any]) -> Precedence:
    link = item.get("link") or {}
    return Precedence(type=link.get("type"), lag_hours=link.get("lagHours"), activity=builder(Activity)(item))


@strawberry.type
class WorkSchedule(Node):
    @strawberry.field
    async def activities(self, info: Info, first: First = None, after: After = None) -> Connection[Activity]:
        page = await info.context.reader.related(
            "WorkSchedule", "HAS_ACTIVITY", "Activity", self.props["uid"], first=first, after=after
        )
        return connection(page, builder(Activity))


# --- anomalies, events, KPIs -----------------------------------------------------------------


@strawberry.enum
class AnomalyState(enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.type(description="Something a detector or a condition found, with its state.")
class Anomaly(Node):
    @strawberry.field
    def kind(self) -> str | None:
        return self.props.get("kind")

    @strawberry.field
    def severity(self) -> str | None:
        return self.props.get("severity")

    @strawberry.field
    def state(self) -> str | None:
        return self.props.get("state")

    @strawberry.field
    def message(self) -> str | None:
        return self.props.get("message")

    @strawberry.field
    def value(self) -> float | None:
        return self.props.get("value")

    @strawberry.field
    def start(self) -> dt.datetime | None:
        return to_datetime(self.props.get("start"))

    @strawberry.field
    def end(self) -> dt.datetime | None:
        return to_datetime(self.props.get("end"))

    @strawberry.field
    def last_seen(self) -> dt.datetime | None:
        return to_datetime(self.props.get("lastSeen"))

    @strawberry.field
    async def point(self, info: Info) -> Point | None:
        return await _one(info, "Point", self.props.get("point"), Point)

    @strawberry.field(
        description="What found it (limits, robust_z, zscore, drift, rate, flatline, silence, a condition)."
    )
    def detector(self) -> str | None:
        return self.props.get("detector")

    @strawberry.field(description="Whether the signal is still out of line (the state is the users' to change).")
    def active(self) -> bool:
        return bool(self.props.get("active"))

    @strawberry.field(description="Uids of what it concerns: the point, what the point is bound to, where they are.")
    def scope(self) -> list[strawberry.ID]:
        return [strawberry.ID(u) for u in self.props.get("scope") or []]


@strawberry.type(description="Something that happened in the twin.")
class Event:
    uid: strawberry.ID
    kind: str
    subject: strawberry.ID
    model: str | None
    time: dt.datetime
    source: str | None
    details: JSON
    scope: list[strawberry.ID]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        details = row.get("details")
        return cls(
            uid=strawberry.ID(row["uid"]),
            kind=row["kind"],
            subject=strawberry.ID(row.get("subject") or ""),
            model=row.get("model"),
            time=to_datetime(row["time"]) or dt.datetime.now(dt.UTC),
            source=row.get("source"),
            details=orjson.loads(details) if isinstance(details, str) else details or {},
            scope=[strawberry.ID(s) for s in row.get("scope") or []],
        )


@strawberry.type(description="An element's state now: status, bound values, open anomalies, recent history.")
class ElementSnapshot:
    element: Element
    taken_at: dt.datetime

    @strawberry.field
    def status(self) -> Status | None:
        return status_of(self.element.props)

    @strawberry.field
    async def bound_values(self, info: Info) -> list[BoundValue]:
        page = await info.context.reader.related("Element", "HAS_POINT", "Point", self.element.props["uid"], first=1000)
        return bound_values(self.element.props, page.items)

    @strawberry.field
    async def open_anomalies(self, info: Info) -> list[Anomaly]:
        return await _anomalies(info, self.element.props["uid"], [AnomalyState.OPEN], 100)

    @strawberry.field
    async def recent_events(self, info: Info, limit: int = 20) -> list[Event]:
        rows = await info.context.reader.events(
            self.element.props["uid"],
            ("status_change", "property_update", "binding_change", "progress_update", "alert"),
            0,
            2**62,
            min(limit, 500),
        )
        return [Event.from_row(r) for r in rows]


@strawberry.type
class Count:
    key: str
    count: int


@strawberry.type(description="Element counts by status.")
class StatusCounts:
    planned: int
    in_progress: int
    completed: int
    issue: int


@strawberry.type(description="Points by health: reporting within 3 expected intervals, stale, or never reported.")
class PointHealth:
    total: int
    reporting: int
    stale: int
    silent: int


@strawberry.type(description="KPIs of one place, rolled up from the places below it.")
class Kpis:
    level: str
    uid: strawberry.ID | None
    model: str
    element_count: int
    status: StatusCounts
    by_class: list[Count]
    percent_complete: float | None = strawberry.field(description="Completed elements / elements, in percent.")
    percent_complete_by_volume: float | None
    percent_complete_by_area: float | None
    points: PointHealth
    open_anomalies: list[Count] = strawberry.field(description="Open and acknowledged anomalies by severity.")
    observations: WindowStats | None
    children: list[Kpis]

    @strawberry.field(description="The place these KPIs are about (none for a whole model).")
    async def place(self, info: Info) -> Node | None:
        if not self.uid:
            return None
        label = {"building": "Building", "storey": "Storey", "space": "Space"}.get(self.level)
        if label is None:
            return None
        return make_node(await info.context.reader.node(label, str(self.uid)))

    @classmethod
    def of(cls, k: kpi.Kpis) -> Kpis:
        t = k.totals
        return cls(
            level=k.level,
            uid=strawberry.ID(k.uid) if k.uid else None,
            model=k.model,
            element_count=t.elements,
            status=StatusCounts(
                planned=t.status.get("planned", 0),
                in_progress=t.status.get("in_progress", 0),
                completed=t.status.get("completed", 0),
                issue=t.status.get("issue", 0),
            ),
            by_class=[Count(key=key, count=n) for key, n in sorted(t.by_class.items())],
            percent_complete=t.percent_complete,
            percent_complete_by_volume=t.percent_complete_by_volume,
            percent_complete_by_area=t.percent_complete_by_area,
            points=PointHealth(total=t.points, reporting=t.reporting, stale=t.stale, silent=t.silent),
            open_anomalies=[Count(key=key, count=n) for key, n in sorted(t.anomalies.items())],
            observations=WindowStats(count=t.observations, min=t.obs_min, max=t.obs_max, avg=t.obs_avg)
            if t.observations or t.obs_min is not None
            else None,
            children=[cls.of(c) for c in k.children],
        )


NODE_TYPES: list[tuple[str, type[Node]]] = [
    ("Point", Point),
    ("Equipment", Equipment),
    ("Element", Element),
    ("Space", Space),
    ("Storey", Storey),
    ("Building", Building),
    ("Site", Site),
    ("Project", Project),
    ("Zone", Zone),
    ("ElementType", ElementType),
    ("Activity", Activity),
    ("WorkSchedule", WorkSchedule),
    ("Anomaly", Anomaly),
]
