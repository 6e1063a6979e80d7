"""The `kgtwin` command as a user runs it: analysts' Cypher, named queries, and bad configuration
answered by one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
from pathlib import Path

import pytest

from kgtwin.store import GraphStore, local
from tests.conftest import REPO, engine_settings, require_engine, run_cli

GRAPH_OF = {"falkordb": "embedded", "neo4j": "local-neo4j"}


def assert_one_line_error(result, code: int | None = None, *, says: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode != 0, result.stdout
    if code is not None:
        assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ") and says in lines[0], lines[0]


@pytest.mark.parametrize("engine", ["falkordb", "neo4j"])
def test_cypher_is_read_only_unless_write_is_given(engine: str, data_dir: Path, request: pytest.FixtureRequest) -> None:
    require_engine(engine)
    request.getfixturevalue(f"{engine}_store")  # the session's engine, shared with this CLI process
    env = {"KGTWIN_GRAPH": GRAPH_OF[engine]}
    refused = run_cli("cypher", "CREATE (n:CliProbe {uid: 'x'}) RETURN n.uid AS uid", env=env, data_dir=data_dir)
    assert_one_line_error(refused, 4, says="read-only")
    assert json.loads(
        run_cli("cypher", "-f", "json", "MATCH (n:CliProbe) RETURN count(n) AS c", env=env, data_dir=data_dir).stdout
    ) == [{"c": 0}]
    written = run_cli(
        "cypher",
        "--write",
        "-f",
        "json",
        "-p",
        "uid=x y",
        "-p",
        "n=[1, 2]",
        "CREATE (n:CliProbe {uid: $uid, n: $n}) RETURN n.uid AS uid, n.n AS n",
        env=env,
        data_dir=data_dir,
    )
    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout) == [{"uid": "x y", "n": [1, 2]}]
    as_csv = run_cli("cypher", "-f", "csv", "MATCH (n:CliProbe) RETURN n.uid AS uid", env=env, data_dir=data_dir)
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["uid"], ["x y"]]
    as_table = run_cli("cypher", "MATCH (n:CliProbe) RETURN n.uid AS uid", env=env, data_dir=data_dir)
    assert "x y" in as_table.stdout and "1 row" in as_table.stdout
    run_cli("cypher", "--write", "MATCH (n:CliProbe) DELETE n", env=env, data_dir=data_dir)


def test_named_queries_are_listed_and_run_with_their_parameters(falkordb_store: GraphStore, data_dir: Path) -> None:
    listed = run_cli("query", "list", "-f", "json", data_dir=data_dir)
    names = {q["name"] for q in json.loads(listed.stdout)}
    assert {"store/ping", "store/label_counts", "store/node_by_uid"} <= names
    assert json.loads(run_cli("query", "run", "store/ping", "-f", "json", data_dir=data_dir).stdout) == [{"ok": 1}]
    assert_one_line_error(run_cli("query", "run", "store/node_by_uid", data_dir=data_dir), 2, says="needs -p uid=")
    assert_one_line_error(run_cli("query", "run", "store/nope", data_dir=data_dir), 2, says="no query named")


def test_an_unknown_engine_scheme_is_named(tmp_path: Path) -> None:
    result = run_cli("cypher", "RETURN 1", env={"KGTWIN_GRAPH": "mongodb://127.0.0.1/x"}, data_dir=tmp_path)
    assert_one_line_error(result, 2, says="unknown engine 'mongodb'")


def test_a_wrong_falkordb_password_is_refused(falkordb_store: GraphStore, data_dir: Path) -> None:
    port = local.read_state(data_dir.resolve() / "falkordb")["port"]  # type: ignore[index]
    result = run_cli("cypher", "RETURN 1", env={"KGTWIN_GRAPH": f"falkordb://:wrong@127.0.0.1:{port}/g"})
    assert_one_line_error(result, 3, says="refused the password")


def test_a_wrong_neo4j_password_is_refused(neo4j_store: GraphStore, data_dir: Path) -> None:
    port = local.read_state(data_dir.resolve() / "neo4j")["port"]  # type: ignore[index]
    env = {"KGTWIN_GRAPH": f"bolt://127.0.0.1:{port}", "KGTWIN_NEO4J_PASSWORD": "not-the-password"}
    assert_one_line_error(run_cli("cypher", "RETURN 1", env=env), 3, says="refused user 'neo4j'")


@pytest.mark.parametrize("graph", ["bolt://127.0.0.1:1", "neo4j://127.0.0.1:1", "falkordb://127.0.0.1:1/g"])
def test_an_unreachable_engine_is_named(graph: str) -> None:
    assert_one_line_error(run_cli("cypher", "RETURN 1", env={"KGTWIN_GRAPH": graph}), 3, says="cannot reach")


def test_a_data_directory_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("db", "start", data_dir=blocker / "data")
    assert_one_line_error(result, 2, says="is not writable")


def test_a_port_already_taken_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("db", "start", "--port", str(port), data_dir=tmp_path)
    assert_one_line_error(result, 3, says=f"port {port} on 127.0.0.1 is already in use")
    assert local.status(engine_settings("falkordb", tmp_path), "falkordb") is None


def test_the_neo4j_engine_without_a_jdk_says_what_to_install(tmp_path: Path) -> None:
    result = run_cli(
        "db", "start", "--engine", "neo4j", env={"PATH": str(tmp_path), "JAVA_HOME": ""}, data_dir=tmp_path
    )
    assert_one_line_error(result, 3, says="needs a JDK 17 or newer")


def test_db_start_status_and_stop_manage_a_persistent_server(tmp_path: Path) -> None:
    started = run_cli("db", "start", data_dir=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "falkordb is running at falkordb://127.0.0.1:" in started.stdout
    assert run_cli("cypher", "--write", "CREATE (:Element {uid: 'kept'})", data_dir=tmp_path).returncode == 0
    assert "until `kgtwin db stop`" in run_cli("db", "status", data_dir=tmp_path).stdout
    assert "stopped" in run_cli("db", "stop", data_dir=tmp_path).stdout
    down = run_cli("db", "status", data_dir=tmp_path)
    assert down.returncode == 1 and "not running" in down.stdout
    # The data outlives the server.
    again = run_cli("cypher", "-f", "json", "MATCH (n:Element) RETURN n.uid AS uid", data_dir=tmp_path)
    assert json.loads(again.stdout) == [{"uid": "kept"}]


def test_sample_then_load_ifc_prints_the_diff(tmp_path: Path) -> None:
    model = tmp_path / "tower.ifc"
    made = run_cli("sample", "ifc", str(model), "--storeys", "2", "--spaces-per-storey", "3", data_dir=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "2 storeys, 6 spaces" in made.stdout
    first = run_cli("load", "ifc", str(model), "--model", "tower", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "model tower (IFC4" in first.stdout and "0 changed, 0 removed, 0 unchanged" in first.stdout
    again = run_cli("load", "ifc", str(model), "--model", "tower", data_dir=tmp_path)
    assert "0 added, 0 changed, 0 removed" in again.stdout
    summary = json.loads(
        run_cli("query", "run", "ifc/model_summary", "-p", "model=tower", "-f", "json", data_dir=tmp_path).stdout
    )
    assert {"label": "Storey", "nodes": 2} in summary


def test_the_demo_serves_a_live_building_and_prints_where(tmp_path: Path) -> None:
    """The README's first command: a building you can query within a minute, readings arriving, then Ctrl-C."""
    import re
    import signal
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env["KGTWIN_DATA"] = str(tmp_path)
    began = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "kgtwin.cli", "demo", "--storeys", "2", "--spaces-per-storey", "2", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        shown = ""
        while "Stop with Ctrl-C" not in shown:
            line = demo.stdout.readline()
            assert line, f"the demo stopped: {demo.stderr.read()}"
            shown += line
        assert time.monotonic() - began < 60, "a person sees the building within a minute"
        key = re.search(r"#key=(\S+)", shown).group(1)
        assert f"http://127.0.0.1:{port}/graphql" in shown
        query = '{ model(id: "demo") { kpis { elementCount points { total reporting } } } }'
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as http:
            deadline = time.monotonic() + 60
            while True:
                kpis = http.post("/graphql", json={"query": query}).json()["data"]["model"]["kpis"]
                if kpis["points"]["reporting"] == kpis["points"]["total"] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        assert kpis["elementCount"] > 0 and kpis["points"]["total"] == 2 * 2 * 4 + 2 * 2  # room and slab sensors
        assert kpis["points"]["reporting"] == kpis["points"]["total"]  # the simulated feed reaches every sensor
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        finally:
            if demo.poll() is None:
                demo.kill()
            run_cli("db", "stop", data_dir=tmp_path)


