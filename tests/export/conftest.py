"""What the RDF and DTDL tests share: the settings they export with, and one validation per content."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import rdflib

from kgtwin.config import Settings
from kgtwin.export.rdf import ntriples
from kgtwin.export.validate import ValidationReport, validate_graph

SETTINGS = Settings(public_url="https://twin.example.org", rdf_base="https://data.example.org/twin/")
_validated: dict[tuple[str, str], ValidationReport] = {}


@pytest.fixture
def settings() -> Settings:
    return SETTINGS


def canonical(graph: rdflib.Graph) -> list[str]:
    """A graph as sorted N-Triples lines (kgtwin writes no blank nodes, so lines compare as graphs)."""
    return sorted(ntriples(graph).splitlines())


@pytest.fixture
def validate() -> Callable[[rdflib.Graph, str], ValidationReport]:
    """Validation of a graph, once per content and Brick version: both engines export the same
    triples, and SHACL over Brick takes seconds."""

    def run(graph: rdflib.Graph, brick_version: str = "1.5") -> ValidationReport:
        key = (hashlib.sha256("\n".join(canonical(graph)).encode()).hexdigest(), brick_version)
        if key not in _validated:
            _validated[key] = validate_graph(graph, brick_version)
        return _validated[key]

    return run
