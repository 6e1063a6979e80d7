"""`kgtwin simulate`: realistic readings for a loaded model's points over MQTT (JSON or Sparkplug B) or from
an OPC UA server, with planted faults whose plan it prints first."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from kgtwin.cli.common import Format, app, duration_ms, err, out, print_rows, run_with_store, settings_of
from kgtwin.errors import ConfigError


class Transport(StrEnum):
    mqtt = "mqtt"
    opcua = "opcua"


class SimFormat(StrEnum):
    json = "json"
    sparkplug = "sparkplug"


def _offset_ms(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    return 0 if text.strip() in ("0", "0s") else duration_ms(text, option)


@app.command("simulate")
def simulate(
    ctx: typer.Context,
    transport: Annotated[Transport, typer.Option(help="mqtt (publish) or opcua (serve).")] = Transport.mqtt,
    payload_format: Annotated[SimFormat, typer.Option("--format", help="Over MQTT: json or sparkplug (B).")] = (
        SimFormat.json
    ),
    model: Annotated[str | None, typer.Option(help="The model whose points to simulate (default: all).")] = None,
    points: Annotated[int | None, typer.Option(min=1, help="At most this many points.")] = None,
    point_class: Annotated[
        list[str] | None, typer.Option("--class", help="Only points of this Brick class (and subclasses).")
    ] = None,
    interval: Annotated[str | None, typer.Option(help="Simulated time between a point's readings.")] = None,
    rate: Annotated[float | None, typer.Option(help="Readings per simulated second, all points together.")] = None,
    since: Annotated[str | None, typer.Option(help="Start this long ago (backfill), e.g. 1d.")] = None,
    duration: Annotated[str | None, typer.Option(help="Simulated time to cover (default: until stopped).")] = None,
    speed: Annotated[str, typer.Option(help="Simulated seconds per second, or max.")] = "1",
    seed: Annotated[int, typer.Option(help="Same seed, same readings and faults.")] = 1,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="KIND[:POINT][@START[+LENGTH]]: spike, drift, stuck, dropout, out-of-range; repeatable."),
    ] = None,
    faults: Annotated[int, typer.Option(min=0, help="This many more faults, placed at random (seeded).")] = 0,
    plan: Annotated[Path | None, typer.Option(help="Also write the fault plan here (JSON).")] = None,
    write_mapping: Annotated[
        Path | None, typer.Option(help="Write the names published under (for ingest --mapping).")
    ] = None,
    utc_offset: Annotated[float, typer.Option(help="Hours from UTC of the building's local time.")] = 0.0,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    topic: Annotated[str, typer.Option(help="MQTT topic of the JSON readings.")] = "kgtwin/observations/sim",
    qos: Annotated[int | None, typer.Option(min=0, max=1, help="MQTT QoS (default: 1 for JSON, 0 for Sparkplug).")] = (
        None
    ),
    group: Annotated[str | None, typer.Option(help="Sparkplug group id (default: the model, else kgtwin).")] = None,
    edge_node: Annotated[str, typer.Option(help="Sparkplug edge node id.")] = "kgtwin-sim",
    endpoint: Annotated[
        str, typer.Option(help="Where the OPC UA server listens.")
    ] = "opc.tcp://127.0.0.1:4840/kgtwin/",
    certificate: Annotated[Path | None, typer.Option(help="OPC UA: the server's certificate (enables security).")] = (
        None
    ),
    private_key: Annotated[Path | None, typer.Option(help="OPC UA: the server's private key.")] = None,
    user: Annotated[
        str | None, typer.Option(help="OPC UA: require this user; the password is read from KGTWIN_OPCUA_PASSWORD.")
    ] = None,
) -> None:
    """Publish realistic readings for a model's points, with planted faults (the plan is printed first)."""
    from kgtwin.ingest import simulate as sim
    from kgtwin.ingest.observations import now_ms
    from kgtwin.sources.sensors import write_mapping_file

    if interval and rate:
        raise ConfigError("give --interval or --rate, not both")
    pace_speed = sim.parse_speed(speed)
    start = now_ms() - (duration_ms(since, "--since") if since else 0)
    end = start + duration_ms(duration, "--duration") if duration else None
    interval_s = duration_ms(interval, "--interval") / 1000 if interval else None
    requested = []
    for text in fault or []:
        kind, point, at, length = sim.parse_fault(text)
        requested.append((kind, point, _offset_ms(at, "fault start"), _offset_ms(length, "fault length")))

    chosen = run_with_store(
        settings_of(ctx),
        lambda store: sim.load_points(store, model, limit=points, classes=point_class or (), interval_s=interval_s),
    )
    if rate:
        chosen = [sim.SimPoint(**{**p.__dict__, "interval_s": len(chosen) / rate}) for p in chosen]
    span = (end - start) if end else (now_ms() - start if since else sim.HOUR)
    planned = sim.plan_faults(chosen, requested, faults, start, span, seed)
    if planned:
        out.print(f"fault plan ({len(planned)}):")
        shown = ("kind", "point", "startIso", "endIso", "magnitude")
        print_rows([{k: f.as_row()[k] for k in shown} for f in planned], Format.table)
    if plan:
        plan.write_bytes(orjson.dumps([f.as_row() for f in planned], option=orjson.OPT_INDENT_2))
    simulator = sim.Simulator(chosen, start, seed=seed, faults=planned, utc_offset_h=utc_offset)
    batches = sim.paced(simulator, sim.Pace(pace_speed, end))
    what = _describe(transport, payload_format, host, port, topic, endpoint)
    err.print(f"simulating {len(chosen)} points from {_iso(start)} {'to ' + _iso(end) if end else 'on'} via {what}")

    if transport is Transport.opcua:
        from kgtwin.cli.ingest import quiet_asyncua
        from kgtwin.ingest.opcua import PointServer, ServerSecurity, serve_readings

        quiet_asyncua()
        nodes = sim.opcua_node_ids(chosen)
        if write_mapping:
            write_mapping_file(write_mapping, {node: key for key, node in nodes.items()}, endpoint)
        security = ServerSecurity(certificate, private_key) if certificate and private_key else None
        users = {user: os.environ.get("KGTWIN_OPCUA_PASSWORD", "")} if user else None

        async def serve() -> int:
            async with PointServer(endpoint, nodes.values(), security=security, users=users) as server:
                return await serve_readings(batches, server, nodes)

        sent = asyncio.run(serve())
    elif payload_format is SimFormat.sparkplug:
        from kgtwin.ingest.sparkplug import DataType, publish_as_edge_nodes

        paths = sim.sparkplug_paths(chosen, group or model or "kgtwin", edge_node)
        if write_mapping:
            write_mapping_file(write_mapping, {path: key for key, path in paths.items()})
        datatypes = {p.key: DataType.Boolean if p.kind == "occupancy" else DataType.Double for p in chosen}
        units = {p.key: p.unit for p in chosen}
        sent = asyncio.run(
            publish_as_edge_nodes(
                batches,
                paths,
                datatypes,
                units,
                host,
                port,
                qos=0 if qos is None else qos,
                username=os.environ.get("KGTWIN_MQTT_USER"),
                password=os.environ.get("KGTWIN_MQTT_PASSWORD"),
            )
        )
    else:
        from kgtwin.ingest.mqtt import publish_json

        sent = asyncio.run(
            publish_json(
                batches,
                host,
                port,
                topic,
                qos=1 if qos is None else qos,
                username=os.environ.get("KGTWIN_MQTT_USER"),
                password=os.environ.get("KGTWIN_MQTT_PASSWORD"),
            )
        )
    out.print(f"{sent} readings for {len(chosen)} points sent")


def _describe(transport: Transport, payload_format: SimFormat, host: str, port: int, topic: str, endpoint: str) -> str:
    if transport is Transport.opcua:
        return f"an OPC UA server at {endpoint}"
    if payload_format is SimFormat.sparkplug:
        return f"Sparkplug B to mqtt://{host}:{port}"
    return f"mqtt://{host}:{port}/{topic}"


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")