def test_a_sensor_registry_loads_and_dead_letters_replay_once_the_point_exists(tmp_path: Path) -> None:
    import asyncio

    import orjson

    from kgtwin.config import Settings
    from kgtwin.ingest.deadletter import DeadLetterStore
    from kgtwin.ingest.observations import Registry
    from kgtwin.ingest.payloads import readings_from_json
    from kgtwin.ingest.pipeline import Pipeline
    from kgtwin.store import open_store

    model = tmp_path / "b.ifc"
    run_cli("sample", "ifc", str(model), "--storeys", "1", "--spaces-per-storey", "1", data_dir=tmp_path)
    assert run_cli("load", "ifc", str(model), "--model", "b", data_dir=tmp_path).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("points:\n  - {id: p1, class: Temperature_Sensor, unit: blorps}\n")
    refused = run_cli("load", "sensors", str(bad), data_dir=tmp_path)
    assert refused.returncode == 2 and "unknown unit 'blorps'" in refused.stderr

    # A reading for a point nobody has declared yet is dead-lettered...
    async def send() -> None:
        async with await open_store(Settings(data_dir=tmp_path)) as store:
            deadletters = DeadLetterStore(tmp_path / "deadletter.sqlite")
            async with Pipeline(store, await Registry.load(store), deadletters) as pipeline:
                payload = orjson.dumps({"sensor_id": "late-sensor", "value": 4.5, "timestamp": 1767225600000})
                outcome = await pipeline.submit("test", "site/late-sensor", payload, readings_from_json)
                assert outcome.rejected == ["unknown point 'late-sensor'"]

    asyncio.run(send())
    listed = json.loads(run_cli("deadletter", "list", "-f", "json", data_dir=tmp_path).stdout)
    assert [(d["reason"], d["topic"]) for d in listed] == [("unknown point 'late-sensor'", "site/late-sensor")]
    assert "0 replayed into the graph, 1 still rejected" in run_cli("deadletter", "replay", data_dir=tmp_path).stdout

    # ...until the registry declares it; then a replay brings the reading in and empties the store.
    good = tmp_path / "sensors.csv"
    good.write_text("id,class,unit,interval,min,max\nlate-sensor,Pressure_Sensor,kPa,60,0,200\n")
    loaded = run_cli("load", "sensors", str(good), data_dir=tmp_path)
    assert loaded.returncode == 0 and "1 points declared" in loaded.stdout
    assert "1 replayed into the graph, 0 still rejected" in run_cli("deadletter", "replay", data_dir=tmp_path).stdout
    assert json.loads(run_cli("deadletter", "list", "-f", "json", data_dir=tmp_path).stdout) == []
    rows = json.loads(
        run_cli(
            "cypher",
            "-f",
            "json",
            "MATCH (p:Point {pointId: 'late-sensor'}) RETURN p.lastValue AS v, p.unit AS unit, p.maxLimit AS max",
            data_dir=tmp_path,
        ).stdout
    )
    assert rows == [{"v": 4.5, "unit": "kPa", "max": 200.0}]
    shown = run_cli(
        "history",
        "late-sensor",
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-02T00:00:00Z",
        "-f",
        "json",
        data_dir=tmp_path,
    )
    assert json.loads(shown.stdout) == [{"ts": 1767225600000, "value": 4.5}]
    hourly = run_cli(
        "history",
        "late-sensor",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-02",
        "--every",
        "1h",
        "-f",
        "json",
        data_dir=tmp_path,
    )
    assert json.loads(hourly.stdout) == [{"start": 1767225600000, "count": 1, "min": 4.5, "max": 4.5, "avg": 4.5}]
    backwards = run_cli("history", "late-sensor", "--from", "2026-01-02", "--to", "2026-01-01", data_dir=tmp_path)
    assert backwards.returncode == 2 and "--from before --to" in backwards.stderr
    compacted = run_cli("compact", "--older-than", "1d", "--every", "1h", data_dir=tmp_path)
    assert compacted.returncode == 0 and "1 buckets rolled up to 1h intervals" in compacted.stdout
    assert json.loads(
        run_cli(
            "history", "late-sensor", "--from", "2026-01-01", "--to", "2026-01-02", "-f", "json", data_dir=tmp_path
        ).stdout
    ) == [{"ts": 1767225600000, "value": 4.5}]
    assert run_cli("compact", "--older-than", "soon", data_dir=tmp_path).returncode == 2
