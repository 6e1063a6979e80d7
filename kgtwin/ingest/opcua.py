"""OPC UA with asyncua: data-change subscriptions on the node ids mapped to points, source timestamps
and status codes as quality, security policies with certificates and user names, reconnection that
re-creates the subscription after the server went away; and a small server publishing points (the
simulator's OPC UA transport)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Client, Server, ua
from asyncua.crypto import security_policies, uacrypto
from asyncua.crypto.permission_rules import User, UserRole
from cryptography import x509

from kgtwin.errors import ConfigError, KgtwinError
from kgtwin.ingest.observations import Reading, now_ms
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources import sensors
from kgtwin.store import GraphStore

log = logging.getLogger("kgtwin.ingest.opcua")
POLICIES = {"Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256}
MODES = {"Sign": ua.MessageSecurityMode.Sign, "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt}
# Refusals that no retry fixes: the user has to change the settings.
_REFUSALS = (
    ua.StatusCodes.BadUserAccessDenied,
    ua.StatusCodes.BadIdentityTokenRejected,
    ua.StatusCodes.BadIdentityTokenInvalid,
    ua.StatusCodes.BadSecurityPolicyRejected,
    ua.StatusCodes.BadSecurityModeRejected,
    ua.StatusCodes.BadCertificateInvalid,
    ua.StatusCodes.BadCertificateUntrusted,
    ua.StatusCodes.BadSecurityChecksFailed,
)


_WAITING = ua.StatusCodes.BadWaitingForInitialData


class OpcUaError(KgtwinError):
    """The OPC UA server refused us (security, identity) or the settings cannot work."""

    exit_code = 3


@dataclass(frozen=True)
class NodeMapping:
    node_id: str  # as the OPC UA specification writes it: ns=2;s=Spindle.RPM
    point: str  # the point's field id or uid
    unit: str | None = None  # the unit the server's values are in, when not the point's


@dataclass(frozen=True)
class OpcUaSettings:
    endpoint: str
    security: str | None = None  # "Basic256Sha256,Sign" or "Basic256Sha256,SignAndEncrypt"
    certificate: Path | None = None  # the client's certificate (DER or PEM) and private key (PEM)
    private_key: Path | None = None
    server_certificate: Path | None = None  # pinned; otherwise the one the server's endpoint presents
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    publishing_interval_ms: float = 100
    queue_size: int = 1000  # per monitored item: every change between two publishes reaches us
    flush_interval_s: float = 0.05
    reconnect_max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.endpoint.startswith("opc.tcp://"):
            raise ConfigError(f"OPC UA endpoint {self.endpoint!r} must start with opc.tcp://")
        if self.security:
            policy, _, mode = self.security.partition(",")
            if policy not in POLICIES or mode not in MODES:
                raise ConfigError(
                    f"OPC UA security {self.security!r} is not one of "
                    + ", ".join(f"{p},{m}" for p in POLICIES for m in MODES)
                )
            if not (self.certificate and self.private_key):
                raise ConfigError("OPC UA security needs the client's certificate and private key files")
            for path in (self.certificate, self.private_key, self.server_certificate):
                if path is not None and not Path(path).is_file():
                    raise ConfigError(f"{path}: no such file")


@dataclass
class OpcUaStats:
    notifications: int = 0
    without_value: int = 0  # a status without a value (OPC UA's Bad ones): the point's quality, no observation
    connections: int = 0
    lost: int = 0
    refused_nodes: dict[str, str] = field(default_factory=dict)  # node id → status name


def read_mapping_file(path: Path) -> tuple[str | None, list[NodeMapping]]:
    """The guide's `mappings: {"ns=2;s=Spindle.RPM": point-id}` (and an optional `endpoint:`)."""
    endpoint, mappings = sensors.read_mapping_file(path)
    nodes = [NodeMapping(canonical_node_id(m.source, f"{path}"), m.point, m.unit) for m in mappings]
    return endpoint, nodes


async def mappings_from_graph(store: GraphStore) -> list[NodeMapping]:
    """Points whose registry entry names an OPC UA node (`opcua:`)."""
    rows = await store.execute("sensors/source_names")
    return [NodeMapping(canonical_node_id(r["opcua"], r["uid"]), r["uid"]) for r in rows if r["opcua"]]


