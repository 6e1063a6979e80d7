"""SHACL validation of a model's RDF against Brick's shapes (the Brick release the `brickschema`
package bundles, offline, with the shifty engine) and kgtwin's BOT shapes, reported by shape.

Brick's shapes check that a point's `brick:hasUnit` is a `qudt:Unit`. The bundled Brick.ttl
imports QUDT but does not contain it, so without unit definitions every unit is a false violation.
kgtwin declares `unit:X a qudt:Unit` for every QUDT unit the bundled Brick itself names (in its
quantities' applicable units and its unit shapes) and every unit of the alignment's `qudt_units`:
no ontology file is copied, and a unit that is neither (a typo, say) is still reported. A real
QUDT `unit.ttl` can be given instead (`kgtwin validate --qudt unit.ttl`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import rdflib
from rdflib import RDF, BNode, URIRef
from rdflib.namespace import SH

from kgtwin.config import Settings
from kgtwin.errors import ConfigError
from kgtwin.model.alignment import ALIGNMENT_FILE, alignment
from kgtwin.sources.rdf import read_rdf
from kgtwin.store import GraphStore

BRICK_VERSIONS = ("1.4", "1.5")
# Brick 1.4.4's shapes still require brick:Location (deprecated in 1.4 itself) as what a point is a
# point of and where equipment is; 1.5 accepts the RealEstateCore locations that 1.4 recommends.
DEFAULT_BRICK_VERSION = "1.5"
BOT_SHAPES_FILE = ALIGNMENT_FILE.parent / "bot-shapes.ttl"
QUDT = rdflib.Namespace("http://qudt.org/schema/qudt/")
SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}


@dataclass
class ShapeFindings:
    """What one shape reported: its message, how often, and the nodes it reported on."""

    shape: str
    severity: str
    messages: set[str] = field(default_factory=set)
    results: int = 0
    focus_nodes: set[str] = field(default_factory=set)

    @property
    def message(self) -> str:
        return min(self.messages, key=lambda m: (len(m), m)) if self.messages else ""


@dataclass
class ValidationReport:
    brick_version: str
    triples: int
    by_shape: list[ShapeFindings]
    seconds: float

    @property
    def violations(self) -> int:
        return sum(f.results for f in self.by_shape if f.severity == "Violation")

    @property
    def warnings(self) -> int:
        return sum(f.results for f in self.by_shape if f.severity == "Warning")

    @property
    def conforms(self) -> bool:
        return self.violations == 0


@cache
def brick_ontology(version: str) -> rdflib.Graph:
    """Brick with its shapes, as the brickschema package bundles it (read once per process)."""
    import brickschema

    if version not in BRICK_VERSIONS:
        raise ConfigError(f"Brick {version} is not one kgtwin validates against; use {' or '.join(BRICK_VERSIONS)}")
    return brickschema.Graph(load_brick=True, brick_version=version)


def unit_declarations(brick: rdflib.Graph) -> rdflib.Graph:
    """`unit:X a qudt:Unit` for each QUDT unit Brick names and each unit of kgtwin's alignment."""
    unit_ns = alignment().namespaces["unit"]
    named = {term for term in brick.all_nodes() if isinstance(term, URIRef) and str(term).startswith(unit_ns)}
    named |= {URIRef(unit_ns + local) for local in alignment().qudt_units}
    declarations = rdflib.Graph()
    for unit in named:
        declarations.add((unit, RDF.type, QUDT.Unit))
    return declarations


@cache
def bot_shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(BOT_SHAPES_FILE, format="turtle")


@cache
def shapes_document(brick_version: str, qudt: Path | None = None) -> bytes:
    """Brick, the unit definitions and the BOT shapes as one Turtle document, made once per process:
    handing the engine bytes spares it re-reading 60,000 triples of Brick from Python each time."""
    brick = brick_ontology(brick_version)
    units = read_rdf(qudt) if qudt is not None else unit_declarations(brick)
    return b"".join(turtle_bytes(graph) for graph in (brick, units, bot_shapes()))


