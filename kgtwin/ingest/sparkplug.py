"""Sparkplug B over MQTT: the payload schema of the public Sparkplug B specification (built here at run
time with protobuf, no generated code), the host side that turns births, data and deaths into readings,
and the edge-node side that the simulator publishes with."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from kgtwin.ingest.observations import Reading, Registry
from kgtwin.ingest.payloads import PayloadError
from kgtwin.sources.sensors import SourceMapping
from kgtwin.store import GraphStore

log = logging.getLogger("kgtwin.ingest.sparkplug")

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
BD_SEQ = "bdSeq"
# Metrics every edge node has that describe the session, not the plant.
_PROTOCOL_PREFIXES = ("Node Control/", "Device Control/", BD_SEQ)


class DataType(IntEnum):
    """Sparkplug B data types (specification, section 6.4.16); the array types are not measurements."""

    Unknown = 0
    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14
    UUID = 15
    DataSet = 16
    Bytes = 17
    File = 18
    Template = 19


_SIGNED_BITS = {DataType.Int8: 8, DataType.Int16: 16, DataType.Int32: 32, DataType.Int64: 64}
_NUMERIC = {*_SIGNED_BITS, DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64}
_NUMERIC |= {DataType.Float, DataType.Double, DataType.Boolean}


# --- the payload schema -------------------------------------------------------------------------------
# Field numbers and types as the Sparkplug B specification defines the Payload message (proto2). DataSet
# and Template values are left out: protobuf keeps such fields as unknown, and they are not measurements.

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64,
    "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE,
    "bool": _F.TYPE_BOOL,
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
}
_PACKAGE = "kgtwin.sparkplug_b"
# (message, [(field, number, type, "repeated" | "value" (in the `value` oneof) | "")])
_MESSAGES: list[tuple[str, list[tuple[str, int, str, str]]]] = [
    (
        "Payload",
        [
            ("timestamp", 1, "uint64", ""),
            ("metrics", 2, "Metric", "repeated"),
            ("seq", 3, "uint64", ""),
            ("uuid", 4, "string", ""),
            ("body", 5, "bytes", ""),
        ],
    ),
    (
        "Metric",
        [
            ("name", 1, "string", ""),
            ("alias", 2, "uint64", ""),
            ("timestamp", 3, "uint64", ""),
            ("datatype", 4, "uint32", ""),
            ("is_historical", 5, "bool", ""),
            ("is_transient", 6, "bool", ""),
            ("is_null", 7, "bool", ""),
            ("metadata", 8, "MetaData", ""),
            ("properties", 9, "PropertySet", ""),
            ("int_value", 10, "uint32", "value"),
            ("long_value", 11, "uint64", "value"),
            ("float_value", 12, "float", "value"),
            ("double_value", 13, "double", "value"),
            ("boolean_value", 14, "bool", "value"),
            ("string_value", 15, "string", "value"),
            ("bytes_value", 16, "bytes", "value"),
        ],
    ),
    (
        "MetaData",
        [
            ("is_multi_part", 1, "bool", ""),
            ("content_type", 2, "string", ""),
            ("size", 3, "uint64", ""),
            ("seq", 4, "uint64", ""),
            ("file_name", 5, "string", ""),
            ("file_type", 6, "string", ""),
            ("md5", 7, "string", ""),
            ("description", 8, "string", ""),
        ],
    ),
    ("PropertySet", [("keys", 1, "string", "repeated"), ("values", 2, "PropertyValue", "repeated")]),
    ("PropertySetList", [("propertyset", 1, "PropertySet", "repeated")]),
    (
        "PropertyValue",
        [
            ("type", 1, "uint32", ""),
            ("is_null", 2, "bool", ""),
            ("int_value", 3, "uint32", "value"),
            ("long_value", 4, "uint64", "value"),
            ("float_value", 5, "float", "value"),
            ("double_value", 6, "double", "value"),
            ("boolean_value", 7, "bool", "value"),
            ("string_value", 8, "string", "value"),
            ("propertyset_value", 9, "PropertySet", "value"),
            ("propertysets_value", 10, "PropertySetList", "value"),
        ],
    ),
]


def _schema() -> descriptor_pb2.FileDescriptorProto:
    schema = descriptor_pb2.FileDescriptorProto(name="kgtwin/sparkplug_b.proto", package=_PACKAGE, syntax="proto2")
    for name, fields in _MESSAGES:
        message = schema.message_type.add(name=name)
        if any(kind == "value" for *_, kind in fields):
            message.oneof_decl.add(name="value")
        for field_name, number, type_name, kind in fields:
            declared = message.field.add(
                name=field_name,
                number=number,
                label=_F.LABEL_REPEATED if kind == "repeated" else _F.LABEL_OPTIONAL,
            )
            if type_name in _SCALARS:
                declared.type = _SCALARS[type_name]
            else:
                declared.type = _F.TYPE_MESSAGE
                declared.type_name = f".{_PACKAGE}.{type_name}"
            if kind == "value":
                declared.oneof_index = 0
    return schema


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_schema())
Payload: type[Message] = message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"{_PACKAGE}.Payload"))


def decode_payload(raw: bytes) -> Any:
    """A Sparkplug B payload, or PayloadError naming what is wrong with it."""
    payload = Payload()
    try:
        payload.ParseFromString(raw)
    except DecodeError:
        raise PayloadError("malformed Sparkplug B payload (not a protobuf Payload message)") from None
    return payload


# --- topics ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """`spBv1.0/<group>/<type>/<edge node>[/<device>]`."""

    group: str
    kind: str  # NBIRTH, NDATA, NDEATH, DBIRTH, DDATA, DDEATH, NCMD, DCMD
    node: str
    device: str | None = None

    @property
    def where(self) -> str:
        return "/".join(p for p in (self.group, self.node, self.device) if p)

    def __str__(self) -> str:
        return "/".join(p for p in (NAMESPACE, self.group, self.kind, self.node, self.device) if p)


def parse_topic(topic: str) -> Topic | None:
    """The parts of a Sparkplug B topic; None for other topics and for host STATE messages."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[1] == "STATE":
        return None
    return Topic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def metric_path(group: str, node: str, device: str | None, name: str) -> str:
    """How a registry names a metric: `group/edge node/[device/]metric`."""
    return f"{group}/{node}/{device}/{name}" if device else f"{group}/{node}/{name}"