def canonical_node_id(text: str, where: str) -> str:
    try:
        return str(ua.NodeId.from_string(text).to_string())
    except (ValueError, ua.UaError):
        raise ConfigError(f"{where}: {text!r} is not an OPC UA node id such as ns=2;s=Spindle.RPM") from None


def quality_of(status: ua.StatusCode | None) -> str:
    """good | uncertain:<code name> | bad:<code name> (plain Good is `good`, as for other sources)."""
    if status is None or status.value == 0:
        return "good"
    severity = "good" if status.is_good() else "uncertain" if status.is_uncertain() else "bad"
    return f"{severity}:{status.name}"


def _epoch_ms(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # OPC UA times are UTC
    return int(moment.timestamp() * 1000)


class _Collector:
    """The subscription's handler: keeps notifications until the next flush (cheap, in arrival order)."""

    def __init__(self) -> None:
        self.buffer: list[tuple[ua.NodeId, ua.DataValue]] = []

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.buffer.append((node.nodeid, data.monitored_item.Value))

    def status_change_notification(self, status: Any) -> None:
        log.info("OPC UA subscription status: %s", status)


class OpcUaIngest:
    """One client session's worth of state: the mapping, the buffer, the flushing into the pipeline."""

    def __init__(self, pipeline: Pipeline, settings: OpcUaSettings, mappings: Iterable[NodeMapping]) -> None:
        self.pipeline, self.settings = pipeline, settings
        self.by_node = {ua.NodeId.from_string(m.node_id): m for m in mappings}
        if not self.by_node:
            raise ConfigError("no OPC UA node is mapped to a point (registry `opcua:` fields or a mapping file)")
        self.collector = _Collector()
        self.stats = OpcUaStats()
        self._flushing = asyncio.Lock()
        self._marking: asyncio.Task[None] | None = None

    async def flush(self) -> None:
        async with self._flushing:  # a stale mark waits for what arrived before it
            taken, self.collector.buffer = self.collector.buffer, []
            readings, statuses = [], []
            for node_id, value in taken:
                mapping = self.by_node.get(node_id)
                if mapping is None or (value.StatusCode and value.StatusCode.value == _WAITING):
                    continue  # waiting for initial data: the server has nothing yet
                self.stats.notifications += 1
                stamp = _epoch_ms(value.SourceTimestamp) or _epoch_ms(value.ServerTimestamp)
                quality = quality_of(value.StatusCode)
                number = value.Value.Value if value.Value is not None else None
                if number is not None:
                    readings.append(Reading(mapping.point, number, mapping.unit, stamp, quality))
                else:  # OPC UA sends Bad statuses without a value: no observation, but the point's quality
                    info = self.pipeline.registry.points.get(mapping.point)
                    if info is not None:
                        self.stats.without_value += 1
                        statuses.append({"point": info.uid, "ts": stamp or now_ms(), "quality": quality})
            if readings:
                await self.pipeline.submit_readings("opcua", self.settings.endpoint, readings)
            if statuses:
                await self.pipeline.write_after_queued("ingest/point_status", {"rows": statuses})

    async def run(self, stop: asyncio.Event | None = None, connected: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        client = await _client(self.settings)
        client.connection_lost_callback = self.connection_lost
        await _connect(client, self.settings, stop)
        try:
            if stop.is_set():
                return
            self.stats.connections += 1
            await self._subscribe(client)
            if connected:
                connected.set()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.flush_interval_s)
                await self.flush()
            await self.flush()
        finally:
            if self._marking is not None:
                self._marking.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5)

    async def _subscribe(self, client: Client) -> None:
        """One subscription for every mapped node; asyncua re-creates it on the server after a reconnect."""
        subscription = await client.create_subscription(self.settings.publishing_interval_ms, self.collector)
        nodes = list(self.by_node)
        results = await subscription.create_monitored_items(_monitored_items(nodes, self.settings.queue_size))
        for node_id, result in zip(nodes, results, strict=True):
            if isinstance(result, ua.StatusCode):  # a node the server does not have, say
                self.stats.refused_nodes[node_id.to_string()] = result.name
                log.warning("OPC UA node %s cannot be subscribed: %s", node_id.to_string(), result.name)
        if len(self.stats.refused_nodes) == len(nodes):
            refused = ", ".join(f"{n}: {s}" for n, s in list(self.stats.refused_nodes.items())[:5])
            raise OpcUaError(f"{self.settings.endpoint} refused every mapped node ({refused})")

    async def connection_lost(self, exc: Exception) -> None:
        """The server went away: its points are stale until their next reading (asyncua reconnects meanwhile)."""
        self.stats.lost += 1
        log.warning("OPC UA server %s went away (%s); reconnecting", self.settings.endpoint, exc)
        await self.flush()
        self._marking = asyncio.create_task(self._mark_stale())  # asyncua waits for us before reconnecting

    async def _mark_stale(self) -> None:
        async with self._flushing:  # readings after the reconnect are submitted after the mark
            points = {m.point for m in self.by_node.values()}
            uids = {self.pipeline.registry.points[p].uid for p in points if p in self.pipeline.registry.points}
            if uids:
                await self.pipeline.write_after_queued("ingest/mark_stale", {"points": sorted(uids)})


