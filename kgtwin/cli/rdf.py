"""`kgtwin export rdf|dtdl`, `kgtwin import rdf` and `kgtwin validate`: the twin as RDF and DTDL."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from kgtwin.cli.common import Format, app, err, out, print_rows, run_with_store, settings_of
from kgtwin.errors import ConfigError

export_app = typer.Typer(no_args_is_help=True, help="Write a model for other tools (RDF, DTDL).")
import_app = typer.Typer(no_args_is_help=True, help="Bring models of other tools into the graph (RDF).")
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")


class RdfFormatName(StrEnum):
    ttl = "ttl"
    jsonld = "jsonld"
    nt = "nt"


class BrickVersion(StrEnum):
    v14 = "1.4"
    v15 = "1.5"


@contextmanager
def output(path: Path | None):  # type: ignore[no-untyped-def]
    """A binary file to write to: the one named, else standard output."""
    if path is None:
        yield sys.stdout.buffer
        return
    if not path.resolve().parent.is_dir():
        raise ConfigError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        handle: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle


@export_app.command("rdf")
def export_rdf_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="The model to export.")],
    fmt: Annotated[RdfFormatName, typer.Option("--format", "-f", help="ttl, jsonld or nt (streamed).")] = (
        RdfFormatName.ttl
    ),
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """A model as RDF: BOT spaces and elements, Brick points and equipment, QUDT units, time series links."""
    from kgtwin.export.rdf import FORMATS, export_rdf

    settings = settings_of(ctx)
    with output(out_file) as handle:
        summary = run_with_store(settings, lambda store: export_rdf(store, model, FORMATS[fmt.value], handle, settings))
    err.print(f"{summary.triples} triples of model {model} as {fmt.value} ({summary.bytes} bytes)", style="dim")


@export_app.command("dtdl")
def export_dtdl_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="The model whose interfaces to write.")],
    version: Annotated[int, typer.Option(min=1, help="Version of every interface's dtmi (;N).")] = 1,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """DTDL v3 interfaces (a JSON array) for the model's IFC classes, spaces and Brick classes."""
    from kgtwin.export.dtdl import dtdl_interfaces, dtdl_json

    settings = settings_of(ctx)
    docs = run_with_store(settings, lambda store: dtdl_interfaces(store, model, settings, version))
    with output(out_file) as handle:
        handle.write(dtdl_json(docs))
    err.print(f"{len(docs)} DTDL v3 interfaces for model {model}", style="dim")


@import_app.command("rdf")
def import_rdf_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A Brick model (or a kgtwin export): .ttl, .nt, .jsonld, .rdf")],
    model: Annotated[str | None, typer.Option(help="Model to import into (default: from the file name).")] = None,
) -> None:
    """Import points, equipment, locations and their links; report what could not be mapped."""
    from kgtwin.sources.ifc.reader import model_id_for
    from kgtwin.sources.rdf import import_rdf

    settings = settings_of(ctx)
    target = model or model_id_for(file)
    report = run_with_store(settings, lambda store: import_rdf(store, file, target, settings))
    nodes = ", ".join(f"{n} {label}" for label, n in sorted(report.nodes.items())) or "no nodes"
    links = ", ".join(f"{n} {rel}" for rel, n in sorted(report.links.items())) or "no links"
    out.print(f"model {report.model} from {report.file} ({report.triples} triples, {report.seconds:.2f} s)")
    out.print(f"written: {nodes}; {links}")
    if report.bound:
        out.print(
            "bound to nodes already in the graph: " + ", ".join(f"{n} {k}" for k, n in sorted(report.bound.items()))
        )
    rows = [
        {"class": old, "mapped to": new, "how": how, "resources": n}
        for (old, new, how), n in sorted(report.classes.items())
    ]
    if rows:
        print_rows(rows, Format.table)
    for title, found in (("repaired", report.repaired), ("not imported", report.unmapped)):
        for kind, unmapped in sorted(found.items()):
            out.print(f"{title}: {kind}: {unmapped.count}", markup=False)
            for example in unmapped.examples:
                out.print(f"    {example}", style="dim", markup=False)


@app.command("validate")
def validate_command(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="An RDF file (default: export --model from the graph).")] = None,
    model: Annotated[str | None, typer.Option(help="Validate this model of the graph.")] = None,
    brick_version: Annotated[BrickVersion, typer.Option(help="Brick release whose shapes to use.")] = BrickVersion.v15,
    qudt: Annotated[Path | None, typer.Option(help="A QUDT unit file to use instead of the built-in units.")] = None,
    examples: Annotated[int, typer.Option(min=0, help="Offending nodes shown per shape.")] = 3,
) -> None:
    """Check a model against Brick's SHACL shapes and BOT's rules; exit 1 when there are violations."""
    from kgtwin.export.validate import validate_file, validate_model

    if (file is None) == (model is None):
        raise ConfigError("give an RDF file or --model (one of them)")
    settings = settings_of(ctx)
    if file is not None:
        report = validate_file(file, brick_version.value, qudt)
    else:
        report = run_with_store(settings, lambda s: validate_model(s, model, settings, brick_version.value, qudt))  # type: ignore[arg-type]
    for finding in report.by_shape:
        style = "red" if finding.severity == "Violation" else "yellow"
        out.print(
            f"{finding.severity}: {finding.shape}: {finding.results} results on {len(finding.focus_nodes)} nodes",
            style=style,
            markup=False,
        )
        out.print(f"    {finding.message}", markup=False)
        for node in sorted(finding.focus_nodes)[:examples]:
            out.print(f"    {node}", style="dim", markup=False)
    verdict = "conforms" if report.conforms else "does not conform"
    out.print(
        f"{verdict} to Brick {report.brick_version} and BOT: {report.violations} violations, "
        f"{report.warnings} warnings ({report.triples} triples, {report.seconds:.1f} s)"
    )
    if not report.conforms:
        raise typer.Exit(1)
