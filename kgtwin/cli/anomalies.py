"""`kgtwin anomalies` and `kgtwin forecast`: backtest detectors on a recorded series, follow anomalies
through their workflow, forecast points and concrete maturity."""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from kgtwin.cli.common import Format, app, duration_ms, out, print_rows, run_with_store, settings_of
from kgtwin.errors import ConfigError

anomalies_app = typer.Typer(no_args_is_help=True, help="Anomalies: backtest the detectors, list, acknowledge, resolve.")
forecast_app = typer.Typer(no_args_is_help=True, help="Forecasts: a point's trend, concrete maturity.")
app.add_typer(anomalies_app, name="anomalies")
app.add_typer(forecast_app, name="forecast")

DetectorsOption = Annotated[
    Path | None, typer.Option("--detectors", help="Detector settings (YAML); default KGTWIN_DETECTORS or built-in.")
]


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _who(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


@anomalies_app.command("scan")
def scan_command(
    series: Annotated[Path, typer.Argument(help="CSV of timestamp,value (a header line is allowed).")],
    brick_class: Annotated[
        str | None, typer.Option("--class", help="Brick class of the point: its configuration applies.")
    ] = None,
    detectors: DetectorsOption = None,
    interval: Annotated[
        str | None, typer.Option(help="Expected interval (default: the median spacing of the readings).")
    ] = None,
    min_limit: Annotated[float | None, typer.Option("--min", help="Lower limit of the point.")] = None,
    max_limit: Annotated[float | None, typer.Option("--max", help="Upper limit of the point.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Run the configured detectors offline over a recorded series and print the anomalies they raise."""
    from kgtwin.analytics.anomalies.config import load_config
    from kgtwin.analytics.anomalies.scan import read_series, scan
    from kgtwin.model.brick import brick

    config = load_config(detectors)
    if brick_class is not None:
        brick().require(brick_class)
    ts, values = read_series(series)
    found = scan(
        ts,
        values,
        config,
        brick_class=brick_class,
        interval_ms=duration_ms(interval, "--interval") if interval else None,
        min_limit=min_limit,
        max_limit=max_limit,
    )
    rows = [
        {
            "start": iso(f.start),
            "end": iso(f.end),
            "kind": f.kind,
            "severity": f.severity,
            "detector": f.detector,
            "detected": iso(f.detected),
            "value": f.value,
            "message": f.message,
        }
        for f in found
    ]
    if fmt is Format.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if fmt is Format.table:  # the message says the value and why; the rest is in csv and json
        rows = [{k: r[k] for k in ("start", "end", "kind", "severity", "message")} for r in rows]
    print_rows(rows, fmt)
    if fmt is Format.table:
        out.print(f"{len(found)} anomalies in {ts.size} readings ({iso(int(ts[0]))} to {iso(int(ts[-1]))})")


@anomalies_app.command("list")
def list_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Only this model's anomalies.")] = None,
    state: Annotated[str | None, typer.Option(help="open, acknowledged or resolved.")] = None,
    point: Annotated[str | None, typer.Option(help="Only this point's (uid).")] = None,
    kind: Annotated[
        str | None, typer.Option(help="outlier, level_shift, drift, limit, rate, flatline, silence, condition.")
    ] = None,
    within: Annotated[str | None, typer.Option(help="Only those concerning this place or element (uid).")] = None,
    active: Annotated[bool | None, typer.Option("--active/--ended", help="Still out of line, or over.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Anomalies, newest first."""
    from kgtwin.analytics.anomalies.records import list_anomalies

    rows = run_with_store(
        settings_of(ctx),
        lambda store: list_anomalies(
            store, model=model, state=state, point=point, kind=kind, active=active, within=within, limit=limit
        ),
    )
    if fmt is not Format.json:
        rows = [{**r, "start": iso(r["start"]), "end": iso(r["end"]), "lastSeen": iso(r["lastSeen"])} for r in rows]
    print_rows(rows, fmt)


def _move(ctx: typer.Context, action: str, uid: str, by: str | None, note: str | None) -> None:
    from kgtwin.analytics.anomalies import records
    from kgtwin.events import EventLog

    act = records.acknowledge if action == "acknowledge" else records.resolve

    async def work(store: Any) -> dict[str, Any]:
        return await act(store, EventLog(store), uid, _who(by), note)

    updated = run_with_store(settings_of(ctx), work)
    on = updated.get("point") or updated.get("target")
    out.print(f"anomaly {uid} is {updated['state']} ({updated.get('kind')} on {on})")


@anomalies_app.command("acknowledge")
def acknowledge_command(
    ctx: typer.Context,
    uid: Annotated[str, typer.Argument(help="The anomaly's uid.")],
    by: Annotated[str | None, typer.Option(help="Who (default: cli:<user>).")] = None,
    note: Annotated[str | None, typer.Option(help="A note for the record.")] = None,
) -> None:
    """Acknowledge an open anomaly: someone is on it."""
    _move(ctx, "acknowledge", uid, by, note)


@anomalies_app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    uid: Annotated[str, typer.Argument(help="The anomaly's uid.")],
    by: Annotated[str | None, typer.Option(help="Who (default: cli:<user>).")] = None,
    note: Annotated[str | None, typer.Option(help="A note for the record.")] = None,
) -> None:
    """Resolve an open or acknowledged anomaly: dealt with."""
    _move(ctx, "resolve", uid, by, note)


@forecast_app.command("point")
def forecast_point_command(
    ctx: typer.Context,
    point: Annotated[str, typer.Argument(help="Point id (the field's) or uid.")],
    horizon: Annotated[str, typer.Option(help="How far ahead, e.g. 6h, 2d.")] = "6h",
    window: Annotated[str | None, typer.Option(help="Readings used (default: 4 × the horizon).")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """A point's trend: its value at the horizon with a 95% interval, and when it crosses its limits."""
    from kgtwin.analytics.forecasts import forecast_point

    horizon_ms = duration_ms(horizon, "--horizon")
    window_ms = duration_ms(window, "--window") if window else None
    trend = run_with_store(settings_of(ctx), lambda store: forecast_point(store, point, horizon_ms, window_ms))
    row: dict[str, Any] = {
        "point": trend.point,
        "unit": trend.unit,
        "readings": trend.readings,
        "from": iso(trend.start),
        "to": iso(trend.end),
        "level": round(trend.level, 6),
        "slopePerHour": round(trend.slope_per_hour, 6),
        "at": iso(trend.end + trend.horizon_ms),
        "forecast": round(trend.forecast, 6),
        "lower": round(trend.lower, 6),
        "upper": round(trend.upper, 6),
    }
    for crossing in trend.crossings:
        row[f"{crossing.limit}Limit"] = crossing.value
        row[f"{crossing.limit}Crossing"] = iso(crossing.at)
        row[f"{crossing.limit}Earliest"] = iso(crossing.earliest)
    if fmt is Format.table:
        print_rows([{"field": k, "value": v} for k, v in row.items()], fmt)
    else:
        print_rows([row], fmt)


@forecast_app.command("maturity")
def forecast_maturity_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="The model whose slabs and walls to assess.")],
    target: Annotated[
        float | None, typer.Option(help="Target maturity in °C·h (default 2000; an element's maturityTarget wins).")
    ] = None,
    datum: Annotated[float | None, typer.Option(help="Datum temperature in °C (default −10).")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Concrete maturity (Nurse–Saul) of slabs and walls with temperature points, and when each reaches its target."""
    from kgtwin.analytics.forecasts import concrete_maturity

    if target is not None and target <= 0:
        raise ConfigError("--target must be a positive maturity in °C·h")
    found = run_with_store(settings_of(ctx), lambda store: concrete_maturity(store, model, target=target, datum=datum))
    rows = [
        {
            "element": m.element,
            "name": m.name,
            "class": m.ifc_class,
            "point": m.point,
            "since": iso(m.since),
            "maturity": round(m.maturity, 1),
            "target": m.target,
            "temperature": None if m.temperature is None else round(m.temperature, 2),
            "reached": iso(m.reached),
            "eta": iso(m.eta),
        }
        for m in found
    ]
    print_rows(rows, fmt)