async def run_opcua(
    pipeline: Pipeline,
    settings: OpcUaSettings,
    mappings: Iterable[NodeMapping],
    stop: asyncio.Event | None = None,
    connected: asyncio.Event | None = None,
) -> OpcUaStats:
    """Subscribe until `stop` is set; a server that is not there yet, or goes away, is waited for."""
    ingest = OpcUaIngest(pipeline, settings, mappings)
    await ingest.run(stop, connected)
    return ingest.stats


def _monitored_items(node_ids: list[ua.NodeId], queue_size: int) -> list[ua.MonitoredItemCreateRequest]:
    # Every new source timestamp is a reading, even with the value unchanged: a stuck sensor is data too.
    trigger = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
    requests = []
    for handle, node_id in enumerate(node_ids, 1):
        parameters = ua.MonitoringParameters(
            ClientHandle=handle, SamplingInterval=0, QueueSize=queue_size, DiscardOldest=True, Filter=trigger
        )
        requests.append(
            ua.MonitoredItemCreateRequest(
                ItemToMonitor=ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value),
                MonitoringMode=ua.MonitoringMode.Reporting,
                RequestedParameters=parameters,
            )
        )
    return requests


async def _client(settings: OpcUaSettings) -> Client:
    client = Client(
        settings.endpoint, timeout=4, auto_reconnect=True, reconnect_max_delay=settings.reconnect_max_delay_s
    )
    client.strip_url_credentials = True
    if settings.security:
        assert settings.certificate
        try:
            certificate = await uacrypto.load_certificate(str(settings.certificate))
        except ValueError:
            raise OpcUaError(f"{settings.certificate}: not an X.509 certificate (DER or PEM)") from None
        # The server checks that our application URI is the one our certificate names.
        uris = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = uris.get_values_for_type(x509.UniformResourceIdentifier)
        if names:
            client.application_uri = names[0]
    if settings.username:
        client.set_user(settings.username)
        client.set_password(settings.password or "")
    return client


async def _connect(client: Client, settings: OpcUaSettings, stop: asyncio.Event) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            if settings.security:
                await _secure(client, settings)
            await client.connect()
            log.info("connected to %s", settings.endpoint)
            return
        except ua.UaStatusCodeError as exc:
            if exc.code in _REFUSALS:
                raise OpcUaError(
                    f"{settings.endpoint} refused the connection: {ua.StatusCode(exc.code).name}"
                ) from None
            problem: Exception = exc
        except ua.UaError as exc:
            if "No matching endpoints" in str(exc):
                offered = settings.security or "None,None"
                raise OpcUaError(
                    f"{settings.endpoint} offers no endpoint with security {offered}"
                    " (see --security, --certificate, --private-key)"
                ) from None
            raise OpcUaError(f"{settings.endpoint}: {exc}") from None
        except (OSError, TimeoutError, ConnectionError) as exc:
            problem = exc
        log.warning("OPC UA server %s unavailable (%s); retrying in %.1f s", settings.endpoint, problem, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, settings.reconnect_max_delay_s)