def turtle_bytes(graph: rdflib.Graph) -> bytes:
    """Prefixes, then N-Triples (a subset of Turtle that names every blank node as rdflib does)."""
    header = "".join(f"@prefix {prefix}: <{namespace}> .\n" for prefix, namespace in graph.namespaces() if prefix)
    return header.encode() + graph.serialize(format="nt", encoding="utf-8")


def validate_graph(
    data: rdflib.Graph | bytes, brick_version: str = DEFAULT_BRICK_VERSION, qudt: Path | None = None
) -> ValidationReport:
    """Validate instance data (a graph, or N-Triples bytes); the ontology and shapes stay out of it.

    Brick goes in as shapes of its own, never loaded into the data: with shapes passed separately,
    shapes inside the data graph are ignored, which is how a model with Brick loaded into it comes
    out as a false "conforms" (measured in shared/data/rdf/SOURCES.md). This is the call
    brickschema's Graph.validate makes with the shifty engine, minus copying Brick on every call.
    """
    import shifty

    began = time.perf_counter()
    shapes = shapes_document(brick_version, qudt)
    if isinstance(data, bytes):
        triples, document = data.count(b"\n"), data
    else:
        triples, document = len(data), turtle_bytes(data)
    _, results, _ = shifty.validate(document, shapes, minimum_severity="violation")
    findings = _by_shape(results, (brick_ontology(brick_version), bot_shapes()))
    return ValidationReport(brick_version, triples, findings, time.perf_counter() - began)


def _by_shape(results: rdflib.Graph, shapes: tuple[rdflib.Graph, ...]) -> list[ShapeFindings]:
    grouped: dict[tuple[str, str], ShapeFindings] = {}
    for result in results.subjects(RDF.type, SH.ValidationResult):
        severity = SEVERITIES.get(results.value(result, SH.resultSeverity), "Info")  # type: ignore[arg-type]
        shape = _shape_name(results, result, shapes)
        found = grouped.setdefault((severity, shape), ShapeFindings(shape, severity))
        found.messages.update(str(m) for m in results.objects(result, SH.resultMessage))
        found.results += 1
        focus = results.value(result, SH.focusNode)
        if focus is not None:
            found.focus_nodes.add(str(focus))
    order = {"Violation": 0, "Warning": 1, "Info": 2}
    return sorted(grouped.values(), key=lambda f: (order[f.severity], -f.results, f.shape))


def _shape_name(results: rdflib.Graph, result: rdflib.term.Node, shapes: tuple[rdflib.Graph, ...]) -> str:
    """A shape's IRI as a prefixed name. An anonymous property shape (whose blank node the engine's
    report does not share with the shapes graph) is named by the shape holding a property shape
    with the same path and message, and the path."""
    names = shapes[0].namespace_manager
    shape = results.value(result, SH.sourceShape)
    if shape is None:
        return "(no shape)"
    if not isinstance(shape, BNode):
        return shape.n3(names)
    path = results.value(result, SH.resultPath)
    messages = set(results.objects(result, SH.resultMessage))
    owner = None
    if isinstance(path, URIRef):
        for graph in shapes:
            for candidate in graph.subjects(SH.path, path):
                said = graph.value(candidate, SH.message)
                if said is not None and said in messages:
                    owner = next(graph.subjects(SH.property, candidate), None)
                    break
    where = owner.n3(names) if isinstance(owner, URIRef) else "a shape"
    along = f" on {path.n3(names)}" if isinstance(path, URIRef) else ""
    return f"{where}{along}"


async def validate_model(
    store: GraphStore,
    model: str,
    settings: Settings,
    brick_version: str = DEFAULT_BRICK_VERSION,
    qudt: Path | None = None,
) -> ValidationReport:
    """Validate a model of the graph as it exports, without building an rdflib graph of it."""
    from kgtwin.export.rdf import model_triples, ntriples

    chunks = [ntriples(batch).encode("utf-8") async for batch in model_triples(store, model, settings)]
    return validate_graph(b"".join(chunks), brick_version, qudt)


def validate_file(path: Path, brick_version: str = DEFAULT_BRICK_VERSION, qudt: Path | None = None) -> ValidationReport:
    return validate_graph(read_rdf(path), brick_version, qudt)
