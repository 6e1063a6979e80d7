"""`kgtwin ingest`, `history`, `compact` and `deadletter`: observations from the field and what became of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgtwin.cli.common import (
    Format,
    app,
    deadletter_store,
    duration_ms,
    err,
    out,
    print_rows,
    run_with_store,
    settings_of,
)
from kgtwin.config import Settings
from kgtwin.errors import ConfigError
from kgtwin.store import GraphStore

if TYPE_CHECKING:
    from kgtwin.ingest.pipeline import Pipeline

ingest_app = typer.Typer(no_args_is_help=True, help="Keep the twin live: observations from the field.")
deadletter_app = typer.Typer(no_args_is_help=True, help="Rejected messages, with their reasons.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(deadletter_app, name="deadletter")


class PayloadFormat(StrEnum):
    auto = "auto"
    json = "json"
    sparkplug = "sparkplug"


def quiet_asyncua() -> None:
    # asyncua logs every failed reconnect attempt with a traceback; kgtwin says once, in one line, what happened.
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)


def _run_ingest(
    settings: Settings,
    raw_retention: str | None,
    detection: Detection,
    what: str,
    connector: Callable[[Pipeline], Awaitable[object]],
) -> None:
    """Registry, pipeline, anomaly detection and (with --raw-retention) retention around one connector,
    until interrupted."""
    from kgtwin.analytics.anomalies.config import load_config
    from kgtwin.analytics.anomalies.monitor import monitoring
    from kgtwin.events import EventLog
    from kgtwin.ingest.observations import Registry, now_ms
    from kgtwin.ingest.pipeline import IngestSettings, Pipeline
    from kgtwin.ingest.retention import compact

    retention_ms = duration_ms(raw_retention, "--raw-retention") if raw_retention else None
    detect, detectors = detection
    detector_settings = load_config(detectors) if detect else None  # bad settings fail here, before connecting
    deadletters = deadletter_store(settings)

    async def work(store: GraphStore) -> None:
        registry = await Registry.load(store)

        async def keep_compacting() -> None:
            while retention_ms:
                await compact(store, now_ms() - retention_ms, 60_000)
                await asyncio.sleep(600)

        compactor = asyncio.create_task(keep_compacting())
        async with (
            Pipeline(store, registry, deadletters, IngestSettings(raw_retention_ms=retention_ms)) as pipeline,
            contextlib.AsyncExitStack() as beside,
        ):
            if detector_settings is not None:  # anomaly detection in a task of its own, never holding up writes
                await beside.enter_async_context(monitoring(store, pipeline, detector_settings, EventLog(store)))
            err.print(f"ingesting from {what} for {len(registry.points)} point ids")
            try:
                await connector(pipeline)
            finally:
                compactor.cancel()

    run_with_store(settings, work)


RawRetention = Annotated[str | None, typer.Option(help="Roll up raw observations older than this (e.g. 7d).")]
Detect = Annotated[bool, typer.Option("--detect/--no-detect", help="Check observations for anomalies and conditions.")]
Detectors = Annotated[Path | None, typer.Option(help="Detector settings (YAML); default KGTWIN_DETECTORS or built-in.")]
Detection = tuple[bool, Path | None]


@ingest_app.command("mqtt")
def ingest_mqtt(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    topic: Annotated[
        list[str] | None,
        typer.Option(help="Topic filter; repeatable (default: kgtwin/observations/# and/or spBv1.0/#)."),
    ] = None,
    payload_format: Annotated[
        PayloadFormat,
        typer.Option("--format", help="json, sparkplug (B), or auto: Sparkplug B on spBv1.0/ topics, JSON elsewhere."),
    ] = PayloadFormat.auto,
    share_group: Annotated[str | None, typer.Option(help="Split the stream with other workers of this group.")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id (the broker keeps its session).")] = "kgtwin-ingest",
    host_id: Annotated[
        str | None, typer.Option(help="Sparkplug host application id: publish spBv1.0/STATE/<id> online/offline.")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML: mappings: {Sparkplug metric path: point id} (besides registry sparkplug:)."),
    ] = None,
    raw_retention: RawRetention = None,
    detect: Detect = True,
    detectors: Detectors = None,
) -> None:
    """Consume observations from MQTT (JSON objects or arrays, Sparkplug B) until interrupted."""
    import os

    from kgtwin.ingest.mqtt import MqttSettings, run_mqtt
    from kgtwin.ingest.sparkplug import SparkplugHost, point_names
    from kgtwin.sources.sensors import read_mapping_file

    mqtt = MqttSettings(
        host=host,
        port=port,
        topics=tuple(topic or ()),
        share_group=share_group,
        client_id=client_id,
        username=os.environ.get("KGTWIN_MQTT_USER"),
        password=os.environ.get("KGTWIN_MQTT_PASSWORD"),
        payload_format=payload_format.value,
        host_id=host_id,
    )
    mapped = read_mapping_file(mapping)[1] if mapping else []

    async def connect(pipeline: Pipeline) -> None:
        names = await point_names(pipeline.store, pipeline.registry, mapped)
        await run_mqtt(pipeline, mqtt, host=SparkplugHost(names) if mqtt.payload_format != "json" else None)

    where = f"mqtt://{host}:{port} {', '.join(mqtt.filters)}"
    _run_ingest(settings_of(ctx), raw_retention, (detect, detectors), where, connect)


@ingest_app.command("opcua")
def ingest_opcua(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None, typer.Option(help="opc.tcp://host:port/path (or the mapping file's endpoint:).")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help='YAML: mappings: {"ns=2;s=Spindle.RPM": point-id} (besides registry opcua:).')
    ] = None,
    security: Annotated[str | None, typer.Option(help="Basic256Sha256,Sign or Basic256Sha256,SignAndEncrypt.")] = None,
    certificate: Annotated[Path | None, typer.Option(help="The client's certificate (DER or PEM).")] = None,
    private_key: Annotated[Path | None, typer.Option(help="The client's private key (PEM).")] = None,
    server_certificate: Annotated[
        Path | None, typer.Option(help="Pin the server's certificate (default: the one its endpoint presents).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="User name; the password is read from KGTWIN_OPCUA_PASSWORD.")
    ] = None,
    publishing_interval: Annotated[str, typer.Option(help="How often the server sends what changed.")] = "100ms",
    raw_retention: RawRetention = None,
    detect: Detect = True,
    detectors: Detectors = None,
) -> None:
    """Subscribe to OPC UA nodes mapped to points until interrupted; reconnects when the server goes away."""
    import os

    from kgtwin.ingest.opcua import NodeMapping, OpcUaSettings, mappings_from_graph, read_mapping_file, run_opcua

    from_file: list[NodeMapping] = []
    if mapping is not None:
        file_endpoint, from_file = read_mapping_file(mapping)
        endpoint = endpoint or file_endpoint
    if not endpoint:
        raise ConfigError("give --endpoint opc.tcp://host:port (or endpoint: in the mapping file)")
    opcua = OpcUaSettings(
        endpoint,
        security=security,
        certificate=certificate,
        private_key=private_key,
        server_certificate=server_certificate,
        username=user,
        password=os.environ.get("KGTWIN_OPCUA_PASSWORD"),
        publishing_interval_ms=duration_ms(publishing_interval, "--publishing-interval"),
    )

    async def connect(pipeline: Pipeline) -> None:
        mappings = await mappings_from_graph(pipeline.store) + from_file
        err.print(f"subscribing to {len(mappings)} OPC UA nodes")
        await run_opcua(pipeline, opcua, mappings)

    quiet_asyncua()
    _run_ingest(settings_of(ctx), raw_retention, (detect, detectors), endpoint, connect)


def _time_range(since: str, until: str | None) -> tuple[int, int]:
    from kgtwin.ingest.observations import now_ms, parse_time

    start, end = parse_time(since, 0), parse_time(until, now_ms()) if until else now_ms()
    if not start or end is None or end <= start:
        raise ConfigError(f"--from {since!r} and --to {until!r} must be times with --from before --to")
    return start, end


@app.command("history")
def history(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A point (field id or uid), or an element or space (uid or GlobalId).")],
    since: Annotated[str, typer.Option("--from", help="Start: ISO 8601 or epoch ms.")],
    until: Annotated[str | None, typer.Option("--to", help="End (default: now).")] = None,
    every: Annotated[str | None, typer.Option(help="Downsample: an interval such as 5min, 1h.")] = None,
    model: Annotated[str | None, typer.Option(help="The model a GlobalId is in, when several have it.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """A point's observations over a time range, or an element's (each bound point's, per property), raw or
    as min/max/avg/count per interval."""
    from kgtwin.ingest.history import BoundSeries, downsample, element_series, find_point, raw_series

    start, end = _time_range(since, until)
    every_ms = duration_ms(every, "--every") if every else None

    async def read(store: GraphStore) -> list[BoundSeries]:
        point = await find_point(store, source)
        if point is None:
            return await element_series(store, source, start, end, model)
        series = await raw_series(store, point["uid"], start, end)
        return [BoundSeries(point["uid"], None, point["uid"], point["pointId"], point["unit"], series)]

    found = run_with_store(settings_of(ctx), read)
    element = len(found) > 1 or found[0].property is not None
    rows = []
    for bound in found:
        label = {"property": bound.property, "point": bound.point_id or bound.point} if element else {}
        s = bound.series
        if every_ms is None:
            rows += [{**label, "ts": int(t), "value": float(v)} for t, v in zip(s.ts, s.values, strict=True)]
            continue
        d = downsample(s, every_ms)
        rows += [
            {**label, "start": int(t), "count": int(c), "min": float(lo), "max": float(hi), "avg": float(a)}
            for t, c, lo, hi, a in zip(d.start, d.count, d.min, d.max, d.avg, strict=True)
        ]
    print_rows(rows, fmt)


@app.command("replay")
def replay(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(help="Points (id or uid), elements or spaces (uid or GlobalId).")],
    since: Annotated[str, typer.Option("--from", help="Start of the recorded range: ISO 8601 or epoch ms.")],
    until: Annotated[str | None, typer.Option("--to", help="End of the range (default: now).")] = None,
    speed: Annotated[str, typer.Option(help="N for N× the recorded pace, or max.")] = "1",
    onto: Annotated[
        list[str] | None, typer.Option("--as", help="Replay onto other points: SRC=DST, model:OTHER, or DST.")
    ] = None,
    retime: Annotated[bool, typer.Option(help="Stamp readings with the time they are replayed at.")] = False,
    model: Annotated[str | None, typer.Option(help="The model a GlobalId is in, when several have it.")] = None,
    mqtt_topic: Annotated[
        str | None, typer.Option(help="Publish the readings (JSON) to this MQTT topic instead of ingesting them.")
    ] = None,
    host: Annotated[str, typer.Option(help="MQTT broker host (with --mqtt-topic).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port (with --mqtt-topic).")] = 1883,
) -> None:
    """Replay a recorded range at N× speed: through the pipeline (onto the same points, which stores nothing
    twice, or other ones with --as), or to an MQTT topic."""
    from kgtwin.ingest.observations import Registry
    from kgtwin.ingest.pipeline import Pipeline
    from kgtwin.ingest.replay import check_targets, paced_replay, recorded, replay_into, targets
    from kgtwin.ingest.simulate import parse_speed

    start, end = _time_range(since, until)
    pace = parse_speed(speed)
    settings = settings_of(ctx)

    async def work(store: GraphStore) -> tuple[int, int, int]:
        recordings = await recorded(store, sources, start, end, model)
        mapping = targets([r.point for r in recordings], onto or [])
        batches = paced_replay(recordings, pace, mapping, retime=retime)
        if mqtt_topic:  # sensor_id is the point's uid, which an ingest reads as well as its field id
            from kgtwin.ingest.mqtt import publish_json

            sent = await publish_json(batches, host, port, mqtt_topic)
            return sent, sent, 0
        registry = await Registry.load(store)
        check_targets(registry, mapping)
        async with Pipeline(store, registry, deadletter_store(settings)) as pipeline:
            outcome = await replay_into(pipeline, batches)
        return outcome.sent, outcome.accepted, outcome.rejected

    sent, accepted, rejected = run_with_store(settings, work)
    where = f"to mqtt://{host}:{port}/{mqtt_topic}" if mqtt_topic else "through the pipeline"
    out.print(f"{sent} readings replayed {where}: {accepted} accepted, {rejected} rejected")


@app.command("compact")
def compact_command(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option(help="Roll up raw observations older than this (e.g. 7d).")],
    every: Annotated[str, typer.Option(help="Roll-up interval.")] = "1min",
) -> None:
    """Retention: turn old raw buckets into count/min/max/avg per interval."""
    from kgtwin.ingest.observations import now_ms
    from kgtwin.ingest.retention import compact

    before = now_ms() - duration_ms(older_than, "--older-than")
    every_ms = duration_ms(every, "--every")
    rolled = run_with_store(settings_of(ctx), lambda store: compact(store, before, every_ms))
    out.print(f"{rolled} buckets rolled up to {every} intervals")


@deadletter_app.command("list")
def deadletter_list(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Only letters whose reason contains this text.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """List rejected messages with their reasons, oldest first."""
    import datetime as dt

    store = deadletter_store(settings_of(ctx))
    rows = [
        {
            "id": d.id,
            "received": dt.datetime.fromtimestamp(d.received_at / 1000, dt.UTC).isoformat(timespec="seconds"),
            "source": d.source,
            "topic": d.topic,
            "reason": d.reason,
            "payload": d.payload[:200].decode(errors="replace"),
        }
        for d in store.list(reason, limit)
    ]
    print_rows(rows, fmt)


@deadletter_app.command("replay")
def deadletter_replay(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Letter ids (default: all).")] = None,
) -> None:
    """Send rejected messages through the pipeline again (after fixing the registry, say).

    Letters that now go through are removed; the others stay with their current reason.
    """
    from kgtwin.ingest.mqtt import letter_parser
    from kgtwin.ingest.observations import Registry
    from kgtwin.ingest.pipeline import Pipeline
    from kgtwin.ingest.sparkplug import SparkplugHost, point_names

    settings = settings_of(ctx)
    letters_store = deadletter_store(settings)

    async def work(store: GraphStore) -> tuple[int, int]:
        registry = await Registry.load(store)
        host = SparkplugHost(await point_names(store, registry))
        replayed = still = 0
        async with Pipeline(store, registry, letters_store) as pipeline:
            for letter in letters_store.iter_all(ids):
                outcome = await pipeline.submit(
                    "replay",
                    letter.topic,
                    letter.payload,
                    letter_parser(letter.topic, letter.payload, host),
                    record_rejections=False,
                )
                if outcome.durable is not None:
                    await outcome.durable
                if outcome.rejected:
                    still += 1
                else:
                    letters_store.remove(letter.id)
                    replayed += 1
        return replayed, still

    replayed, still = run_with_store(settings, work)
    out.print(f"{replayed} replayed into the graph, {still} still rejected")
