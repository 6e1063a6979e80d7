"""`kgtwin ingest`, `history`, `compact` and `deadletter`: observations from the field and what became of them."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

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
from kgtwin.errors import ConfigError
from kgtwin.store import GraphStore

ingest_app = typer.Typer(no_args_is_help=True, help="Keep the twin live: observations from the field.")
deadletter_app = typer.Typer(no_args_is_help=True, help="Rejected messages, with their reasons.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(deadletter_app, name="deadletter")


@ingest_app.command("mqtt")
def ingest_mqtt(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    topic: Annotated[list[str], typer.Option(help="Topic filter; repeatable.")] = ["kgtwin/observations/#"],  # noqa: B006
    share_group: Annotated[str | None, typer.Option(help="Split the stream with other workers of this group.")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id (the broker keeps its session).")] = "kgtwin-ingest",
    raw_retention: Annotated[
        str | None, typer.Option(help="Roll up raw observations older than this (e.g. 7d).")
    ] = None,
    detect: Annotated[
        bool, typer.Option("--detect/--no-detect", help="Check observations for anomalies and conditions.")
    ] = True,
    detectors: Annotated[
        Path | None, typer.Option(help="Detector settings (YAML); default KGTWIN_DETECTORS or built-in.")
    ] = None,
) -> None:
    """Consume observations from MQTT (JSON objects or arrays) until interrupted."""
    import os

    from kgtwin.analytics.anomalies.config import load_config
    from kgtwin.analytics.anomalies.monitor import monitoring
    from kgtwin.events import EventLog
    from kgtwin.ingest.mqtt import MqttSettings, run_mqtt
    from kgtwin.ingest.observations import Registry
    from kgtwin.ingest.pipeline import IngestSettings, Pipeline

    settings = settings_of(ctx)
    mqtt = MqttSettings(
        host=host,
        port=port,
        topics=tuple(topic),
        share_group=share_group,
        client_id=client_id,
        username=os.environ.get("KGTWIN_MQTT_USER"),
        password=os.environ.get("KGTWIN_MQTT_PASSWORD"),
    )
    deadletters = deadletter_store(settings)

    retention_ms = duration_ms(raw_retention, "--raw-retention") if raw_retention else None
    detection = load_config(detectors) if detect else None  # bad settings fail here

    async def work(store: GraphStore) -> None:
        from kgtwin.ingest.observations import now_ms
        from kgtwin.ingest.retention import compact

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
            if detection is not None:  # anomaly detection in a task of its own, never holding up writes
                await beside.enter_async_context(monitoring(store, pipeline, detection, EventLog(store)))
            err.print(f"ingesting from mqtt://{host}:{port} {', '.join(topic)} for {len(registry.points)} point ids")
            try:
                await run_mqtt(pipeline, mqtt)
            finally:
                compactor.cancel()

    run_with_store(settings, work)


@app.command("history")
def history(
    ctx: typer.Context,
    point: Annotated[str, typer.Argument(help="Point id (the field's) or uid.")],
    since: Annotated[str, typer.Option("--from", help="Start: ISO 8601 or epoch ms.")],
    until: Annotated[str | None, typer.Option("--to", help="End (default: now).")] = None,
    every: Annotated[str | None, typer.Option(help="Downsample: an interval such as 5min, 1h.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """A point's observations over a time range, raw or as min/max/avg/count per interval."""
    from kgtwin.ingest.history import downsample, raw_series
    from kgtwin.ingest.observations import now_ms, parse_time

    start, end = parse_time(since, 0), parse_time(until, now_ms()) if until else now_ms()
    if not start or end is None or end <= start:
        raise ConfigError(f"--from {since!r} and --to {until!r} must be times with --from before --to")
    series = run_with_store(settings_of(ctx), lambda store: raw_series(store, point, start, end))
    if every is None:
        rows = [{"ts": int(t), "value": float(v)} for t, v in zip(series.ts, series.values, strict=True)]
    else:
        every_ms = duration_ms(every, "--every")
        d = downsample(series, every_ms)
        rows = [
            {"start": int(s), "count": int(c), "min": float(lo), "max": float(hi), "avg": float(a)}
            for s, c, lo, hi, a in zip(d.start, d.count, d.min, d.max, d.avg, strict=True)
        ]
    print_rows(rows, fmt)


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
    from kgtwin.ingest.observations import Registry
    from kgtwin.ingest.payloads import readings_from_json
    from kgtwin.ingest.pipeline import Pipeline

    settings = settings_of(ctx)
    letters_store = deadletter_store(settings)

    async def work(store: GraphStore) -> tuple[int, int]:
        registry = await Registry.load(store)
        replayed = still = 0
        async with Pipeline(store, registry, letters_store) as pipeline:
            for letter in letters_store.iter_all(ids):
                outcome = await pipeline.submit(
                    "replay",
                    letter.topic,
                    letter.payload,
                    lambda raw, t=letter.topic: readings_from_json(raw, t.rsplit("/", 1)[-1]),
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
