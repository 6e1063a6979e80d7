"""MQTT ingestion with aiomqtt: QoS 1 messages are acknowledged only once their observations are
durable in the graph, in the order they arrived; a persistent MQTT 5 session keeps what arrives
while the worker is away; `$share/<group>/` subscriptions split one stream over several workers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kgtwin.errors import ConfigError
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.pipeline import Pipeline

log = logging.getLogger("kgtwin.ingest.mqtt")


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    topics: tuple[str, ...] = ("kgtwin/observations/#",)
    share_group: str | None = None  # several workers with one group split the stream
    client_id: str = "kgtwin-ingest"
    username: str | None = None
    password: str | None = None
    session_expiry_s: int = 24 * 3600  # the broker keeps our messages this long while we are away

    @classmethod
    def from_url(cls, url: str, client_id: str = "kgtwin-service") -> MqttSettings:
        """mqtt://[user:password@]host[:port][/topic-filter] (KGTWIN_MQTT)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ConfigError(f"{url!r} is not mqtt://host:port[/topic-filter]")
        topic = unquote(parts.path.lstrip("/")) or "kgtwin/observations/#"
        return cls(
            host=parts.hostname,
            port=parts.port or 1883,
            topics=(topic,),
            client_id=client_id,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


async def run_mqtt(
    pipeline: Pipeline,
    settings: MqttSettings,
    stop: asyncio.Event | None = None,
    connected: asyncio.Event | None = None,
) -> None:
    """Consume until `stop` is set, reconnecting with backoff when the broker goes away."""
    stop = stop or asyncio.Event()
    backoff = 0.5
    while not stop.is_set():
        try:
            await _session(pipeline, settings, stop, connected)
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
    pipeline: Pipeline, settings: MqttSettings, stop: asyncio.Event, connected: asyncio.Event | None
) -> None:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.session_expiry_s
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
    ) as client:
        # aiomqtt has no switch for this yet (empicano/aiomqtt#345); paho's own manual acks are the
        # documented way to send PUBACK after processing instead of on receipt.
        client._client.manual_ack_set(True)
        for topic in settings.topics:
            await client.subscribe(f"$share/{settings.share_group}/{topic}" if settings.share_group else topic, qos=1)
        if connected:
            connected.set()
        pending: collections.deque[tuple[aiomqtt.Message, asyncio.Future[None] | None]] = collections.deque()
        wake = asyncio.Event()
        acker = asyncio.create_task(_acknowledge_in_order(client, pending, wake))
        stopper = asyncio.create_task(stop.wait())
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
                topic = str(message.topic)
                outcome = await pipeline.submit(
                    "mqtt", topic, payload, lambda raw, t=topic: readings_from_json(raw, t.rsplit("/", 1)[-1])
                )
                pending.append((message, outcome.durable))
                wake.set()
            while pending and not stop.is_set():  # stopping: let what is queued become durable and acked
                await asyncio.sleep(0.05)
        finally:
            stopper.cancel()
            acker.cancel()
            await asyncio.gather(acker, stopper, return_exceptions=True)


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
