"""The ontology alignment names only terms that exist in Brick and BOT as their own files define them."""

import brickschema
import pytest
import rdflib
from rdflib.namespace import OWL, RDF

from kgtwin.model.alignment import alignment
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def brick() -> rdflib.Graph:
    return brickschema.Graph(load_brick=True, brick_version="1.4")


def brick_classes_named() -> set[str]:
    align = alignment()
    names = {c for mapping in align.controls.values() for c in [mapping.default, *mapping.predefined.values()]}
    return names | set(align.name_hints.values())


@pytest.mark.parametrize("name", sorted(brick_classes_named()))
def test_every_brick_class_the_loader_assigns_exists_and_is_current(brick: rdflib.Graph, name: str) -> None:
    term = rdflib.URIRef(alignment().namespaces["brick"] + name)
    assert (term, RDF.type, OWL.Class) in brick, f"brick:{name} is not a class of Brick 1.4"
    assert (term, OWL.deprecated, rdflib.Literal(True)) not in brick, f"brick:{name} is deprecated in Brick 1.4"


def test_every_bot_term_the_alignment_uses_is_defined_by_bot() -> None:
    bot = rdflib.Graph().parse(SHARED_DATA / "rdf" / "bot.ttl")
    align = alignment()
    terms = [spec["class"] for spec in align.labels.values()] + [
        spec["predicate"] for spec in align.relationships.values()
    ]
    for curie in terms:
        if curie.startswith("bot:"):
            assert (rdflib.URIRef(align.expand(curie)), None, None) in bot, curie
