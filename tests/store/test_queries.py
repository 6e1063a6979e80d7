"""Every statement in queries/ is valid on both engines: Neo4j compiles it, FalkorDB runs it."""

from pathlib import Path

import pytest

from kgtwin.errors import ConfigError
from kgtwin.store import GraphStore
from kgtwin.store.queries import catalogue, parse_query_file

QUERIES = sorted(catalogue())


def test_the_catalogue_is_not_empty_and_every_query_documents_itself() -> None:
    assert "store/ping" in QUERIES
    for query in catalogue().values():
        assert query.purpose and query.mode in ("read", "write")


@pytest.mark.parametrize("name", QUERIES)
async def test_neo4j_compiles_every_named_query(neo4j_store: GraphStore, name: str) -> None:
    query = catalogue()[name]
    await neo4j_store.explain(query.render(**query.example_slots), query.example_params)


@pytest.mark.parametrize("name", QUERIES)
async def test_falkordb_runs_every_named_query(falkordb_store: GraphStore, name: str) -> None:
    query = catalogue()[name]
    await falkordb_store.explain(query.render(**query.example_slots), query.example_params)
    rows = await falkordb_store.execute(name, query.example_params, **query.example_slots)
    assert isinstance(rows, list)


def test_a_query_file_whose_header_is_wrong_is_refused_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "area").mkdir()
    bad = tmp_path / "area" / "q.cypher"
    bad.write_text("// name: area/other\n// mode: read\n// purpose: x\nRETURN 1\n")
    with pytest.raises(ConfigError, match=r"q\.cypher: header 'name: area/other' must be 'area/q'"):
        parse_query_file(bad, tmp_path)
    bad.write_text("// name: area/q\n// mode: sometimes\n// purpose: x\nRETURN 1\n")
    with pytest.raises(ConfigError, match="mode"):
        parse_query_file(bad, tmp_path)
    bad.write_text('// name: area/q\n// mode: read\n// purpose: x\n// params: {"a": }\nRETURN 1\n')
    with pytest.raises(ConfigError, match="not JSON"):
        parse_query_file(bad, tmp_path)


def test_template_slots_take_identifiers_only(tmp_path: Path) -> None:
    (tmp_path / "t.cypher").write_text(
        '// name: t\n// mode: read\n// purpose: x\n// template: {"label": "Element", "labels": ["A"]}\n'
        "MATCH (n:{{label}}) SET n{{labels}} RETURN n\n"
    )
    query = parse_query_file(tmp_path / "t.cypher", tmp_path)
    assert query.render(label="Space", labels=["IfcSpace", "Room"]) == "MATCH (n:Space) SET n:IfcSpace:Room RETURN n"
    with pytest.raises(ConfigError, match="not a label"):
        query.render(label="Space) DETACH DELETE (m", labels=["A"])
    with pytest.raises(ConfigError, match="not a label"):
        query.render(label="Space", labels=["A`B"])
