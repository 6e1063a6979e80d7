"""MQTT ingestion with aiomqtt: QoS 1 messages are acknowledged only once their observations are
durable in the graph, in the order they arrived; a persistent MQTT 5 session keeps what arrives
while the worker is away; `$share/<group>/` subscriptions split one stream over several workers.
Payloads are JSON readings, or Sparkplug B on `spBv1.0/…` topics."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kgtwin.errors import ConfigError
from kgtwin.ingest import sparkplug
from kgtwin.ingest.observations import Reading
from kgtwin.ingest.payloads import PayloadError, readings_from_json
from kgtwin.ingest.pipeline import Parser, Pipeline

log = logging.getLogger("kgtwin.ingest.mqtt")


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    topics: tuple[str, ...] = ()  # topic filters; none: those of the payload format (DEFAULT_TOPICS)
    share_group: str | None = None  # several workers with one group split the stream
    client_id: str = "kgtwin-ingest"
    username: str | None = None
    password: str | None = None
    session_expiry_s: int = 24 * 3600  # the broker keeps our messages this long while we are away
    payload_format: str = "auto"  # json | sparkplug | auto (Sparkplug B on spBv1.0/ topics, JSON elsewhere)
    host_id: str | None = None  # as a Sparkplug host application: publish spBv1.0/STATE/<host_id>

    @classmethod
    def from_url(cls, url: str, client_id: str = "kgtwin-service") -> MqttSettings:
        """mqtt://[user:password@]host[:port][/topic-filter] (KGTWIN_MQTT)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ConfigError(f"{url!r} is not mqtt://host:port[/topic-filter]")
        topic = unquote(parts.path.lstrip("/"))
        return cls(
            host=parts.hostname,
            port=parts.port or 1883,
            topics=(topic,) if topic else (),  # none: the defaults of the payload format
            client_id=client_id,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __post_init__(self) -> None:
        if self.payload_format not in ("json", "sparkplug", "auto"):
            raise ConfigError(f"payload format {self.payload_format!r} is not json, sparkplug or auto")
        if self.share_group and self.payload_format != "json" and any(self._sparkplug(t) for t in self.filters):
            # Sequence numbers and aliases are per edge node: split over workers, neither can be checked.
            raise ConfigError("Sparkplug B topics cannot be split over a shared subscription (--share-group)")

    @property
    def filters(self) -> tuple[str, ...]:
        if self.topics:
            return self.topics
        shared_json = self.share_group and self.payload_format == "auto"  # Sparkplug B cannot be shared
        return DEFAULT_TOPICS["json" if shared_json else self.payload_format]

    def _sparkplug(self, topic: str) -> bool:
        return self.payload_format == "sparkplug" or topic.startswith((f"{sparkplug.NAMESPACE}/", "#", "+"))


DEFAULT_TOPICS = {
    "json": ("kgtwin/observations/#",),
    "sparkplug": (f"{sparkplug.NAMESPACE}/#",),
    "auto": ("kgtwin/observations/#", f"{sparkplug.NAMESPACE}/#"),
}


async def run_mqtt(
    pipeline: Pipeline,
    settings: MqttSettings,
    stop: asyncio.Event | None = None,
    connected: asyncio.Event | None = None,
    host: sparkplug.SparkplugHost | None = None,
) -> None:
    """Consume until `stop` is set, reconnecting with backoff when the broker goes away."""
    stop = stop or asyncio.Event()
    if host is None and settings.payload_format != "json":
        host = sparkplug.SparkplugHost(await sparkplug.point_names(pipeline.store, pipeline.registry))
    backoff = 0.5
    while not stop.is_set():
        try:
            await _session(pipeline, settings, stop, connected, host)
            backoff = 0.5
        except aiomqtt.MqttError as exc:
            if connected:
                connected.clear()
            log.warning(
                "MQTT broker %s:%d unavailable (%s); reconnecting in %.1f s", settings.host, settings.port, exc, backoff
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 10.0)


async def _session(
    pipeline: Pipeline,
    settings: MqttSettings,
    stop: asyncio.Event,
    connected: asyncio.Event | None,
    host: sparkplug.SparkplugHost | None,
) -> None:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.session_expiry_s
    state_topic = f"{sparkplug.NAMESPACE}/STATE/{settings.host_id}"
    online = int(time.time() * 1000)  # Sparkplug 3: the will and the birth of one connection share a timestamp
    will = (
        aiomqtt.Will(state_topic, orjson.dumps({"online": False, "timestamp": online}), qos=1, retain=True)
        if settings.host_id
        else None
    )
    async with aiomqtt.Client(
        settings.host,
        settings.port,
        identifier=settings.client_id,
        username=settings.username,
        password=settings.password,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
        max_queued_incoming_messages=10_000,
        will=will,
    ) as client:
        # aiomqtt has no switch for this yet (empicano/aiomqtt#345); paho's own manual acks are the
        # documented way to send PUBACK after processing instead of on receipt.
        client._client.manual_ack_set(True)
        for topic in settings.filters:
            await client.subscribe(f"$share/{settings.share_group}/{topic}" if settings.share_group else topic, qos=1)
        if settings.host_id:
            state = orjson.dumps({"online": True, "timestamp": online})
            await client.publish(state_topic, state, qos=1, retain=True)
        if connected:
            connected.set()
        pending: collections.deque[tuple[aiomqtt.Message, asyncio.Future[None] | None]] = collections.deque()
        wake = asyncio.Event()
        acker = asyncio.create_task(_acknowledge_in_order(client, pending, wake))
        stopper = asyncio.create_task(stop.wait())
        receive: asyncio.Task[aiomqtt.Message] | None = None
        try:
            messages = aiomqtt_messages(client)
            while True:
                receive = asyncio.create_task(anext(messages))
                done, _ = await asyncio.wait({receive, stopper, acker}, return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    if acker in done:
                        acker.result()  # the connection broke while acknowledging
                    break
                message = receive.result()
                payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                durable = await _take(pipeline, settings, host, str(message.topic), payload)
                pending.append((message, durable))
                wake.set()
                for command_topic, command in host.take_commands() if host else ():
                    await client.publish(command_topic, command, qos=0)
            while pending and not stop.is_set():  # stopping: let what is queued become durable and acked
                await asyncio.sleep(0.05)
        finally:
            waiting = [t for t in (acker, stopper, receive) if t is not None]
            for task in waiting:  # interrupted too: none is left to fail unseen once the client disconnects
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)


def json_parser(topic: str) -> Parser:
    """JSON readings; the topic's last level names the point when the payload does not."""
    return lambda raw: readings_from_json(raw, topic.rsplit("/", 1)[-1])


def letter_parser(topic: str, payload: bytes, host: sparkplug.SparkplugHost) -> Parser:
    """How to read a dead letter again: a reading the pipeline rejected was kept as JSON; a whole Sparkplug B
    message as it came (its aliases cannot be known again, its named metrics can)."""
    spb = sparkplug.parse_topic(topic)
    if spb is None or payload[:1] in (b"{", b"["):
        return json_parser(topic)
    return lambda raw: host.decode(spb, raw)


async def _take(
    pipeline: Pipeline, settings: MqttSettings, host: sparkplug.SparkplugHost | None, topic: str, payload: bytes
) -> asyncio.Future[None] | None:
    """Hand one message to the pipeline; returns what its acknowledgement waits for."""
    as_sparkplug = host is not None and (
        settings.payload_format == "sparkplug" or topic.startswith(f"{sparkplug.NAMESPACE}/")
    )
    if not as_sparkplug:
        outcome = await pipeline.submit("mqtt", topic, payload, json_parser(topic))
        return outcome.durable
    assert host is not None
    spb = sparkplug.parse_topic(topic)
    if spb is None or spb.kind not in ("NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH"):
        return None  # host STATE, commands (our own rebirth requests among them): nothing to store
    if spb.kind.endswith("DEATH"):
        try:
            points = host.death(spb, payload)
        except PayloadError as exc:
            pipeline.deadletters.add("sparkplug", topic, str(exc), payload)
            return None
        if points:
            await pipeline.write_after_queued("ingest/mark_stale", {"points": sorted(points)})
        return None
    outcome = await pipeline.submit("sparkplug", topic, payload, lambda raw: host.decode(spb, raw))
    return outcome.durable


async def aiomqtt_messages(client: aiomqtt.Client):  # type: ignore[no-untyped-def]
    async for message in client.messages:
        yield message


async def _acknowledge_in_order(
    client: aiomqtt.Client,
    pending: collections.deque[tuple[aiomqtt.Message, asyncio.Future[None] | None]],
    wake: asyncio.Event,
) -> None:
    # MQTT wants PUBACKs in the order the PUBLISHes came; batches become durable in that order too.
    while True:
        while not pending:
            wake.clear()
            await wake.wait()
        message, durable = pending[0]
        if durable is not None:
            await durable
        pending.popleft()
        if message.qos > 0:
            client._client.ack(message.mid, message.qos)


async def publish_json(
    batches: AsyncIterator[list[Reading]],
    host: str,
    port: int,
    topic: str,
    *,
    qos: int = 1,
    max_readings: int = 5000,
    username: str | None = None,
    password: str | None = None,
) -> int:
    """Publish readings as JSON arrays (the batch form the ingest reads); a broker that goes away is waited
    for and the message it missed is sent again (duplicates are stored once). Returns how many were sent."""
    sent = 0
    async with _Publisher(host, port, username, password) as publisher:
        async for batch in batches:
            for first in range(0, len(batch), max_readings):
                chunk = batch[first : first + max_readings]
                payload = orjson.dumps(
                    [{"sensor_id": r.point, "value": r.value, "unit": r.unit, "timestamp": r.timestamp} for r in chunk]
                )
                await publisher.publish(topic, payload, qos)
                sent += len(chunk)
    return sent


class _Publisher:
    """One MQTT connection for publishing, re-established (with backoff) when the broker goes away."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None, **client: Any) -> None:
        self.options = dict(hostname=host, port=port, username=username, password=password, **client)
        self.client: aiomqtt.Client | None = None

    async def __aenter__(self) -> _Publisher:
        await self._connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self.client.__aexit__(None, None, None)

    async def _connect(self) -> None:
        delay = 0.2
        while True:
            self.client = aiomqtt.Client(**self.options)
            try:
                await self.client.__aenter__()
                return
            except aiomqtt.MqttError as exc:
                log.warning("MQTT broker unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        while True:
            assert self.client is not None
            try:
                await self.client.publish(topic, payload, qos=qos)
                return
            except aiomqtt.MqttError:
                await self._connect()