async def _secure(client: Client, settings: OpcUaSettings) -> None:
    """Security settings; without a pinned server certificate this asks the server for its own."""
    policy, _, mode = (settings.security or "").partition(",")
    try:
        await client.set_security(
            POLICIES[policy],
            str(settings.certificate),
            str(settings.private_key),
            server_certificate=str(settings.server_certificate) if settings.server_certificate else None,
            mode=MODES[mode],
        )
    except ValueError as exc:  # cryptography on a key or certificate it cannot read
        files = " or ".join(str(f) for f in (settings.private_key, settings.server_certificate) if f)
        raise OpcUaError(f"{files}: cannot be read as a key or certificate ({exc})") from None


# --- serving points (the simulator's transport, and a server for tests) -------------------------------


@dataclass(frozen=True)
class ServerSecurity:
    certificate: Path
    private_key: Path
    modes: tuple[str, ...] = ("Basic256Sha256,SignAndEncrypt",)
    allow_none: bool = False  # also offer the unsecured endpoint


APPLICATION_URI = "urn:kgtwin:simulator"  # what a server certificate for the simulator names


class PointServer:
    """An OPC UA server with one Double variable per node id, written with source timestamps."""

    def __init__(
        self,
        endpoint: str,
        node_ids: Iterable[str],
        security: ServerSecurity | None = None,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.node_ids = [canonical_node_id(n, "server") for n in node_ids]
        self.security, self.users = security, dict(users or {})
        self.server: Server | None = None
        self.variables: dict[str, ua.NodeId] = {}

    async def start(self) -> PointServer:
        manager = _Users(self.users) if self.users else None
        server = Server(user_manager=manager)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("kgtwin simulator")
        await server.set_application_uri(APPLICATION_URI)
        if self.security:
            await server.load_certificate(str(self.security.certificate))
            await server.load_private_key(str(self.security.private_key))
            policies = [getattr(ua.SecurityPolicyType, m.replace(",", "_")) for m in self.security.modes]
            if self.security.allow_none:
                policies.append(ua.SecurityPolicyType.NoSecurity)
            server.set_security_policy(policies)
        if self.users:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        needed = max((ua.NodeId.from_string(n).NamespaceIndex for n in self.node_ids), default=2)
        index = await server.register_namespace("urn:kgtwin:simulator")
        while index < needed:  # node ids may name namespaces beyond the first one registered
            index = await server.register_namespace(f"urn:kgtwin:simulator:{index + 1}")
        folder = await server.nodes.objects.add_folder(2, "Points")
        for node_id in self.node_ids:
            parsed = ua.NodeId.from_string(node_id)
            name = str(parsed.Identifier)
            variable = await folder.add_variable(
                parsed, ua.QualifiedName(name, parsed.NamespaceIndex), 0.0, varianttype=ua.VariantType.Double
            )
            self.variables[node_id] = variable.nodeid
            await server.write_attribute_value(variable.nodeid, ua.DataValue(ua.Variant(), ua.StatusCode(_WAITING)))
        await server.start()
        self.server = server
        return self

    async def write(
        self, node_id: str, value: float | None, ts_ms: int | None, status: int = ua.StatusCodes.Good
    ) -> None:
        assert self.server is not None
        if node_id not in self.variables:
            node_id = canonical_node_id(node_id, "write")
        source = dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC) if ts_ms is not None else None
        variant = ua.Variant(value, ua.VariantType.Double) if value is not None else ua.Variant()
        data = ua.DataValue(
            variant, ua.StatusCode(status), SourceTimestamp=source, ServerTimestamp=dt.datetime.now(dt.UTC)
        )
        await self.server.write_attribute_value(self.variables[node_id], data)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def __aenter__(self) -> PointServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class _Users:
    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = users

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


async def serve_readings(batches: AsyncIterator[list[Reading]], server: PointServer, nodes: Mapping[str, str]) -> int:
    """Write each reading to its point's node with its time as the source timestamp; returns how many."""
    served = 0
    async for batch in batches:
        for reading in batch:
            await server.write(nodes[reading.point], float(reading.value), int(reading.timestamp))
        served += len(batch)
    return served
