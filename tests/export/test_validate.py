"""Validation: Brick's shapes with units present (no false unit violations, real problems found) and
kgtwin's BOT shapes, which must catch what every domain, range and disjointness axiom of bot.ttl
forbids."""

from __future__ import annotations

import rdflib
import shifty
from rdflib import OWL, RDF, RDFS, URIRef

from kgtwin.export.validate import bot_shapes, brick_ontology, unit_declarations, validate_file
from kgtwin.model.alignment import alignment
from tests.conftest import SHARED_DATA

RDF_DIR = SHARED_DATA / "rdf"
BOT = rdflib.Namespace("https://w3id.org/bot#")
EX = rdflib.Namespace("http://example.org/")
DEPRECATED = {BOT.hostsElement, BOT.aggregates}


def test_units_are_defined_so_the_medium_office_shows_only_its_real_problem() -> None:
    report = validate_file(RDF_DIR / "mediumOffice_brick.ttl", "1.4")
    # SOURCES.md, measured with QUDT's full unit.ttl: 42 violations on 21 focus nodes, the equipment
    # whose points are typed brick:Electrical_Power_Sensor (not a Brick 1.4 class); 46 warnings
    assert (report.violations, report.warnings) == (42, 46)
    violating = set().union(*(f.focus_nodes for f in report.by_shape if f.severity == "Violation"))
    assert len(violating) == 21
    assert not any("qudt" in f.message.lower() or "Unit" in f.message for f in report.by_shape)
    assert {f.shape for f in report.by_shape if f.severity == "Violation"} == {
        "bsh:hasPointShape",
        "brick:Equipment on brick:hasPoint",
    }


def test_soda_hall_reports_what_brick_reports_grouped_by_shape() -> None:
    report = validate_file(RDF_DIR / "soda_brick.ttl", "1.4")
    assert (report.violations, report.warnings) == (79, 725)  # SOURCES.md
    by_message = {f.message: f for f in report.by_shape if f.severity == "Violation"}
    located = by_message["Points cannot have locations; use 'isPointOf' instead"]
    assert len(located.focus_nodes) == 15
    assert all("building_example#" in node for node in located.focus_nodes)


def test_the_unit_declarations_name_brick_s_units_and_the_alignment_s() -> None:
    units = {str(s).rsplit("/", 1)[-1] for s in unit_declarations(brick_ontology("1.4")).subjects()}
    assert set(alignment().qudt_units) <= units
    assert {"DEG_C", "PPM", "W", "LUX"} <= units and len(units) > 200
    assert "DEGC" not in units  # a misspelt unit stays a violation


def bot_axioms() -> list[tuple[str, URIRef, URIRef]]:
    """What bot.ttl states that instance data can break: (kind, property or class, class)."""
    bot = rdflib.Graph().parse(RDF_DIR / "bot.ttl")
    axioms = []
    for prop in set(bot.subjects(RDF.type, OWL.ObjectProperty)) - DEPRECATED:
        # a sub-property inherits its parents' domain and range
        above = [prop, *bot.transitive_objects(prop, RDFS.subPropertyOf)]
        for kind, axiom in (("domain", RDFS.domain), ("range", RDFS.range)):
            for cls in {c for p in above for c in bot.objects(p, axiom)}:
                axioms.append((kind, prop, cls))
    for cls, other in bot.subject_objects(OWL.disjointWith):
        axioms.append(("disjoint", cls, other))
    return sorted(axioms)  # type: ignore[arg-type]


def breaking(kind: str, term: URIRef, cls: URIRef) -> rdflib.Graph:
    """A small graph that breaks one axiom: the wrong kind of thing at one end, or both classes."""
    graph = rdflib.Graph()
    other = BOT.Interface if cls != BOT.Interface else BOT.Element
    if kind == "domain":
        graph.add((EX.a, RDF.type, other))
        graph.add((EX.a, term, EX.b))
    elif kind == "range":
        graph.add((EX.b, RDF.type, other))
        graph.add((EX.a, term, EX.b))
    else:
        graph.add((EX.a, RDF.type, term))
        graph.add((EX.a, RDF.type, cls))
    return graph


def violations(graph: rdflib.Graph) -> int:
    _, results, _ = shifty.validate(graph, bot_shapes(), minimum_severity="violation")
    return len(set(results.subjects(RDF.type, rdflib.URIRef("http://www.w3.org/ns/shacl#ValidationResult"))))


def test_the_bot_shapes_catch_every_axiom_of_bot() -> None:
    axioms = bot_axioms()
    assert len(axioms) >= 25  # domains, ranges (with sub-properties) and disjointness of BOT 0.3.2
    missed = [axiom for axiom in axioms if violations(breaking(*axiom)) == 0]
    assert missed == []


def test_a_building_as_bot_means_it_conforms() -> None:
    graph = rdflib.Graph()
    for subject, cls in ((EX.site, BOT.Site), (EX.b, BOT.Building), (EX.s, BOT.Storey), (EX.r, BOT.Space)):
        graph.add((subject, RDF.type, cls))
    graph.add((EX.wall, RDF.type, BOT.Element))
    graph.add((EX.window, RDF.type, BOT.Element))
    for triple in (
        (EX.site, BOT.hasBuilding, EX.b),
        (EX.b, BOT.hasStorey, EX.s),
        (EX.s, BOT.hasSpace, EX.r),
        (EX.s, BOT.containsElement, EX.wall),
        (EX.r, BOT.adjacentElement, EX.wall),
        (EX.wall, BOT.hasSubElement, EX.window),
    ):
        graph.add(triple)
    assert violations(graph) == 0