# --- values ---------------------------------------------------------------------------------------------


def metric_value(metric: Any, datatype: int) -> Any:
    """The metric's value in Python terms; signed integers travel as two's complement in unsigned fields."""
    if metric.is_null:
        return None
    kind = metric.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(metric, kind)
    if kind == "double_value":
        return value
    bits = _SIGNED_BITS.get(datatype)  # type: ignore[call-overload]
    if bits and kind in ("int_value", "long_value"):
        value &= (1 << bits) - 1  # writers sign-extend an Int8 to 32 bits or not: the low bits count
        if value >= 1 << (bits - 1):
            value -= 1 << bits
    return value


def _property(metric: Any, *keys: str) -> Any:
    props = metric.properties
    for key, value in zip(props.keys, props.values, strict=False):
        if key in keys and not value.is_null and value.WhichOneof("value"):
            return getattr(value, value.WhichOneof("value"))
    return None


def _quality(metric: Any) -> str:
    """The `Quality` property some edge nodes send (OPC DA codes: 192 good, 64 uncertain, 0 bad)."""
    if not metric.HasField("properties"):
        return "good"
    code = _property(metric, "Quality", "quality")
    if not isinstance(code, int):
        return "good"
    if code >= 192:
        return "good"
    return f"uncertain:{code}" if code >= 64 else f"bad:{code}"


