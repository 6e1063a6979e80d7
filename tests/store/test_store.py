"""The store answers the same Cypher with the same plain rows on both engines."""

import pytest

from kgtwin.errors import QueryError, ReadOnlyViolation
from kgtwin.model.schema import INDEXES
from kgtwin.store import GraphStore, IndexSpec

AWKWARD_TEXT = ["plain", 'quote " double', "quote ' single", "back\\slash", "new\nline", "ünïcødé ✓", "$param {x}", ""]


async def test_batched_unwind_writes_come_back_exactly(store: GraphStore) -> None:
    rows = [
        {"uid": f"m:{i}", "name": text, "n": i, "x": i / 4, "ok": i % 2 == 0, "tags": ["a", text], "none": None}
        for i, text in enumerate(AWKWARD_TEXT)
    ]
    created = await store.run(
        "UNWIND $rows AS r CREATE (e:Element {uid: r.uid, name: r.name, n: r.n, x: r.x, ok: r.ok, tags: r.tags, "
        "none: r.none}) RETURN count(e) AS created",
        {"rows": rows},
        write=True,
    )
    assert created == [{"created": len(rows)}]
    back = await store.run(
        "MATCH (e:Element) RETURN e.uid AS uid, e.name AS name, e.n AS n, e.x AS x, "
        "e.ok AS ok, e.tags AS tags ORDER BY e.n"
    )
    assert back == [{k: r[k] for k in ("uid", "name", "n", "x", "ok", "tags")} for r in rows]


async def test_a_read_session_refuses_writes_and_changes_nothing(store: GraphStore) -> None:
    with pytest.raises(ReadOnlyViolation, match="read-only"):
        await store.run("CREATE (n:Element {uid: 'sneaky'})")
    with pytest.raises(ReadOnlyViolation):
        await store.run("MATCH (n) DETACH DELETE n")
    # A write hidden behind a read-looking start is refused too: the engine decides, not a text scan.
    with pytest.raises(ReadOnlyViolation):
        await store.run("WITH 1 AS x MERGE (n:Element {uid: 'sneaky'}) RETURN x")
    assert await store.run("MATCH (n {uid: 'sneaky'}) RETURN count(n) AS c") == [{"c": 0}]


async def test_schema_setup_is_idempotent_and_uniqueness_holds(store: GraphStore) -> None:
    await store.ensure_schema(INDEXES)
    await store.ensure_schema(INDEXES)
    await store.run("CREATE (:Element {uid: 'm:1'})", write=True)
    with pytest.raises(QueryError):
        await store.run("CREATE (:Element {uid: 'm:1'})", write=True)
    assert await store.run("MATCH (n:Element {uid: 'm:1'}) RETURN count(n) AS c") == [{"c": 1}]


async def test_nodes_relationships_and_paths_come_back_as_plain_maps(store: GraphStore) -> None:
    await store.run(
        "CREATE (:Storey {uid: 's', name: 'Level 1'})-[:HAS_SPACE {since: 1}]->(:Space {uid: 'r', name: 'Room'})",
        write=True,
    )
    rows = await store.run("MATCH p = (s:Storey)-[h:HAS_SPACE]->(r:Space) RETURN s, h, p")
    assert rows[0]["s"] == {"_labels": ["Storey"], "uid": "s", "name": "Level 1"}
    assert rows[0]["h"] == {"_type": "HAS_SPACE", "since": 1}
    assert [n["uid"] for n in rows[0]["p"]["nodes"]] == ["s", "r"]
    assert rows[0]["p"]["relationships"][0]["_type"] == "HAS_SPACE"


async def test_epoch_millisecond_times_compare_and_use_an_index(store: GraphStore) -> None:
    await store.ensure_schema([IndexSpec("Event", "at")])
    base = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    await store.run(
        "UNWIND range(0, 99) AS i CREATE (:Event {uid: toString(i), at: $base + i * 60000})", {"base": base}, write=True
    )
    rows = await store.run(
        "MATCH (e:Event) WHERE e.at >= $from AND e.at < $to RETURN count(e) AS c",
        {"from": base + 10 * 60000, "to": base + 20 * 60000},
    )
    assert rows == [{"c": 10}]


async def test_a_statement_the_engine_rejects_is_a_query_error_naming_the_engine(store: GraphStore) -> None:
    with pytest.raises(QueryError, match="rejected the statement"):
        await store.run("MATCH (n RETURN n")


async def test_a_transaction_applies_all_of_its_statements_together(store: GraphStore) -> None:
    async with store.transaction() as tx:
        await tx.run("UNWIND $uids AS u MERGE (:Storey {uid: u})", {"uids": ["s1", "s2"]})
        await tx.run("MATCH (a:Storey {uid: 's1'}), (b:Storey {uid: 's2'}) MERGE (a)-[:NEXT]->(b)")
    assert await store.run("MATCH (:Storey)-[r:NEXT]->(:Storey) RETURN count(r) AS c") == [{"c": 1}]


async def test_a_transaction_that_fails_leaves_the_graph_as_it_was(store: GraphStore) -> None:
    await store.run("CREATE (:Storey {uid: 'before'})", write=True)
    with pytest.raises(QueryError):
        async with store.transaction() as tx:
            await tx.run("CREATE (:Storey {uid: 'half-way'})")
            await tx.run("MATCH (n:Storey RETURN n")  # broken: the whole transaction must not apply
    rows = await store.run("MATCH (n:Storey) RETURN n.uid AS uid")
    assert rows == [{"uid": "before"}]


async def test_an_exception_in_the_callers_code_rolls_the_transaction_back(store: GraphStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.run("CREATE (:Storey {uid: 'never'})")
            raise RuntimeError("the loader failed half-way")
    assert await store.run("MATCH (n:Storey) RETURN count(n) AS c") == [{"c": 0}]


async def test_parameters_reach_the_engine_exactly_as_given(store: GraphStore) -> None:
    """Whatever a parameter holds comes back unchanged (kgtwin writes FalkorDB's parameter header itself)."""
    given = {
        "text": "quote \" backslash \\ single ' newline \n tab \t bell \x07 unicode é ✓ {braces} `tick`",
        "numbers": [0, -1, 2**62, 1.5, -2.5e-07, 1e300, True, False, None],
        "nested": [{"pset.Pset_WallCommon.FireRating": "EI60", "k-1": [1, "a"], "deep": {"x": None}}],
        "empty": [[], "", {}],
        "strings": ["good", "bad", "uncertain: 0x80"],
    }
    rows = await store.run(
        "RETURN $text AS text, $numbers AS numbers, $nested AS nested, $empty AS empty, $strings AS strings", given
    )
    assert rows == [given]


async def test_nan_never_reaches_falkordb_as_a_null(falkordb_store: GraphStore) -> None:
    # JSON has no NaN: a serializer that wrote null would store a missing value without a word
    with pytest.raises(ValueError, match="NaN"):
        await falkordb_store.run("RETURN $x AS x", {"x": [1.0, float("nan")]})
