"""`kgtwin demo`: from nothing to a live building served on loopback, with its dashboard."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from kgtwin.cli.common import app, err, out, settings_of


@app.command("demo")
def demo(
    ctx: typer.Context,
    storeys: Annotated[int, typer.Option(min=1, help="Storeys of the sample building.")] = 4,
    spaces_per_storey: Annotated[int, typer.Option(min=1, help="Rooms on each storey.")] = 8,
    port: Annotated[int | None, typer.Option(help="Port of the API and dashboard (KGTWIN_API_PORT, 8080).")] = None,
) -> None:
    """Generate a sample building with its schedule and sensors, load it into the embedded engine, feed it
    simulated readings (with planted faults) and serve the API and dashboard until interrupted."""
    from kgtwin import demo as twin_demo
    from kgtwin.store import open_store

    settings = settings_of(ctx).with_overrides(graph="embedded", api_port=port)

    async def run() -> None:
        store = await open_store(settings, report=lambda line: err.print(line, style="dim"))
        try:
            model = await twin_demo.prepare(store, settings, storeys, spaces_per_storey)
            out.print(
                f"Loaded the sample building as model 'demo': {model.elements} elements, {model.points} sensors "
                f"(IFC file {model.ifc}); readings of the last hours are replayed quickly, then live.",
                highlight=False,
            )
            await twin_demo.serve(settings, model, store, lambda line: out.print(line, highlight=False))
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        out.print("stopped")