# --- the host side --------------------------------------------------------------------------------------


@dataclass
class BornMetric:
    """A metric as a birth certificate declared it."""

    name: str
    datatype: int
    point: str | None  # the point readings of it go to; None when no point is mapped to it
    unit: str | None = None


@dataclass
class MetricTable:
    by_alias: dict[int, BornMetric] = field(default_factory=dict)
    by_name: dict[str, BornMetric] = field(default_factory=dict)


@dataclass
class EdgeNode:
    group: str
    node: str
    born: bool = False
    bd_seq: int | None = None
    next_seq: int | None = None
    tables: dict[str | None, MetricTable] = field(default_factory=dict)  # None: the node's own metrics
    last_rebirth_request: float = -math.inf


@dataclass
class HostStats:
    births: int = 0
    deaths: int = 0
    ignored_deaths: int = 0  # an NDEATH of an earlier connection (its bdSeq is not the current birth's)
    sequence_gaps: int = 0
    data_before_birth: int = 0
    rebirths_requested: int = 0
    unknown_aliases: int = 0
    unmapped_metrics: int = 0  # metrics no point is mapped to: skipped, counted
    not_numbers: int = 0
    metrics: int = 0


class PointNames:
    """Sparkplug metric paths to point keys: a point's declared `sparkplug:` path, else a point whose id
    is the path itself."""

    def __init__(
        self, declared: Mapping[str, str], point_ids: Iterable[str], units: Mapping[str, str] | None = None
    ) -> None:
        self.declared = dict(declared)
        self.point_ids = set(point_ids)
        self.units = dict(units or {})  # what a mapping file says a metric is in, when its birth does not

    def resolve(self, path: str) -> str | None:
        found = self.declared.get(path)
        if found is not None:
            return found
        return path if path in self.point_ids else None

    def under(self, prefix: str) -> set[str]:
        """Every point whose path starts with a node's or device's prefix."""
        found = {point for path, point in self.declared.items() if path.startswith(prefix)}
        return found | {p for p in self.point_ids if p.startswith(prefix)}


async def point_names(store: GraphStore, registry: Registry, mapped: Iterable[SourceMapping] = ()) -> PointNames:
    """Registry `sparkplug:` paths, then a mapping file's `mappings: {path: point id}`."""
    rows = await store.execute("sensors/source_names")
    declared = {r["sparkplug"]: r["uid"] for r in rows if r["sparkplug"]}
    units = {}
    for mapping in mapped:
        declared[mapping.source] = mapping.point
        if mapping.unit:
            units[mapping.source] = mapping.unit
    return PointNames(declared, registry.points, units)


