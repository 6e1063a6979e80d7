"""`kgtwin demo`: a sample building in the embedded engine, from nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from kgtwin.cli.common import (
    Format,
    app,
    err,
    out,
    print_rows,
    run_with_store,
    settings_of,
)
from kgtwin.model.schema import INDEXES
from kgtwin.store import GraphStore, Row, local


@app.command("demo")
def demo(
    ctx: typer.Context,
    storeys: Annotated[int, typer.Option(min=1, help="Storeys of the sample building.")] = 4,
    spaces_per_storey: Annotated[int, typer.Option(min=1, help="Rooms on each storey.")] = 8,
) -> None:
    """Generate a sample building, load it into the embedded engine and show what the graph holds."""
    from kgtwin.sources.ifc import load_ifc
    from kgtwin.sources.ifc.sample import SampleSpec, write_sample

    settings = settings_of(ctx).with_overrides(graph="embedded")
    info, _ = local.start(settings, "falkordb", persistent=True, report=lambda line: err.print(line, style="dim"))
    model_file = settings.data_dir / "demo-building.ifc"
    stats = write_sample(model_file, SampleSpec(storeys=storeys, spaces_per_storey=spaces_per_storey))
    out.print(f"Generated {model_file}: {stats.storeys} storeys, {stats.spaces} rooms, {stats.elements} elements")

    async def work(store: GraphStore) -> list[Row]:
        await store.ensure_schema(INDEXES)
        await load_ifc(store, model_file, model="demo")
        return await store.execute("ifc/model_summary", {"model": "demo"})

    rows = run_with_store(settings, work)
    out.print(f"Loaded it as model 'demo' into the embedded graph at {info.address}:")
    print_rows(rows, Format.table)
    out.print(
        "Try:  kgtwin cypher \"MATCH (s:Storey {model: 'demo'})-[:HAS_SPACE]->(r)-[:HAS_POINT]->(p:Temperature_Sensor) "
        'RETURN s.name AS storey, count(p) AS sensors"'
    )
    out.print("      kgtwin query list")
    out.print("Stop: kgtwin db stop")