class SparkplugHost:
    """The host application's view of every edge node: births teach metric names, aliases and types,
    data is decoded by alias or name, sequence numbers (0–255 per edge node) are checked, deaths say
    which points went stale. Commands it wants sent (rebirth requests) wait in `commands`."""

    def __init__(
        self, names: PointNames, *, rebirth_interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.names = names
        self.nodes: dict[tuple[str, str], EdgeNode] = {}
        self.stats = HostStats()
        self.commands: list[tuple[str, bytes]] = []
        self.rebirth_interval_s = rebirth_interval_s  # one request per node per interval, not one per message
        self._clock = clock

    def _node(self, topic: Topic) -> EdgeNode:
        key = (topic.group, topic.node)
        if key not in self.nodes:
            self.nodes[key] = EdgeNode(topic.group, topic.node)
        return self.nodes[key]

    def decode(self, topic: Topic, raw: bytes) -> list[Reading | str]:
        """Readings of a BIRTH or DATA message; strings for what cannot become readings (the reason)."""
        payload = decode_payload(raw)
        node = self._node(topic)
        rebirth = False  # one request per message, whatever went wrong in it
        if topic.kind == "NBIRTH":
            self._birth_of_node(node, payload)
        else:
            rebirth = self._sequence_gap(node, topic, payload)
            if topic.kind == "DBIRTH":
                if not node.born:
                    rebirth = self._before_birth(f"DBIRTH of {topic.where} before its node's NBIRTH")
                self._learn(node, topic.device, payload)
            elif not node.born or topic.device not in node.tables:
                rebirth = self._before_birth(f"{topic.kind} from {topic.where} before its birth")
        table = node.tables.get(topic.device) or MetricTable()
        readings: list[Reading | str] = []
        unknown: list[int] = []
        not_numbers: list[str] = []
        default_time = payload.timestamp if payload.HasField("timestamp") else None
        for metric in payload.metrics:
            born = self._lookup(table, metric)
            if born is None:
                if metric.HasField("name"):  # named data without a birth still says what it is
                    born = self._declare(topic, metric)
                else:
                    unknown.append(metric.alias)
                    continue
            self.stats.metrics += 1
            if born.point is None:
                self.stats.unmapped_metrics += 1
                continue
            datatype = metric.datatype if metric.HasField("datatype") else born.datatype
            if datatype not in _NUMERIC and datatype != DataType.Unknown:
                not_numbers.append(f"{born.name!r} ({_type_name(datatype)})")
                continue
            value = metric_value(metric, datatype)
            if value is None:  # null: the edge node has no value now, which is not a reading
                continue
            stamp = metric.timestamp if metric.HasField("timestamp") else default_time
            readings.append(Reading(born.point, value, born.unit, stamp, _quality(metric)))
        problems: list[str] = []
        if not_numbers:
            self.stats.not_numbers += len(not_numbers)
            problems.append(f"metrics of {topic.where} mapped to points are not numbers: {', '.join(not_numbers)}")
        if unknown:
            self.stats.unknown_aliases += len(unknown)
            rebirth = True
            listed = ", ".join(str(a) for a in unknown[:20]) + (" …" if len(unknown) > 20 else "")
            problems.append(
                f"unknown alias{'es' if len(unknown) > 1 else ''} {listed} in {topic.kind} from {topic.where} "
                "(no birth declared them; a rebirth is requested)"
            )
        if rebirth:
            self._request_rebirth(node)
        return readings + problems

    def death(self, topic: Topic, raw: bytes) -> set[str]:
        """The points an NDEATH or DDEATH makes stale (none for an NDEATH of an earlier connection)."""
        payload = decode_payload(raw)
        node = self._node(topic)
        if topic.kind == "NDEATH":
            bd_seq = next((metric_value(m, DataType.Int64) for m in payload.metrics if m.name == BD_SEQ), None)
            if node.born and node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
                self.stats.ignored_deaths += 1
                log.info(
                    "NDEATH of %s with bdSeq %s is from an earlier connection (now %s)",
                    topic.where,
                    bd_seq,
                    node.bd_seq,
                )
                return set()
            tables = node.tables
            node.born, node.next_seq, node.tables = False, None, {}
        else:
            if self._sequence_gap(node, topic, payload):
                self._request_rebirth(node)
            tables = {topic.device: node.tables.pop(topic.device)} if topic.device in node.tables else {}
        self.stats.deaths += 1
        points = {m.point for t in tables.values() for m in t.by_name.values() if m.point}
        return points | self.names.under(f"{topic.where}/")

    def _birth_of_node(self, node: EdgeNode, payload: Any) -> None:
        if not payload.HasField("seq") or payload.seq > 255:
            raise PayloadError("NBIRTH without a sequence number from 0 to 255")
        node.born, node.tables, node.next_seq = True, {}, (payload.seq + 1) % 256
        node.bd_seq = next((metric_value(m, DataType.Int64) for m in payload.metrics if m.name == BD_SEQ), None)
        self._learn(node, None, payload)

    def _learn(self, node: EdgeNode, device: str | None, payload: Any) -> None:
        self.stats.births += 1
        table = MetricTable()
        topic = Topic(node.group, "BIRTH", node.node, device)
        for metric in payload.metrics:
            if not metric.HasField("name"):
                continue
            born = self._declare(topic, metric)
            table.by_name[born.name] = born
            if metric.HasField("alias"):
                table.by_alias[metric.alias] = born
        node.tables[device] = table
        mapped = sum(1 for m in table.by_name.values() if m.point)
        log.info("birth of %s: %d metrics, %d mapped to points", topic.where, len(table.by_name), mapped)

    def _declare(self, topic: Topic, metric: Any) -> BornMetric:
        name = metric.name
        protocol = name.startswith(_PROTOCOL_PREFIXES)
        path = metric_path(topic.group, topic.node, topic.device, name)
        point = None if protocol else self.names.resolve(path)
        unit = _property(metric, "engUnit", "EngUnit", "unit", "Unit") or self.names.units.get(path)
        return BornMetric(name, metric.datatype, point, str(unit) if unit else None)

    @staticmethod
    def _lookup(table: MetricTable, metric: Any) -> BornMetric | None:
        if metric.HasField("alias") and metric.alias in table.by_alias:
            return table.by_alias[metric.alias]
        if metric.HasField("name"):
            return table.by_name.get(metric.name)
        return None

    def _sequence_gap(self, node: EdgeNode, topic: Topic, payload: Any) -> bool:
        if not payload.HasField("seq") or payload.seq > 255:
            raise PayloadError(f"{topic.kind} without a sequence number from 0 to 255")
        expected, node.next_seq = node.next_seq, (payload.seq + 1) % 256
        if expected is None or payload.seq == expected:
            return False
        self.stats.sequence_gaps += 1
        log.warning("sequence gap from %s/%s: expected %d, got %d", node.group, node.node, expected, payload.seq)
        return True

    def _before_birth(self, what: str) -> bool:
        self.stats.data_before_birth += 1
        log.warning("%s", what)
        return True

    def _request_rebirth(self, node: EdgeNode) -> None:
        now = self._clock()
        if now - node.last_rebirth_request < self.rebirth_interval_s:
            return
        node.last_rebirth_request = now
        self.stats.rebirths_requested += 1
        log.info("requesting a rebirth of %s/%s", node.group, node.node)
        self.commands.append((str(Topic(node.group, "NCMD", node.node)), rebirth_command()))

    def take_commands(self) -> list[tuple[str, bytes]]:
        commands, self.commands = self.commands, []
        return commands


def rebirth_command(now_ms: int | None = None) -> bytes:
    """The NCMD the specification defines for asking an edge node to publish its births again."""
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    payload = Payload(timestamp=stamp)
    payload.metrics.add(name=REBIRTH, timestamp=stamp, datatype=DataType.Boolean, boolean_value=True)
    return payload.SerializeToString()


def is_rebirth_command(raw: bytes) -> bool:
    try:
        payload = decode_payload(raw)
    except PayloadError:
        return False
    return any(m.name == REBIRTH and m.boolean_value for m in payload.metrics)


def _type_name(datatype: int) -> str:
    try:
        return DataType(datatype).name
    except ValueError:
        return f"type {datatype}"


# --- the edge-node side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    name: str
    datatype: DataType = DataType.Double
    unit: str | None = None


class EdgeNodeSession:
    """What an edge node publishes during one MQTT connection: the NDEATH will (with this connection's
    bdSeq), NBIRTH and DBIRTHs declaring every metric with an alias, then data by alias, with the node's
    sequence number running 0–255 across all of its messages."""

    def __init__(self, group: str, node: str, devices: Mapping[str | None, list[MetricSpec]], bd_seq: int = 0) -> None:
        self.group, self.node, self.bd_seq = group, node, bd_seq % 256
        self.devices = {device: list(specs) for device, specs in devices.items()}
        self.aliases: dict[tuple[str | None, str], int] = {}
        for device, specs in self.devices.items():
            for spec in specs:
                self.aliases[(device, spec.name)] = len(self.aliases) + 1  # unique across the node
        self.specs = {(device, s.name): s for device, specs in self.devices.items() for s in specs}
        self.last: dict[tuple[str | None, str], tuple[float, int]] = {}  # what births report as current
        self._seq = 0

    def _next_seq(self) -> int:
        seq, self._seq = self._seq, (self._seq + 1) % 256
        return seq

    def _topic(self, kind: str, device: str | None = None) -> str:
        return str(Topic(self.group, kind, self.node, device))

    def will(self) -> tuple[str, bytes]:
        payload = Payload(timestamp=int(time.time() * 1000))
        payload.metrics.add(name=BD_SEQ, datatype=DataType.Int64, long_value=self.bd_seq)
        return self._topic("NDEATH"), payload.SerializeToString()

    def births(self, now_ms: int) -> list[tuple[str, bytes]]:
        """NBIRTH then a DBIRTH per device; the sequence restarts at 0 with the NBIRTH."""
        self._seq = 0
        out = []
        for device in [None, *(d for d in self.devices if d is not None)]:
            payload = Payload(timestamp=now_ms, seq=self._next_seq())
            if device is None:
                payload.metrics.add(name=BD_SEQ, timestamp=now_ms, datatype=DataType.Int64, long_value=self.bd_seq)
                payload.metrics.add(name=REBIRTH, timestamp=now_ms, datatype=DataType.Boolean, boolean_value=False)
            for spec in self.devices.get(device, []):
                metric = payload.metrics.add(name=spec.name, alias=self.aliases[(device, spec.name)])
                metric.datatype = spec.datatype
                if spec.unit:
                    metric.properties.keys.append("engUnit")
                    metric.properties.values.add(type=DataType.String, string_value=spec.unit)
                current = self.last.get((device, spec.name))
                if current is None:
                    metric.is_null = True
                    metric.timestamp = now_ms
                else:
                    _set_value(metric, spec.datatype, current[0])
                    metric.timestamp = current[1]
            out.append((self._topic("NBIRTH" if device is None else "DBIRTH", device), payload.SerializeToString()))
        return out

    def data(self, device: str | None, values: Iterable[tuple[str, float, int]], now_ms: int) -> tuple[str, bytes]:
        """NDATA (device None) or DDATA with (metric name, value, time) by alias."""
        payload = Payload(timestamp=now_ms, seq=self._next_seq())
        for name, value, stamp in values:
            spec = self.specs[(device, name)]
            metric = payload.metrics.add(alias=self.aliases[(device, name)], timestamp=stamp)
            _set_value(metric, spec.datatype, value)
            self.last[(device, name)] = (value, stamp)
        return self._topic("NDATA" if device is None else "DDATA", device), payload.SerializeToString()

    def death(self) -> tuple[str, bytes]:
        """An edge node going offline on purpose publishes its NDEATH itself."""
        return self.will()


def _set_value(metric: Any, datatype: DataType, value: float) -> None:
    if datatype == DataType.Boolean:
        metric.boolean_value = bool(value)
    elif datatype == DataType.Float:
        metric.float_value = value
    elif datatype == DataType.Double:
        metric.double_value = value
    elif datatype in (DataType.Int64, DataType.UInt64):
        metric.long_value = int(value) & (1 << 64) - 1
    else:  # the smaller integers travel in 32 bits, negative ones sign-extended
        metric.int_value = int(value) & (1 << 32) - 1


# --- publishing as edge nodes (the simulator's Sparkplug transport) -----------------------------------


def split_path(path: str) -> tuple[str, str, str | None, str]:
    """`group/node/metric` or `group/node/device/metric…` (a metric name may hold slashes)."""
    parts = path.split("/")
    if len(parts) == 3:
        return parts[0], parts[1], None, parts[2]
    return parts[0], parts[1], parts[2], "/".join(parts[3:])


async def publish_as_edge_nodes(
    batches: AsyncIterator[list[Reading]],
    paths: Mapping[str, str],
    datatypes: Mapping[str, DataType],
    units: Mapping[str, str | None],
    host: str,
    port: int,
    *,
    qos: int = 0,
    bd_seq: int = 0,
    username: str | None = None,
    password: str | None = None,
) -> int:
    """Publish readings as the edge nodes their paths name: each connects with its NDEATH as will, sends
    NBIRTH and DBIRTHs, then DDATA/NDATA by alias; a rebirth request (NCMD) is answered with births, and
    the end with an NDEATH. Sparkplug asks for QoS 0 data; `qos=1` makes the broker acknowledge it."""
    import aiomqtt

    where: dict[str, tuple[tuple[str, str], str | None, str]] = {}
    specs: dict[tuple[str, str], dict[str | None, list[MetricSpec]]] = {}
    for key, path in paths.items():
        group, node, device, metric = split_path(path)
        where[key] = ((group, node), device, metric)
        specs.setdefault((group, node), {}).setdefault(device, []).append(
            MetricSpec(metric, datatypes.get(key, DataType.Double), units.get(key))
        )
    sent = 0
    async with contextlib.AsyncExitStack() as stack:
        sessions: dict[tuple[str, str], EdgeNodeSession] = {}
        clients: dict[tuple[str, str], aiomqtt.Client] = {}
        rebirth: dict[tuple[str, str], asyncio.Event] = {}
        for (group, node), devices in specs.items():
            session = EdgeNodeSession(group, node, devices, bd_seq)
            will_topic, will_payload = session.will()
            client = aiomqtt.Client(
                host,
                port,
                identifier=f"kgtwin-edge-{group}-{node}"[:64],
                username=username,
                password=password,
                will=aiomqtt.Will(will_topic, will_payload, qos=1),
            )
            await stack.enter_async_context(client)
            await client.subscribe(str(Topic(group, "NCMD", node)), qos=1)
            sessions[(group, node)], clients[(group, node)] = session, client
            rebirth[(group, node)] = asyncio.Event()
            listener = asyncio.create_task(_listen_for_rebirth(client, rebirth[(group, node)]))
            stack.callback(listener.cancel)
            for topic, payload in session.births(int(time.time() * 1000)):
                await client.publish(topic, payload, qos=qos)
        stack.push_async_callback(_go_offline, sessions, clients)  # on an interrupt too
        async for batch in batches:
            grouped: dict[tuple[tuple[str, str], str | None], list[tuple[str, float, int]]] = {}
            for reading in batch:
                node_key, device, metric = where[reading.point]
                grouped.setdefault((node_key, device), []).append((metric, reading.value, int(reading.timestamp)))
            for node_key, event in rebirth.items():
                if event.is_set():  # the host asked: births again, with the last values
                    event.clear()
                    for topic, payload in sessions[node_key].births(int(time.time() * 1000)):
                        await clients[node_key].publish(topic, payload, qos=qos)
            for (node_key, device), values in grouped.items():
                topic, payload = sessions[node_key].data(device, values, int(time.time() * 1000))
                await clients[node_key].publish(topic, payload, qos=qos)
                sent += len(values)
    return sent


async def _go_offline(sessions: Mapping[tuple[str, str], EdgeNodeSession], clients: Mapping[Any, Any]) -> None:
    """An edge node going offline on purpose says so itself with its NDEATH (the will is for crashes)."""
    for node_key, session in sessions.items():
        topic, payload = session.death()
        with contextlib.suppress(Exception):
            await clients[node_key].publish(topic, payload, qos=1)


async def _listen_for_rebirth(client: Any, asked: asyncio.Event) -> None:
    async for message in client.messages:
        if is_rebirth_command(bytes(message.payload)):
            asked.set()
